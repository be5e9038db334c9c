//! Blobs are served only as verified bytes, and each is hashed once. The first request
//! for a blob leads: it streams through the bundle's verifying reader, which fails the
//! read that would complete a bad blob instead of handing on its last bytes. A request
//! that comes while the leader streams follows: it streams the same bytes unhashed but
//! holds back the last 1 MiB until the leader's verdict (or, when the leader's client went
//! away, until it has hashed the blob itself, once for all who wait). So a client never
//! receives a damaged blob whole, and eight clients pulling one new base layer cost one
//! hash, not eight. A range waits for the verdict before its first byte. A blob found
//! right is served without hashing from then on; one found damaged is refused, and the
//! log names it and the file that holds it.

use super::catalog::{BlobSource, Catalog};
use crate::oci::{Descriptor, Digest};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{Notify, OnceCell};

/// A stream of a blob's bytes, as served.
pub type BlobBody = std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Bytes a follower holds back until the verdict.
const HELD_BACK: u64 = 1024 * 1024;

/// The check of one blob.
#[derive(Default)]
struct Check {
    /// The verdict, once known.
    verdict: OnceCell<Result<(), String>>,
    /// Whether a request is hashing the blob as it streams.
    leading: AtomicBool,
    /// Woken when the verdict is set or the leader goes away.
    changed: Notify,
}

/// What is known of each blob's bytes so far.
#[derive(Default)]
pub struct Verification {
    checks: Mutex<HashMap<Digest, Arc<Check>>>,
}

/// The leader's hold on a check: gives the lead up when dropped before a verdict (its
/// client went away), so a follower hashes instead.
struct Lead {
    check: Arc<Check>,
}

impl Drop for Lead {
    fn drop(&mut self) {
        self.check.leading.store(false, Ordering::SeqCst);
        self.check.changed.notify_waiters();
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

/// The leader's verdict: recorded, logged, and told to those waiting.
fn settle(check: &Check, digest: &Digest, verdict: Result<(), String>) {
    report(digest, &verdict);
    let _ = check.verdict.set(verdict);
    check.changed.notify_waiters();
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
        match self.check(digest).verdict.get() {
            Some(Err(reason)) => Some(reason.clone()),
            _ => None,
        }
    }

    /// The verdict on `digest`: the one known, the leader's when one streams, else a hash
    /// of the whole blob made here (once, shared by every request that waits).
    async fn verdict(
        check: Arc<Check>,
        catalog: Arc<Catalog>,
        digest: Digest,
        at: BlobSource,
    ) -> Result<(), String> {
        loop {
            let changed = check.changed.notified();
            if let Some(v) = check.verdict.get() {
                return v.clone();
            }
            if !check.leading.load(Ordering::SeqCst) {
                let v = check
                    .verdict
                    .get_or_init(|| async {
                        let d = digest.clone();
                        let verdict = tokio::task::spawn_blocking(move || {
                            catalog.bundles[at.bundle]
                                .verify_blob(&d, at.size)
                                .map_err(|e| e.to_string())
                        })
                        .await
                        .unwrap_or_else(|e| Err(e.to_string()));
                        report(&digest, &verdict);
                        verdict
                    })
                    .await
                    .clone();
                check.changed.notify_waiters();
                return v;
            }
            changed.await;
        }
    }

    /// The whole blob: unhashed when verified before; hashed as it streams when this
    /// request leads; else streamed with its last bytes held back until the verdict.
    pub fn whole(
        self: &Arc<Self>,
        catalog: &Arc<Catalog>,
        digest: &Digest,
        at: BlobSource,
    ) -> BlobBody {
        let reader = &catalog.bundles[at.bundle];
        let check = self.check(digest);
        if matches!(check.verdict.get(), Some(Ok(()))) {
            return Box::pin(reader.range_stream(digest, 0, at.size));
        }
        if check
            .leading
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            let desc = Descriptor {
                media_type: String::new(),
                digest: digest.clone(),
                size: at.size,
            };
            let inner = Box::pin(reader.blob_stream(&desc));
            let lead = Some((Lead { check }, digest.clone()));
            return Box::pin(futures_util::stream::unfold(
                (inner, lead),
                |(mut inner, lead)| async move {
                    match (inner.next().await, lead) {
                        (Some(Ok(chunk)), lead) => Some((Ok(chunk), (inner, lead))),
                        (Some(Err(e)), Some((l, d))) => {
                            settle(&l.check, &d, Err(e.to_string()));
                            Some((Err(e), (inner, None)))
                        }
                        (Some(Err(e)), None) => Some((Err(e), (inner, None))),
                        (None, Some((l, d))) => {
                            settle(&l.check, &d, Ok(()));
                            None
                        }
                        (None, None) => None,
                    }
                },
            ));
        }
        let held = at.size.min(HELD_BACK);
        let head = reader.range_stream(digest, 0, at.size - held);
        let (catalog, digest) = (catalog.clone(), digest.clone());
        let tail = futures_util::stream::once(async move {
            let b = at.bundle;
            match Self::verdict(check, catalog.clone(), digest.clone(), at).await {
                Ok(()) => catalog.bundles[b]
                    .range_stream(&digest, at.size - held, held)
                    .boxed(),
                Err(e) => {
                    futures_util::stream::once(async move { Err(std::io::Error::other(e)) }).boxed()
                }
            }
        })
        .flatten();
        Box::pin(head.chain(tail))
    }

    /// `len` bytes from `start`, once the blob's verdict is known to be good.
    pub async fn range(
        self: &Arc<Self>,
        catalog: &Arc<Catalog>,
        digest: &Digest,
        at: BlobSource,
        start: u64,
        len: u64,
    ) -> Result<BlobBody, String> {
        let check = self.check(digest);
        Self::verdict(check, catalog.clone(), digest.clone(), at).await?;
        Ok(Box::pin(
            catalog.bundles[at.bundle].range_stream(digest, start, len),
        ))
    }
}
