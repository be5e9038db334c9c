//! Why a bundle cannot be read: one error type for every reader path, each variant naming
//! the file and what is wrong with it. It sits below every reader file (the zip checks,
//! `cut`, the volumes, the reader) and imports none of them.

use crate::oci::{Damaged, Digest};
use std::path::PathBuf;

/// What to do about a file cut short, for every message that names one.
pub const FIX: &str = "copy it again from the packing side, and check the copy with `sha256sum -c SHA256SUMS` in its folder";

/// Why a bundle cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// I/O on the file.
    #[error("reading bundle `{path}`: {source}")]
    Io {
        /// The bundle.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Not a readable zip (truncated, corrupt directory).
    #[error("`{path}` is not a complete bundle: {reason}")]
    NotZip {
        /// The bundle.
        path: PathBuf,
        /// What the zip reader said.
        reason: String,
    },
    /// The file ends early: a copy that stopped before the end (named so by `cut`).
    #[error("`{path}`: {}; {}", cut_reason(*have, *want), FIX)]
    Cut {
        /// The file.
        path: PathBuf,
        /// Its size.
        have: u64,
        /// The size it should have at least, when anything says.
        want: Option<u64>,
    },
    /// An entry that does not belong in a bundle.
    #[error("`{path}`: unexpected entry `{name}`: {reason}")]
    BadEntry {
        /// The bundle.
        path: PathBuf,
        /// Entry name (sanitised).
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The index is missing, damaged, invalid, or of another format version.
    #[error("`{path}`: bad index: {reason}")]
    Index {
        /// The bundle.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The bundle's signature is missing, wrong, or by a key that is not trusted.
    #[error("`{path}` is refused: {reason}")]
    Untrusted {
        /// The bundle.
        path: PathBuf,
        /// Why, and what to do.
        reason: String,
    },
    /// Stored bytes fail their digest, size or CRC-32.
    #[error(transparent)]
    Damaged(#[from] Damaged),
    /// A blob lives in a volume that is not here.
    #[error("{digest} is in volume {volume} of `{name}`, which is missing")]
    MissingVolume {
        /// The blob.
        digest: Digest,
        /// Its volume.
        volume: u32,
        /// The set's name.
        name: String,
    },
}

/// What a cut file lacks, in words.
fn cut_reason(have: u64, want: Option<u64>) -> String {
    match want {
        Some(want) => format!("the copy stopped early ({have} of at least {want} bytes)"),
        None => format!(
            "the end of the file is missing ({have} bytes, no zip directory at its end): the copy stopped early or the file is not a bundle"
        ),
    }
}
