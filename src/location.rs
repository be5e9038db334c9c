//! Where images are read from during `pack`: a registry or a local source (an OCI layout
//! directory or archive, a `docker save` tar), chosen by the text the user gave
//! (`oci:`, `oci-archive:`, `docker-archive:`, else an image reference). Both
//! answer the same two questions: a manifest by digest, a blob as a byte stream.

use crate::oci::{Descriptor, ImageRef, RawManifest};
use crate::oci_layout::{LayoutError, OciLayout};
use crate::registry::{Registry, RegistryError};
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use std::sync::Arc;

/// A failure reading from a source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// From a registry.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// From an OCI layout.
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

impl SourceError {
    /// Whether trying again could help (a broken connection, not a wrong digest).
    pub fn is_transient(&self) -> bool {
        matches!(self, SourceError::Registry(e) if e.is_transient())
    }
}

/// A user's image argument, parsed.
#[derive(Clone, Debug)]
pub enum ImageSource {
    /// `registry/repo:tag@digest`.
    Registry(ImageRef),
    /// `oci:PATH[:REF]`, `oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]`.
    Layout {
        /// Which of the three.
        kind: crate::oci_layout::LocalKind,
        /// The directory or file.
        path: std::path::PathBuf,
        /// The reference or tag, if given.
        tag: Option<String>,
    },
}

/// Why an image argument cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Not a reference.
    #[error(transparent)]
    Reference(#[from] crate::oci::ReferenceError),
    /// `… as NAME` with a digest.
    #[error(
        "`as {0}`: a name given with `as` cannot hold a digest (the digest comes from the source); give REGISTRY/REPO:TAG"
    )]
    NameWithDigest(String),
}

/// A user's image argument with the name it should carry, when given as `SOURCE as NAME`.
#[derive(Clone, Debug)]
pub struct ImageRequest {
    /// Where to read it.
    pub source: ImageSource,
    /// The name it carries and is pushed under, instead of the source's own.
    pub name: Option<ImageRef>,
}

impl ImageSource {
    /// Parses a local source (`oci:`, `oci-archive:`, `docker-archive:`) or an image
    /// reference.
    pub fn parse(text: &str) -> Result<ImageSource, crate::oci::ReferenceError> {
        match crate::oci_layout::parse_location(text) {
            Some((kind, path, tag)) => Ok(ImageSource::Layout { kind, path, tag }),
            None => Ok(ImageSource::Registry(text.parse()?)),
        }
    }
}

impl ImageRequest {
    /// Parses `SOURCE` or `SOURCE as REGISTRY/REPO[:TAG]`.
    pub fn parse(text: &str) -> Result<ImageRequest, RequestError> {
        let (source, name) = match text.rsplit_once(" as ") {
            Some((s, n)) => (s.trim(), Some(n.trim())),
            None => (text, None),
        };
        let name = match name {
            Some(n) => {
                let r: ImageRef = n.parse()?;
                if r.digest.is_some() {
                    return Err(RequestError::NameWithDigest(n.to_owned()));
                }
                Some(r)
            }
            None => None,
        };
        Ok(ImageRequest {
            source: ImageSource::parse(source)?,
            name,
        })
    }
}

/// An opened source that manifests and blobs are read from.
#[derive(Clone)]
pub enum Source {
    /// A registry client.
    Registry(Arc<Registry>),
    /// A layout directory.
    Layout(OciLayout),
}

impl Source {
    /// `docker.io`, `oci:fixtures/hello`: what the index records as the source.
    pub fn describe(&self) -> String {
        match self {
            Source::Registry(r) => r.name.clone(),
            Source::Layout(l) => l.describe(),
        }
    }

    /// A manifest by descriptor (digest-checked).
    pub async fn manifest(
        &self,
        repo: &str,
        desc: &Descriptor,
    ) -> Result<RawManifest, SourceError> {
        match self {
            Source::Registry(r) => {
                let m = r.get_manifest(repo, desc.digest.as_str()).await?;
                // The digest matched, so a size mismatch means the referring index lied.
                if m.bytes.len() as u64 != desc.size {
                    return Err(RegistryError::Content {
                        registry: r.name.clone(),
                        what: format!("manifest {} in `{repo}`", desc.digest),
                        source: crate::oci::DigestError::SizeMismatch {
                            digest: desc.digest.clone(),
                            expected: desc.size,
                            got: m.bytes.len() as u64,
                        },
                    }
                    .into());
                }
                Ok(m)
            }
            Source::Layout(l) => Ok(l.manifest(desc)?),
        }
    }

    /// A blob's bytes as a stream; the caller verifies them.
    pub async fn blob(
        &self,
        repo: &str,
        desc: &Descriptor,
    ) -> Result<BoxStream<'static, Result<Bytes, SourceError>>, SourceError> {
        Ok(self.blob_from(repo, desc, 0).await?.0)
    }

    /// A blob's bytes from `offset` on, when the source can resume there, with the offset
    /// the stream really starts at (0: the whole blob again).
    pub async fn blob_from(
        &self,
        repo: &str,
        desc: &Descriptor,
        offset: u64,
    ) -> Result<(BoxStream<'static, Result<Bytes, SourceError>>, u64), SourceError> {
        Ok(match self {
            Source::Registry(r) => {
                let (stream, start) = r.get_blob_from(repo, desc, offset).await?;
                (stream.map_err(SourceError::from).boxed(), start)
            }
            // Local reads do not break mid-way the way connections do: start over.
            Source::Layout(l) => (l.blob(desc).map_err(SourceError::from).boxed(), 0),
        })
    }
}
