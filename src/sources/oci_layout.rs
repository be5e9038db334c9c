//! `oci:DIR[:REF]`: an OCI image layout (image-spec, "OCI Image Layout Specification") in
//! a directory. [`Layout`] reads a layout from its files wherever they are, so the
//! archive sources reuse it: `oci-archive:` (a layout in a tar) and Docker 25's
//! `docker-archive:` (a layout beside `manifest.json`).
//!
//! REF is matched against `org.opencontainers.image.ref.name` as podman, skopeo and
//! buildah write it (a full reference, `docker.io/library/busybox:1.36`) or as a bare tag
//! (`1.36`), against containerd's `io.containerd.image.name`, or is a manifest digest
//! (`sha256:` and 12 or more hex digits); [`super::local_names`] has the rules, and how
//! the image is named (`… as NAME` overrides that).

use super::local_error::LocalError;
use super::local_files::LocalFiles;
use super::local_names::{name_of, pick};
use super::source::{BlobStream, Held, Known, Resolved, Source, SourceError};
use crate::oci::manifest::MAX_MANIFEST_BYTES;
use crate::oci::{Descriptor, Digest, ImageRef, RawManifest};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The prefix users write: `oci:DIR[:REF]`.
pub const PREFIX: &str = "oci";

/// Opens `oci:DIR`: a directory with its `oci-layout` marker.
pub fn open(path: &Path) -> Result<Arc<dyn Source>, SourceError> {
    let layout = Layout::open(LocalFiles::Dir(path.to_owned()), PREFIX)?;
    Ok(Arc::new(OciLayout(layout)))
}

#[derive(Deserialize)]
struct LayoutIndex {
    manifests: Option<Vec<IndexManifest>>,
}

#[derive(Deserialize)]
struct IndexManifest {
    #[serde(flatten)]
    descriptor: Descriptor,
    #[serde(default)]
    annotations: HashMap<String, String>,
}

/// An OCI image layout read from its files, a directory's or a tar's.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Its files.
    pub files: LocalFiles,
    /// How the user names the source (`oci:DIR`, `oci-archive:FILE`).
    pub describe: String,
}

/// The entry name of a blob in a layout.
pub fn blob_name(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

impl Layout {
    /// Reads a layout from `files`, checking its `oci-layout` marker; `prefix` is how the
    /// user names the source.
    pub fn open(files: LocalFiles, prefix: &str) -> Result<Layout, LocalError> {
        let describe = format!("{prefix}:{}", files.path().display());
        let layout = Layout { files, describe };
        let text = layout.files.read("oci-layout", 4096)?;
        if !String::from_utf8_lossy(&text).contains("imageLayoutVersion") {
            return Err(LocalError::Invalid {
                path: layout.files.path().to_owned(),
                reason: "`oci-layout` names no imageLayoutVersion".into(),
            });
        }
        Ok(layout)
    }

    /// The images index.json lists, each with its descriptor; `None` when it lists none
    /// (`"manifests": null` or empty, as `docker save` of nothing writes).
    fn index(&self) -> Result<Option<Vec<(Held, Descriptor)>>, LocalError> {
        let bytes = self.files.read("index.json", 64 * 1024 * 1024)?;
        let index: LayoutIndex =
            serde_json::from_slice(&bytes).map_err(|e| LocalError::Invalid {
                path: self.files.path().to_owned(),
                reason: format!("index.json: {e}"),
            })?;
        let Some(manifests) = index.manifests.filter(|m| !m.is_empty()) else {
            return Ok(None);
        };
        // containerd's name first: it is always a full reference.
        Ok(Some(
            manifests
                .into_iter()
                .map(|m| {
                    let held = Held {
                        names: [
                            "io.containerd.image.name",
                            "org.opencontainers.image.ref.name",
                        ]
                        .iter()
                        .filter_map(|k| m.annotations.get(*k).cloned())
                        .collect(),
                        id: m.descriptor.digest.clone(),
                    };
                    (held, m.descriptor)
                })
                .collect(),
        ))
    }

    /// The images index.json lists; `None` when it lists none.
    pub fn list(&self) -> Result<Option<Vec<Held>>, LocalError> {
        Ok(self
            .index()?
            .map(|all| all.into_iter().map(|(held, _)| held).collect()))
    }

    /// Finds the image `reference` names (or the only one when none is given) and names
    /// it; `None` when index.json lists no image at all.
    pub fn find(
        &self,
        reference: Option<&str>,
    ) -> Result<Option<(ImageRef, Descriptor)>, LocalError> {
        let Some(all) = self.index()? else {
            return Ok(None);
        };
        let (held, descriptors): (Vec<Held>, Vec<Descriptor>) = all.into_iter().unzip();
        let path = self.files.path();
        let i = pick(path, &self.describe, &held, reference)?;
        let (image_ref, _) = name_of(path, &held, i, reference, false)?;
        Ok(Some((image_ref, descriptors[i].clone())))
    }

    /// The refusal for a layout whose index.json lists nothing.
    pub fn lists_nothing(&self) -> LocalError {
        LocalError::Invalid {
            path: self.files.path().to_owned(),
            reason: "its index.json lists no images (`\"manifests\": null` or empty, as `docker save` of nothing writes)".into(),
        }
    }

    /// Reads file `name` as the manifest `desc` describes, verified.
    pub fn manifest_at(&self, name: &str, desc: &Descriptor) -> Result<RawManifest, LocalError> {
        read_manifest(&self.files, name, desc)
    }

    /// Streams file `name` (the caller verifies).
    pub fn stream(
        &self,
        name: &str,
    ) -> impl Stream<Item = Result<Bytes, LocalError>> + Send + 'static + use<> {
        self.files.stream(name)
    }
}

/// Reads file `name` of `files` as the manifest `desc` describes, verified.
pub fn read_manifest(
    files: &LocalFiles,
    name: &str,
    desc: &Descriptor,
) -> Result<RawManifest, LocalError> {
    let bytes = files.read_verified(name, &desc.digest, desc.size, MAX_MANIFEST_BYTES)?;
    parse_manifest(files.path(), Bytes::from(bytes), desc)
}

/// Checks manifest bytes of the source at `path` against the media type `desc` gives.
pub fn parse_manifest(
    path: &Path,
    bytes: Bytes,
    desc: &Descriptor,
) -> Result<RawManifest, LocalError> {
    RawManifest::new(bytes, Some(&desc.media_type)).map_err(|e| LocalError::Invalid {
        path: path.to_owned(),
        reason: format!("manifest {}: {e}", desc.digest),
    })
}

/// A blob stream of a local file: local reads do not break mid-way the way connections
/// do, so a retry starts over (offset 0).
pub fn local_stream(
    stream: impl Stream<Item = Result<Bytes, LocalError>> + Send + 'static,
) -> (BlobStream, u64) {
    (stream.map_err(SourceError::from).boxed(), 0)
}

/// An OCI layout as a source: `oci:DIR`, and `oci-archive:FILE` over a tar's files.
pub struct OciLayout(pub Layout);

impl Source for OciLayout {
    fn describe(&self) -> String {
        self.0.describe.clone()
    }

    fn list(&self) -> Result<Vec<Held>, SourceError> {
        Ok(self.0.list()?.unwrap_or_default())
    }

    fn resolve<'a>(
        &'a self,
        reference: Option<&'a str>,
        _known: &'a Known,
    ) -> BoxFuture<'a, Result<Resolved, SourceError>> {
        Box::pin(async move {
            let (name, desc) = self
                .0
                .find(reference)?
                .ok_or_else(|| self.0.lists_nothing())?;
            let top = self.0.manifest_at(&blob_name(&desc.digest), &desc)?;
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
        Box::pin(async move { Ok(self.0.manifest_at(&blob_name(&desc.digest), desc)?) })
    }

    fn blob<'a>(
        &'a self,
        _repo: &'a str,
        desc: &'a Descriptor,
        _offset: u64,
    ) -> BoxFuture<'a, Result<(BlobStream, u64), SourceError>> {
        Box::pin(async move { Ok(local_stream(self.0.stream(&blob_name(&desc.digest)))) })
    }
}
