//! Blobs are served only as verified bytes, each is hashed once, and no client's pace
//! decides anyone else's. The first request for a blob starts its check: a task of its
//! own reads the blob through the bundle's verifying reader at disk speed, whoever asked
//! and however slowly they read. Every request (the first included) streams from the file
//! behind that check's progress, and the last [`CHUNK`] of the blob only once the check
//! has passed: the check's verifying reader fails the read that would complete a bad
//! blob, so a client never receives a damaged blob whole. A blob found right is served
//! without hashing from then on; one found damaged is refused, and the log names it and
//! the file that holds it.
//!
//! Responses read the bundle [`CHUNK`] bytes at a time, only when the client has taken
//! the last chunk (the body is polled by hyper only when it can send), so a client that
//! stops reading holds one chunk, not the blob.

use super::catalog::{BlobSource, Catalog};
use crate::oci::Digest;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{Semaphore, watch};

/// A stream of a blob's bytes, as served.
pub type BlobBody = std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Bytes a response reads at a time: what a stalled client holds, and what is held back
/// from every client until the check of a blob has passed.
pub const CHUNK: u64 = 256 * 1024;

/// Blobs checked at once: checks are disk-bound, and each holds a read buffer.
const CHECKS_AT_ONCE: usize = 4;

/// Read size of a check.
const CHECK_READ: usize = 1024 * 1024;

/// Chunk reads from the bundles at once, across all responses: each borrows a 1 MiB
/// buffer (the bundle reader's) and a blocking thread while it reads, so a crowd arriving
/// together queues here instead of holding hundreds of them at the same moment.
const READS_AT_ONCE: usize = 16;

/// How far the check of one blob has got.
#[derive(Clone, Debug, Default)]
struct Progress {
    /// Bytes read (and hashed) so far.
    read: u64,
    /// The verdict, once known.
    verdict: Option<Result<(), String>>,
}

/// The check of one blob.
struct Check {
    progress: watch::Sender<Progress>,
    /// Whether its check has been started.
    started: AtomicBool,
}

impl Default for Check {
    fn default() -> Check {
        Check {
            progress: watch::Sender::new(Progress::default()),
            started: AtomicBool::new(false),
        }
    }
}

/// What is known of each blob's bytes so far.
pub struct Verification {
    checks: Mutex<HashMap<Digest, Arc<Check>>>,
    slots: Arc<Semaphore>,
    reads: Arc<Semaphore>,
}

impl Default for Verification {
    fn default() -> Verification {
        Verification {
            checks: Mutex::default(),
            slots: Arc::new(Semaphore::new(CHECKS_AT_ONCE)),
            reads: Arc::new(Semaphore::new(READS_AT_ONCE)),
        }
    }
}

/// Logs a verdict: the one line that names a damaged blob.
fn report(digest: &Digest, verdict: &Result<(), String>) {
    match verdict {
        Ok(()) => tracing::debug!("blob {digest} verified; later reads are not hashed again"),
        Err(reason) => {
            tracing::error!("blob {digest} failed its check and is not served: {reason}")
        }
    }
}

/// Reads the whole blob through the verifying reader, telling its progress as it goes.
fn check_blob(
    check: &Check,
    catalog: &Catalog,
    digest: &Digest,
    at: BlobSource,
) -> Result<(), String> {
    let mut reader = catalog.bundles[at.bundle]
        .blob_reader(digest, at.size)
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0; CHECK_READ];
    let mut read = 0;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                read += n as u64;
                check.progress.send_modify(|p| p.read = read);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

impl Verification {
    fn check(&self, digest: &Digest) -> Arc<Check> {
        self.checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(digest.clone())
            .or_default()
            .clone()
    }

    /// Why `digest` is refused, when it was found damaged.
    pub fn damage(&self, digest: &Digest) -> Option<String> {
        match &self.check(digest).progress.borrow().verdict {
            Some(Err(reason)) => Some(reason.clone()),
            _ => None,
        }
    }

    /// The progress of `digest`'s check, started here when no request has started it;
    /// `None` once the blob is known good.
    fn gate(
        &self,
        catalog: &Arc<Catalog>,
        digest: &Digest,
        at: BlobSource,
    ) -> Option<watch::Receiver<Progress>> {
        let check = self.check(digest);
        if matches!(check.progress.borrow().verdict, Some(Ok(()))) {
            return None;
        }
        let watching = check.progress.subscribe();
        if !check.started.swap(true, Ordering::SeqCst) {
            let (catalog, digest, slots) = (catalog.clone(), digest.clone(), self.slots.clone());
            // A task of its own: it runs to its verdict even when every client goes away.
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await;
                let c = check.clone();
                let d = digest.clone();
                let verdict = tokio::task::spawn_blocking(move || check_blob(&c, &catalog, &d, at))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
                report(&digest, &verdict);
                check.progress.send_modify(|p| p.verdict = Some(verdict));
            });
        }
        Some(watching)
    }

    /// `len` bytes of `digest` from `start` (the whole blob: 0 and its size), read as the
    /// client takes them, and never past what its check has reached.
    pub fn body(
        self: &Arc<Self>,
        catalog: &Arc<Catalog>,
        digest: &Digest,
        at: BlobSource,
        start: u64,
        len: u64,
    ) -> BlobBody {
        let reading = Reading {
            catalog: catalog.clone(),
            digest: digest.clone(),
            at,
            pos: start,
            end: start.saturating_add(len).min(at.size),
            gate: self.gate(catalog, digest, at),
            reads: self.reads.clone(),
        };
        Box::pin(futures_util::stream::unfold(
            Some(reading),
            |state| async move {
                let mut reading = state?;
                match reading.next().await {
                    Ok(Some(chunk)) => Some((Ok(chunk), Some(reading))),
                    Ok(None) => None,
                    Err(e) => Some((Err(e), None)),
                }
            },
        ))
    }
}

/// One response's read of a blob.
struct Reading {
    catalog: Arc<Catalog>,
    digest: Digest,
    at: BlobSource,
    pos: u64,
    end: u64,
    /// The check to stay behind, until the blob is known good.
    gate: Option<watch::Receiver<Progress>>,
    /// Turns to read, shared by every response.
    reads: Arc<Semaphore>,
}

impl Reading {
    /// Where reads may go up to now: the whole blob once known good, else what the check
    /// has read, short of the last chunk.
    fn limit(&mut self) -> std::io::Result<u64> {
        let Some(gate) = self.gate.as_mut() else {
            return Ok(self.end);
        };
        let progress = gate.borrow_and_update();
        match &progress.verdict {
            Some(Ok(())) => {
                drop(progress);
                self.gate = None;
                Ok(self.end)
            }
            Some(Err(e)) => Err(std::io::Error::other(e.clone())),
            None => Ok(progress.read.min(self.at.size.saturating_sub(CHUNK))),
        }
    }

    /// The next chunk, waiting for the check when it is behind.
    async fn next(&mut self) -> std::io::Result<Option<Bytes>> {
        loop {
            if self.pos >= self.end {
                return Ok(None);
            }
            let limit = self.limit()?.min(self.end);
            if limit > self.pos {
                let len = (limit - self.pos).min(CHUNK);
                let chunk = self.read(len).await?;
                self.pos += len;
                return Ok(Some(chunk));
            }
            if let Some(gate) = self.gate.as_mut()
                && gate.changed().await.is_err()
            {
                return Err(std::io::Error::other("the blob's check stopped"));
            }
        }
    }

    /// `len` bytes at the current position, unhashed (the check hashes).
    async fn read(&self, len: u64) -> std::io::Result<Bytes> {
        let _turn = self.reads.acquire().await.map_err(std::io::Error::other)?;
        let reader = &self.catalog.bundles[self.at.bundle];
        let mut stream = Box::pin(reader.range_stream(&self.digest, self.pos, len));
        match stream.next().await {
            // The bundle reader's buffer is larger than a chunk: a copy of the right
            // size is what the client holds, and the buffer is freed now.
            Some(Ok(b)) if b.len() as u64 == len => Ok(Bytes::copy_from_slice(&b)),
            Some(Ok(b)) => Err(std::io::Error::other(format!(
                "{} bytes read where {len} were expected",
                b.len()
            ))),
            Some(Err(e)) => Err(e),
            None => Err(std::io::Error::other("the bundle ended early")),
        }
    }
}
