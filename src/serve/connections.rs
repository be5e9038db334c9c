//! What a connection may hold, so that no client (or crowd of them) starves the others:
//!
//! - **Timeouts.** A connection must send its first request, and every later request's
//!   headers, within [`HEADER_TIMEOUT`] of the server starting to wait for them; an idle
//!   keep-alive connection is closed after the same time. axum-server switches hyper's
//!   header-read timeout off by default, so idle and slowloris sockets would stay open
//!   for ever, each holding a descriptor.
//! - **A cap on connections** below the descriptor limit (raised to the hard limit at
//!   start). At the cap the accept loop waits for a slot: new clients queue in the listen
//!   backlog instead of failing with `EMFILE`, and the clients already connected, and the
//!   bundle files, keep their descriptors. A slot frees when a connection closes, which
//!   the timeouts guarantee for idle ones.
//! - **Buffers** no larger than one response chunk ([`CHUNK`]), so a client that stops
//!   reading holds about one chunk, whatever it asked for.
//! - **A stall timeout.** A connection on which no byte has moved either way for
//!   [`STALL_TIMEOUT`] is closed: a reader that stopped reading gives its slot and its
//!   chunk back, and an idle HTTP/2 connection (which the header timeout does not cover)
//!   is closed too.

use super::verified::CHUNK;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a connection may take to send a request's headers, and may stay idle between
/// requests. Long enough for a client on a slow link, short enough that a flood of idle
/// sockets drains in seconds.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may go without a byte moving in either direction: long enough
/// for a client on a slow link (a byte a minute is not a transfer), and HTTP/2's pings are
/// off so that they do not count as bytes.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Descriptors kept back from the connection cap: the bundles' files (counted apart),
/// standard streams, the runtime's own, and a margin for accept itself.
const RESERVED: u64 = 64;

/// The most connections served at once, however high the descriptor limit: at about two
/// chunks per stalled connection this bounds what stalled clients can hold to ~0.5 GiB.
const MOST: u64 = 1024;

/// The fewest: a limit too low for this still serves a few clients.
const FEWEST: u64 = 16;

/// Raises the soft limit on open files to the hard limit (as far as the kernel allows)
/// and returns the soft limit in force afterwards.
pub fn raise_descriptor_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    // "No limit" as a soft limit on files is refused by Linux; 2^20 is its usual ceiling.
    let hard = now.maximum.unwrap_or(1 << 20);
    if now.current.is_some_and(|soft| soft < hard) {
        let raised = Rlimit {
            current: Some(hard),
            maximum: now.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!("the open-file limit stays as it was: {e}");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(hard)
}

/// The connection cap for a descriptor limit, with `files` descriptors held by bundles.
pub fn cap(limit: u64, files: u64) -> usize {
    let cap = limit.saturating_sub(RESERVED + files).clamp(FEWEST, MOST);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// hyper's settings: timeouts, and buffers of about one chunk.
pub fn configure(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
) {
    // hyper's minimum buffer is 8 KiB; a request's head must fit in it (64 KiB).
    let buffer = usize::try_from(CHUNK / 4).unwrap_or(64 * 1024);
    builder
        .http1()
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(buffer);
    builder
        .http2()
        .keep_alive_interval(None)
        .max_concurrent_streams(100)
        .max_send_buf_size(usize::try_from(CHUNK).unwrap_or(256 * 1024));
}

/// An acceptor that watches each connection for stalls ([`Watched`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Watching;

impl<I, S> axum_server::accept::Accept<I, S> for Watching {
    type Stream = Watched<I>;
    type Service = S;
    type Future = std::future::Ready<std::io::Result<(Watched<I>, S)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        std::future::ready(Ok((
            Watched {
                inner: stream,
                deadline: Box::pin(tokio::time::sleep(STALL_TIMEOUT)),
            },
            service,
        )))
    }
}

/// A connection's byte stream that fails, once no byte has moved for [`STALL_TIMEOUT`],
/// the read or write that waits: hyper then closes the connection.
pub struct Watched<S> {
    inner: S,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<S> Watched<S> {
    fn moved(&mut self) {
        let next = tokio::time::Instant::now() + STALL_TIMEOUT;
        self.deadline.as_mut().reset(next);
    }

    /// For a read or write that is pending: the error once the connection has stalled
    /// (and otherwise a wake-up registered for the deadline).
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<T>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no byte moved for {} s", STALL_TIMEOUT.as_secs()),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// A write's outcome: progress moves the deadline, waiting checks it.
    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<usize>> {
        match polled {
            Poll::Ready(Ok(n)) if n > 0 => {
                self.moved();
                Poll::Ready(Ok(n))
            }
            Poll::Pending => self.stalled(cx),
            other => other,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending => this.stalled(cx),
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.moved();
                }
                Poll::Ready(result)
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.wrote(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.wrote(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.stalled(cx),
            ready => ready,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A make-service that serves at most a fixed number of connections at once: it is not
/// ready until a slot is free, and each connection's service holds its slot.
pub struct Capped<M> {
    inner: M,
    slots: Arc<Semaphore>,
    cap: usize,
    /// Whether the cap was reached and not yet left (one log line per episode).
    full: Arc<AtomicBool>,
    waiting: Option<Pin<Box<dyn Future<Output = OwnedSemaphorePermit> + Send>>>,
    held: Option<OwnedSemaphorePermit>,
}

impl<M> Capped<M> {
    /// `inner`, serving at most `cap` connections at once.
    pub fn new(inner: M, cap: usize) -> Capped<M> {
        Capped {
            inner,
            slots: Arc::new(Semaphore::new(cap)),
            cap,
            full: Arc::default(),
            waiting: None,
            held: None,
        }
    }
}

impl<M: Clone> Clone for Capped<M> {
    fn clone(&self) -> Self {
        Capped {
            inner: self.inner.clone(),
            slots: self.slots.clone(),
            cap: self.cap,
            full: self.full.clone(),
            waiting: None,
            held: None,
        }
    }
}

impl<M, T> tower_service::Service<T> for Capped<M>
where
    M: tower_service::Service<T>,
    M::Future: Send + 'static,
{
    type Response = Slot<M::Response>;
    type Error = M::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, M::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), M::Error>> {
        if self.held.is_none() {
            if self.waiting.is_none() {
                match self.slots.clone().try_acquire_owned() {
                    Ok(permit) => self.held = Some(permit),
                    Err(_) => {
                        if !self.full.swap(true, Ordering::Relaxed) {
                            tracing::warn!(
                                "{} connections open, the most served at once: new connections wait until one closes (idle ones close after {} s)",
                                self.cap,
                                HEADER_TIMEOUT.as_secs()
                            );
                        }
                        let slots = self.slots.clone();
                        self.waiting = Some(Box::pin(async move {
                            slots
                                .acquire_owned()
                                .await
                                .expect("the connection slots are never closed")
                        }));
                    }
                }
            }
            if let Some(waiting) = self.waiting.as_mut() {
                let permit = std::task::ready!(waiting.as_mut().poll(cx));
                self.waiting = None;
                self.held = Some(permit);
                if self.full.swap(false, Ordering::Relaxed) {
                    tracing::info!("a connection slot is free again");
                }
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, target: T) -> Self::Future {
        let permit = self.held.take().map(Arc::new);
        let made = self.inner.call(target);
        Box::pin(async move {
            let inner = made.await?;
            Ok(Slot {
                inner,
                _permit: permit,
            })
        })
    }
}

/// One connection's service, holding its slot until the connection (and every clone of
/// the service its requests made) is gone.
#[derive(Clone)]
pub struct Slot<S> {
    inner: S,
    _permit: Option<Arc<OwnedSemaphorePermit>>,
}

impl<S, R> tower_service::Service<R> for Slot<S>
where
    S: tower_service::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> S::Future {
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_files_and_stays_in_bounds() {
        assert_eq!(cap(256, 2), 190);
        assert_eq!(cap(1024, 0), 960);
        assert_eq!(cap(1 << 20, 10), 1024);
        assert_eq!(cap(40, 3), 16);
    }
}
