//! "Who has the bytes for this digest?" across a bundle and the earlier bundles given with
//! `--base`, so an incremental bundle can still become a complete docker-save tar.

use crate::bundle::reader::{BlobReader, BundleReader, ReadError};
use crate::oci::{Digest, RawManifest};

/// A bundle plus the base bundles that supply its external entries.
pub struct BlobStore<'a> {
    bundles: Vec<&'a BundleReader>,
}

impl<'a> BlobStore<'a> {
    /// The main bundle first, then the bases in the order given.
    pub fn new(main: &'a BundleReader, bases: &'a [BundleReader]) -> BlobStore<'a> {
        BlobStore {
            bundles: std::iter::once(main).chain(bases.iter()).collect(),
        }
    }

    fn holder(&self, digest: &Digest) -> Option<&'a BundleReader> {
        self.bundles
            .iter()
            .copied()
            .find(|b| b.index.carries(digest))
    }

    /// Whether any bundle stores `digest`.
    pub fn has(&self, digest: &Digest) -> bool {
        self.holder(digest).is_some()
    }

    /// A verifying reader over the blob.
    pub fn reader(&self, digest: &Digest, size: u64) -> Result<BlobReader, ReadError> {
        match self.holder(digest) {
            Some(b) => b.blob_reader(digest, size),
            None => self.bundles[0].blob_reader(digest, size),
        }
    }

    /// A manifest's bytes, from whichever bundle stores them.
    pub fn manifest(&self, digest: &Digest) -> Result<RawManifest, ReadError> {
        self.holder(digest)
            .unwrap_or(self.bundles[0])
            .manifest(digest)
    }
}
