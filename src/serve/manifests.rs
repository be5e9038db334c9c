//! Verified manifest bytes kept in memory, up to [`BUDGET`] bytes (least recently served
//! out first), so a manifest GET costs a copy of a reference, not a read, a hash and a
//! parse: a 4 MiB manifest read whole and re-hashed on every GET held 4 MiB per stalled
//! client and 8 ms of CPU per request. Every response of one manifest shares one buffer.
//! A manifest not in memory is read through the verifying reader, one at a time, so a
//! crowd asking for it at once costs one read and one buffer.

use super::catalog::Catalog;
use crate::oci::Digest;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Semaphore;

/// Bytes of manifests kept: sixteen of the largest a bundle may hold (4 MiB), or
/// thousands of usual ones (2–20 KiB).
pub const BUDGET: u64 = 64 * 1024 * 1024;

#[derive(Default)]
struct Kept {
    entries: HashMap<Digest, (Bytes, u64)>,
    bytes: u64,
    /// Incremented on every use: an entry's number says when it was last served.
    clock: u64,
}

/// The manifests in memory.
pub struct Manifests {
    kept: Mutex<Kept>,
    /// One read at a time: those waiting find it kept when it is their turn.
    reading: Semaphore,
}

impl Default for Manifests {
    fn default() -> Manifests {
        Manifests {
            kept: Mutex::default(),
            reading: Semaphore::new(1),
        }
    }
}

impl Manifests {
    fn kept(&self, digest: &Digest) -> Option<Bytes> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.clock += 1;
        let now = kept.clock;
        let (bytes, used) = kept.entries.get_mut(digest)?;
        *used = now;
        Some(bytes.clone())
    }

    fn keep(&self, digest: &Digest, bytes: &Bytes) {
        let size = bytes.len() as u64;
        if size > BUDGET {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        while kept.bytes + size > BUDGET {
            let Some(oldest) = kept
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(d, _)| d.clone())
            else {
                break;
            };
            if let Some((gone, _)) = kept.entries.remove(&oldest) {
                kept.bytes -= gone.len() as u64;
            }
        }
        kept.clock += 1;
        let now = kept.clock;
        if kept
            .entries
            .insert(digest.clone(), (bytes.clone(), now))
            .is_none()
        {
            kept.bytes += size;
        }
    }

    /// The verified bytes of manifest `digest`, stored in bundle `bundle`.
    pub async fn bytes(
        &self,
        catalog: &Arc<Catalog>,
        bundle: usize,
        digest: &Digest,
    ) -> Result<Bytes, String> {
        if let Some(b) = self.kept(digest) {
            return Ok(b);
        }
        let _turn = self.reading.acquire().await.map_err(|e| e.to_string())?;
        if let Some(b) = self.kept(digest) {
            return Ok(b);
        }
        let (c, d) = (catalog.clone(), digest.clone());
        let read = tokio::task::spawn_blocking(move || c.bundles[bundle].manifest(&d))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        self.keep(digest, &read.bytes);
        Ok(read.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        format!("sha256:{}", hex::encode([n; 32]))
            .parse()
            .expect("digest")
    }

    #[test]
    fn the_least_recently_served_go_first_and_the_budget_holds() {
        let m = Manifests::default();
        let quarter = Bytes::from(vec![0; (BUDGET / 4) as usize]);
        for n in 0..4 {
            m.keep(&digest(n), &quarter);
        }
        assert!(m.kept(&digest(0)).is_some());
        m.keep(&digest(4), &quarter);
        assert!(
            m.kept(&digest(1)).is_none(),
            "the least recently served left"
        );
        assert!(m.kept(&digest(0)).is_some() && m.kept(&digest(4)).is_some());
        let kept = m.kept.lock().expect("lock");
        assert_eq!(kept.bytes, BUDGET);
        drop(kept);
        m.keep(&digest(9), &Bytes::from(vec![0; BUDGET as usize + 1]));
        assert!(
            m.kept(&digest(9)).is_none(),
            "larger than the budget: not kept"
        );
    }
}
