//! Why a pack failed: shared by the pack's steps (layout, blob fetch, the write) and
//! defined below them, so none imports it from the routine that calls it.

use crate::bundle::writer::WriteError;
use crate::oci::DigestError;
use crate::sources::SourceError;

/// Why a pack failed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Writing the bundle failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Reading a blob failed.
    #[error("blob {digest} from `{repo}`: {source}")]
    Source {
        /// The blob.
        digest: crate::oci::Digest,
        /// Its repository.
        repo: String,
        /// The cause.
        source: Box<SourceError>,
    },
    /// The volume size cannot hold the bundle's index and headers.
    #[error("{0}")]
    Volumes(String),
    /// A blob's bytes were not what its descriptor promised.
    #[error("blob from `{repo}` refused: {source}")]
    Content {
        /// Its repository.
        repo: String,
        /// The failed check.
        source: DigestError,
    },
}
