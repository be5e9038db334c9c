//! Why a local source (a directory or a tar: OCI layout, oci-archive, docker-archive)
//! cannot be read: one error for the file plumbing, the naming rules and each local
//! source, so that none of them imports another for it.

use std::path::PathBuf;

/// Why a local source cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// I/O on a file.
    #[error("reading `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Not a layout or archive of the kind named, or malformed.
    #[error("`{path}` is not a usable image source: {reason}")]
    Invalid {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No image matches the reference asked for.
    #[error("`{path}` has no image `{tag}` (it has: {available})")]
    NoTag {
        /// The directory or file.
        path: PathBuf,
        /// The reference asked for.
        tag: String,
        /// References present.
        available: String,
    },
    /// Several images match the reference asked for (or none was given).
    #[error("`{path}` {what} as `{input}:REF`, REF one of: {choices}")]
    Several {
        /// The directory or file.
        path: PathBuf,
        /// What was asked, and that one must be named.
        what: String,
        /// The source as the user writes it (`docker-archive:FILE`).
        input: String,
        /// What to name instead.
        choices: String,
    },
    /// A blob fails its digest.
    #[error("`{path}`: {source}")]
    Content {
        /// The directory or file.
        path: PathBuf,
        /// The failed check.
        source: crate::oci::DigestError,
    },
}
