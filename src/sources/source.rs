//! The one contract every image source keeps — a registry, an OCI layout directory or
//! archive, a `docker save` tar, a docker-charon payload: resolve a reference to its top
//! manifest, read a manifest by descriptor, list what it holds, open a blob as a stream.
//! `plan` and `copy` see sources only through [`Source`]; which kind a source is, only
//! `location.rs` knows (it parses the user's text and opens one).
//!
//! Abilities only some sources have (tags beside the image, the referrers API, blobs the
//! far side already holds) are default methods whose default answers "none here".

use super::local_error::LocalError;
use crate::oci::artifact::Referrer;
use crate::oci::{Descriptor, Digest, ImageRef, RawManifest};
use crate::registry::RegistryError;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use std::collections::HashMap;
use std::sync::Arc;

/// A failure reading from a source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// From a registry.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The reference cannot name an image.
    #[error(transparent)]
    Reference(#[from] crate::oci::ReferenceError),
    /// From a local directory or tar.
    #[error(transparent)]
    Local(#[from] LocalError),
    /// From a bundle read as a source (a docker-charon payload).
    #[error(transparent)]
    Bundle(#[from] crate::bundle::reader::ReadError),
    /// A chart that cannot be read or resolved.
    #[error(transparent)]
    Chart(#[from] crate::charts::ChartError),
    /// A chart repository or file URL answered badly, or not at all.
    #[error("fetching `{url}`: {reason}")]
    Fetch {
        /// What was asked for (never with credentials).
        url: String,
        /// What went wrong.
        reason: String,
        /// Whether trying again could help (a broken connection, a 5xx).
        transient: bool,
    },
    /// A stream from a bundle broke or failed its check.
    #[error("reading `{path}`: {source}")]
    BundleRead {
        /// The bundle.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl SourceError {
    /// Whether trying again could help (a broken connection, not a wrong digest).
    pub fn is_transient(&self) -> bool {
        match self {
            SourceError::Registry(e) => e.is_transient(),
            SourceError::Fetch { transient, .. } => *transient,
            _ => false,
        }
    }

    /// The failure this source shares with every image read from it (a registry that is
    /// unreachable, untrusted, or refuses the credentials): reported once for all.
    pub fn shared_failure(&self) -> Option<&Arc<RegistryError>> {
        match self {
            SourceError::Registry(RegistryError::Shared(e)) => Some(e),
            _ => None,
        }
    }
}

/// A blob's bytes as they arrive; the caller verifies them.
pub type BlobStream = BoxStream<'static, Result<Bytes, SourceError>>;

/// Manifests already at hand (from `--since` bundles), by digest: a source that can tell
/// a reference's digest cheaply uses one of these instead of reading it again.
pub type Known = HashMap<Digest, RawManifest>;

/// What a reference resolved to.
#[derive(Debug)]
pub struct Resolved {
    /// The image as its source names it (its repository is where the rest is read).
    pub name: ImageRef,
    /// The manifest the reference names.
    pub top: RawManifest,
    /// The reference named this manifest by its digest, which must resolve at the far
    /// side too: an index is then carried whole.
    pub pinned: bool,
    /// What the user should hear about how it was found (a manifest built for a legacy
    /// `docker save` tar, an image named by its ID).
    pub notes: Vec<String>,
}

/// One image a source holds, as a reference can name it.
#[derive(Clone, Debug)]
pub struct Held {
    /// Its names as the source writes them, preferred first (full references before bare
    /// tags where a producer writes both).
    pub names: Vec<String>,
    /// Its ID: the manifest digest (OCI layout, payload) or the image ID (`docker save`).
    pub id: Digest,
}

/// Where `pack` reads images: one value per opened source, shared by every image read
/// from it. Methods return boxed futures so that `Arc<dyn Source>` works.
pub trait Source: Send + Sync {
    /// `docker.io`, `oci:fixtures/hello`: what the index records as the source, and what
    /// tells two sources apart.
    fn describe(&self) -> String;

    /// The images the source holds, for a listing and for the "which image?" refusal.
    /// A registry lists nothing here: its catalog is not what a pack reads.
    fn list(&self) -> Result<Vec<Held>, SourceError>;

    /// Finds the image `reference` names (for a registry the whole image reference; for
    /// a local source the REF of `PREFIX:PATH:REF`, `None` for its only image), names it
    /// and reads its top manifest.
    fn resolve<'a>(
        &'a self,
        reference: Option<&'a str>,
        known: &'a Known,
    ) -> BoxFuture<'a, Result<Resolved, SourceError>>;

    /// A manifest of repository `repo` by descriptor, checked against its digest and size.
    fn manifest<'a>(
        &'a self,
        repo: &'a str,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<RawManifest, SourceError>>;

    /// A blob's bytes from `offset` on, when the source can resume there, with the offset
    /// the stream really starts at (0: the whole blob again).
    fn blob<'a>(
        &'a self,
        repo: &'a str,
        desc: &'a Descriptor,
        offset: u64,
    ) -> BoxFuture<'a, Result<(BlobStream, u64), SourceError>>;

    /// The manifest `reference` (a tag such as cosign's `sha256-<hex>.sig`) names in
    /// `repo`, or `None` when there is none. Default: a source without such tags.
    fn tagged<'a>(
        &'a self,
        _repo: &'a str,
        _reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<RawManifest>, SourceError>> {
        Box::pin(async { Ok(None) })
    }

    /// The OCI 1.1 referrers of `subject`, or `None` when the source does not answer
    /// that question (then the referrers tag schema is asked through [`Source::tagged`]).
    fn referrers<'a>(
        &'a self,
        _repo: &'a str,
        _subject: &'a Digest,
    ) -> BoxFuture<'a, Result<Option<Vec<Referrer>>, SourceError>> {
        Box::pin(async { Ok(None) })
    }

    /// A repository at the far side that the source says already holds blob `digest`
    /// (a docker-charon update payload leaves such blobs out). Default: none.
    fn held_at_far_side(&self, _digest: &Digest) -> Option<String> {
        None
    }
}
