//! Blobs are served only as verified bytes. The first whole read of a blob streams through
//! the bundle's verifying reader, which fails the read that would complete a bad blob
//! instead of handing on its last bytes, so a client never receives a damaged blob whole;
//! a blob read whole and found right is remembered and later reads are not re-hashed. A
//! range of a blob not yet verified waits for one whole check (shared by every request
//! that asks meanwhile). A blob found damaged is refused from then on, and the log names
//! it and the file that holds it.

use super::catalog::{BlobSource, Catalog};
use crate::oci::{Descriptor, Digest};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OnceCell;

/// A stream of a blob's bytes, as served.
pub type BlobBody = std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// One whole-blob check, shared by the requests that wait for it.
type WholeCheck = Arc<OnceCell<Result<(), String>>>;

/// What is known of each blob's bytes so far.
#[derive(Default)]
pub struct Verification {
    verified: Mutex<HashSet<Digest>>,
    damaged: Mutex<HashMap<Digest, String>>,
    whole_checks: Mutex<HashMap<Digest, WholeCheck>>,
}

impl Verification {
    /// Why `digest` is refused, when it was found damaged.
    pub fn damage(&self, digest: &Digest) -> Option<String> {
        self.damaged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(digest)
            .cloned()
    }

    fn is_verified(&self, digest: &Digest) -> bool {
        self.verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(digest)
    }

    fn record(&self, digest: &Digest, result: Result<(), String>) {
        match result {
            Ok(()) => {
                tracing::debug!("blob {digest} verified; later reads are not hashed again");
                self.verified
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(digest.clone());
            }
            Err(reason) => {
                tracing::error!("blob {digest} failed its check and is not served: {reason}");
                self.damaged
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(digest.clone(), reason);
            }
        }
    }

    /// The whole blob: re-read without hashing when verified before, else verified as it
    /// streams (and remembered).
    pub fn whole(self: &Arc<Self>, catalog: &Catalog, digest: &Digest, at: BlobSource) -> BlobBody {
        let reader = &catalog.bundles[at.bundle];
        if self.is_verified(digest) {
            return Box::pin(reader.range_stream(digest, 0, at.size));
        }
        let desc = Descriptor {
            media_type: String::new(),
            digest: digest.clone(),
            size: at.size,
        };
        let inner = Box::pin(reader.blob_stream(&desc));
        let state = (inner, Some((self.clone(), digest.clone())));
        Box::pin(futures_util::stream::unfold(
            state,
            |(mut inner, watch)| async move {
                match inner.next().await {
                    Some(Ok(chunk)) => Some((Ok(chunk), (inner, watch))),
                    Some(Err(e)) => {
                        if let Some((v, d)) = watch {
                            v.record(&d, Err(e.to_string()));
                        }
                        Some((Err(e), (inner, None)))
                    }
                    None => {
                        if let Some((v, d)) = watch {
                            v.record(&d, Ok(()));
                        }
                        None
                    }
                }
            },
        ))
    }

    /// `len` bytes from `start`, after the whole blob was verified once.
    pub async fn range(
        self: &Arc<Self>,
        catalog: &Arc<Catalog>,
        digest: &Digest,
        at: BlobSource,
        start: u64,
        len: u64,
    ) -> Result<BlobBody, String> {
        if !self.is_verified(digest) {
            let cell = self
                .whole_checks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(digest.clone())
                .or_default()
                .clone();
            let result = cell
                .get_or_init(|| {
                    let catalog = catalog.clone();
                    let digest = digest.clone();
                    let me = self.clone();
                    async move {
                        let d = digest.clone();
                        let result = tokio::task::spawn_blocking(move || {
                            catalog.bundles[at.bundle]
                                .verify_blob(&d, at.size)
                                .map_err(|e| e.to_string())
                        })
                        .await
                        .unwrap_or_else(|e| Err(e.to_string()));
                        me.record(&digest, result.clone());
                        result
                    }
                })
                .await;
            result.clone()?;
        }
        Ok(Box::pin(
            catalog.bundles[at.bundle].range_stream(digest, start, len),
        ))
    }
}
