//! `docker-charon:PAYLOAD.zip[:REF]`: the images of a docker-charon payload as a source,
//! so a site's old payloads can be packed (with other images, platforms, signatures)
//! into an outrider bundle with their digests kept. The payload is opened by the bundle
//! reader, which already reads one as a bundle of one volume (`crate::bundle`, its
//! zip checks and the index it builds from the payload's manifests); this file only
//! answers the [`Source`] questions from that index.
//!
//! REF is the image's name as docker-charon was given it (`ubuntu:22.04`), as the payload
//! is read (`localhost/ubuntu:22.04`), a bare tag, or a manifest digest
//! ([`super::local_names`]); the image keeps the name reading the payload gives it, so it
//! arrives where docker-charon would have pushed it. A blob an update payload leaves out
//! (the far side's registry holds it) stays out of the bundle too, listed as held there.

use super::local_names::pick;
use super::source::{BlobStream, Held, Known, Resolved, Source, SourceError};
use crate::bundle::CHARON_PAYLOAD_TOOL as PAYLOAD_TOOL;
use crate::bundle::reader::{BundleReader, ReadError};
use crate::oci::{Descriptor, Digest, ImageRef, RawManifest};
use crate::trust::TrustedKeys;
use futures_util::future::BoxFuture;
use futures_util::{StreamExt, TryStreamExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The prefix users write: `docker-charon:PAYLOAD.zip[:REF]`.
pub const PREFIX: &str = "docker-charon";

/// Opens `docker-charon:PAYLOAD.zip`: a payload, checked as the bundle reader checks one.
pub fn open(path: &Path) -> Result<Arc<dyn Source>, SourceError> {
    // A payload carries no signature: there is nothing to check it against.
    let reader = BundleReader::open(path, &TrustedKeys::none())?;
    // The tool the bundle reader names in the index it builds from a payload: an outrider
    // bundle (even one packed from a payload) names outrider.
    if reader.index.tool != PAYLOAD_TOOL || reader.index.volume.is_some() {
        return Err(ReadError::Index {
            path: path.to_owned(),
            reason:
                "it is an outrider bundle, not a docker-charon payload (`outrider unpack` reads it)"
                    .into(),
        }
        .into());
    }
    Ok(Arc::new(CharonPayload {
        path: path.to_owned(),
        reader,
    }))
}

/// A docker-charon payload opened as a source.
pub struct CharonPayload {
    path: PathBuf,
    reader: BundleReader,
}

impl CharonPayload {
    fn held(&self) -> Vec<Held> {
        self.reader
            .index
            .images
            .iter()
            .map(|i| Held {
                names: vec![i.reference.clone(), i.requested.clone()],
                id: i.digest.clone(),
            })
            .collect()
    }

    fn read_manifest(&self, desc: &Descriptor) -> Result<RawManifest, SourceError> {
        let m = self.reader.manifest(&desc.digest)?;
        if m.bytes.len() as u64 != desc.size {
            return Err(ReadError::Index {
                path: self.path.clone(),
                reason: format!(
                    "manifest {} is {} bytes, not the {} its descriptor says",
                    desc.digest,
                    m.bytes.len(),
                    desc.size
                ),
            }
            .into());
        }
        Ok(m)
    }
}

impl Source for CharonPayload {
    fn describe(&self) -> String {
        format!("{PREFIX}:{}", self.path.display())
    }

    fn list(&self) -> Result<Vec<Held>, SourceError> {
        Ok(self.held())
    }

    fn resolve<'a>(
        &'a self,
        reference: Option<&'a str>,
        _known: &'a Known,
    ) -> BoxFuture<'a, Result<Resolved, SourceError>> {
        Box::pin(async move {
            let held = self.list()?;
            let i = pick(&self.path, &self.describe(), &held, reference)?;
            let image = &self.reader.index.images[i];
            let name: ImageRef = image.reference.parse()?;
            let top = self.reader.manifest(&image.digest)?;
            Ok(Resolved {
                name,
                top,
                pinned: false,
                notes: Vec::new(),
            })
        })
    }

    fn manifest<'a>(
        &'a self,
        _repo: &'a str,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<RawManifest, SourceError>> {
        Box::pin(async move { self.read_manifest(desc) })
    }

    fn blob<'a>(
        &'a self,
        _repo: &'a str,
        desc: &'a Descriptor,
        _offset: u64,
    ) -> BoxFuture<'a, Result<(BlobStream, u64), SourceError>> {
        Box::pin(async move {
            if !self.reader.has(&desc.digest) {
                return Err(ReadError::Index {
                    path: self.path.clone(),
                    reason: format!("blob {} is not in the payload", desc.digest),
                }
                .into());
            }
            let path = self.path.clone();
            let stream = self
                .reader
                .blob_stream(desc)
                .map_err(move |source| SourceError::BundleRead {
                    path: path.clone(),
                    source,
                })
                .boxed();
            // A file does not break mid-way the way a connection does: start over.
            Ok((stream, 0))
        })
    }

    fn held_at_far_side(&self, digest: &Digest) -> Option<String> {
        self.reader
            .index
            .blob(digest)
            .and_then(|b| b.destination_repository.clone())
    }
}
