//! The bundle: one zip holding every blob once under `blobs/sha256/<hex>` (stored, never
//! compressed), manifests as blobs, and `outrider.json`, the index. `bundle-format.md`
//! is the specification; [`index`] mirrors it.
//!
//! Each file imports only files below it:
//! - the vocabulary: `index` (the index types), `entry_name`, `read_error`,
//!   `verified_bytes` (the `Bytes` trait the checks read through), `zip_layout`,
//!   `blob_reader`, `checksums`;
//! - the pure rules, on the index types alone: `referrers`, `validate`, `image_kind`,
//!   `partial_index`, `volumes`;
//! - the zip reader and its integrity checks: `cut`, `zip_strict`, `zip_entries`,
//!   `index_entry`, `charon` (a docker-charon payload read into an index for the same
//!   rules), `volume_file`, then `reader`, then `volume_set`;
//! - on top, `agreement`: the index against the manifests' verified bytes.
//!
//! `writer` stands beside the reader on the vocabulary. This file only declares and
//! re-exports.

pub mod agreement;
mod blob_reader;
mod charon;
pub use charon::PAYLOAD_TOOL as CHARON_PAYLOAD_TOOL;
pub mod checksums;
mod cut;
mod entry_name;
pub mod image_kind;
mod in_order_sum;
pub mod index;
mod index_entry;
pub mod partial_index;
mod read_error;
pub mod reader;
pub mod referrers;
pub mod validate;
mod verified_bytes;
mod volume_file;
pub mod volume_set;
pub mod volumes;
pub mod writer;
mod zip_entries;
mod zip_layout;
mod zip_strict;

pub use entry_name::{INDEX_ENTRY, blob_entry};
