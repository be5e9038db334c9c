//! Where the checks of an index against its manifests get bytes: the [`Bytes`] trait, which
//! the bundle reader, the blob store and a push's destination implement. It sits below
//! both the referrer rules and the agreement checks, so neither imports the other for it.

use crate::oci::{Descriptor, Digest, RawManifest};

/// Largest config read to check a platform label. Image configs are a few KiB; one this
/// large is not an image config.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// Where the checks get bytes. `None` means "not at hand" (an external manifest or blob,
/// held by the far side): such an entry is checked where its bytes are used instead.
pub trait Bytes {
    /// A manifest's verified bytes.
    fn manifest(&self, digest: &Digest) -> Option<Result<RawManifest, String>>;
    /// A blob's verified bytes, read whole (only called for configs, at most
    /// `MAX_CONFIG_BYTES`).
    fn small_blob(&self, desc: &Descriptor) -> Option<Result<Vec<u8>, String>>;
}
