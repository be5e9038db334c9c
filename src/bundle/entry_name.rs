//! The names of a bundle's zip entries that every layer spells: the index's and a blob's.
//! Kept apart from the reader and the writer so the rules (`validate`), the zip checks and
//! the writer all take them from below, and `mod.rs` only re-exports them.

use crate::oci::Digest;

/// Name of the index entry inside a bundle.
pub const INDEX_ENTRY: &str = "outrider.json";

/// Entry name of a blob.
pub fn blob_entry(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}
