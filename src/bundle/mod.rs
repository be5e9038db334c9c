//! The bundle: one zip holding every blob once under `blobs/sha256/<hex>` (stored, never
//! compressed), manifests as blobs, and `outrider.json`, the index. `bundle-format.md`
//! is the specification; [`index`] mirrors it.

pub mod agreement;
mod blob_reader;
mod charon;
pub mod checksums;
mod cut;
pub mod image_kind;
pub mod index;
mod index_entry;
pub mod partial_index;
mod read_error;
pub mod reader;
pub mod referrers;
pub mod validate;
mod volume_file;
pub mod volume_set;
pub mod volumes;
pub mod writer;
mod zip_entries;
mod zip_layout;
mod zip_strict;

/// Name of the index entry inside a bundle.
pub const INDEX_ENTRY: &str = "outrider.json";

/// Entry name of a blob.
pub fn blob_entry(digest: &crate::oci::Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}
