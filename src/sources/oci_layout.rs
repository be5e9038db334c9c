//! Local image sources: an OCI image layout (image-spec, "OCI Image Layout Specification")
//! in a directory (`oci:DIR[:REF]`) or a tar (`oci-archive:FILE[:REF]`), and a `docker
//! save` tar (`docker-archive:FILE[:REF]`): Docker 25 and later write an OCI layout inside,
//! read as such so digests are kept; older ones are read by [`crate::legacy_archive`].
//!
//! REF is matched against `org.opencontainers.image.ref.name` as podman, skopeo and
//! buildah write it (a full reference, `docker.io/library/busybox:1.36`) or as a bare tag
//! (`1.36`), against containerd's `io.containerd.image.name`, or is a manifest digest
//! (`sha256:` and 12 or more hex digits); [`crate::local_names`] has the rules, and how
//! the image is named (`… as NAME` overrides that).

use crate::local_files::LocalFiles;
use crate::local_names::{Named, name_of, pick};
use crate::oci::manifest::MAX_MANIFEST_BYTES;
use crate::oci::{Descriptor, Digest, ImageRef, RawManifest};
use bytes::Bytes;
use futures_util::Stream;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Why a local source cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
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

/// The three local input forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalKind {
    /// `oci:DIR`.
    Dir,
    /// `oci-archive:FILE`.
    OciArchive,
    /// `docker-archive:FILE`.
    DockerArchive,
}

impl LocalKind {
    /// The prefix users write.
    pub fn prefix(self) -> &'static str {
        match self {
            LocalKind::Dir => "oci",
            LocalKind::OciArchive => "oci-archive",
            LocalKind::DockerArchive => "docker-archive",
        }
    }

    /// Every prefix with its kind.
    pub const ALL: [LocalKind; 3] = [
        LocalKind::Dir,
        LocalKind::OciArchive,
        LocalKind::DockerArchive,
    ];
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

/// Manifests made here (from a legacy `docker save` tar) and where their blobs are.
#[derive(Debug, Default)]
pub struct Made {
    /// Manifest bytes by digest.
    pub manifests: HashMap<Digest, Bytes>,
    /// Entry names of blobs stored under other names than `blobs/sha256/<hex>`.
    pub entries: HashMap<Digest, String>,
    /// What the user should hear about what was built (the new digest).
    pub notes: Vec<String>,
}

/// An opened local source.
#[derive(Clone, Debug)]
pub struct OciLayout {
    /// Its files.
    pub files: LocalFiles,
    /// How the user named it.
    pub kind: LocalKind,
    /// For a legacy `docker save` tar: what was built from it.
    pub made: Arc<RwLock<Made>>,
}

/// `oci:PATH[:REF]` (and `oci-archive:`, `docker-archive:`) split into kind, path and
/// reference: the path is the longest prefix that names an existing file or directory
/// (a path may hold `:`), else everything before the first `:`.
pub fn parse_location(text: &str) -> Option<(LocalKind, PathBuf, Option<String>)> {
    let (kind, rest) = LocalKind::ALL.iter().find_map(|k| {
        text.strip_prefix(k.prefix())
            .and_then(|r| r.strip_prefix(':'))
            .map(|r| (*k, r))
    })?;
    let cuts = rest.match_indices(':').map(|(i, _)| i);
    let split = std::iter::once(rest.len())
        .chain(cuts.collect::<Vec<_>>().into_iter().rev())
        .find(|&i| Path::new(&rest[..i]).exists())
        .or_else(|| rest.find(':'))
        .unwrap_or(rest.len());
    let reference = rest[split..].strip_prefix(':').filter(|r| !r.is_empty());
    Some((
        kind,
        PathBuf::from(&rest[..split]),
        reference.map(str::to_owned),
    ))
}

impl OciLayout {
    /// Opens a source of `kind` at `path`: a layout directory with its `oci-layout`
    /// marker, or a tar, scanned once.
    pub fn open(kind: LocalKind, path: &Path) -> Result<OciLayout, LayoutError> {
        let files = match kind {
            LocalKind::Dir => LocalFiles::Dir(path.to_owned()),
            LocalKind::OciArchive | LocalKind::DockerArchive => LocalFiles::open_tar(path)?,
        };
        let layout = OciLayout {
            files,
            kind,
            made: Arc::default(),
        };
        if kind != LocalKind::DockerArchive || layout.files.exists("oci-layout") {
            layout.check_marker()?;
        } else if !layout.files.exists("manifest.json") {
            return Err(LayoutError::Invalid {
                path: path.to_owned(),
                reason: "neither `manifest.json` nor `oci-layout` is in it; a `docker save` tar has one of them".into(),
            });
        }
        Ok(layout)
    }

    fn check_marker(&self) -> Result<(), LayoutError> {
        let text = self.files.read("oci-layout", 4096)?;
        if !String::from_utf8_lossy(&text).contains("imageLayoutVersion") {
            return Err(LayoutError::Invalid {
                path: self.files.path().to_owned(),
                reason: "`oci-layout` names no imageLayoutVersion".into(),
            });
        }
        Ok(())
    }

    /// `oci:fixtures/hello`, `docker-archive:/tmp/x.tar`: what the index records.
    pub fn describe(&self) -> String {
        format!("{}:{}", self.kind.prefix(), self.files.path().display())
    }

    fn blob_name(&self, digest: &Digest) -> String {
        let made = self.made.read().unwrap_or_else(|e| e.into_inner());
        match made.entries.get(digest) {
            Some(name) => name.clone(),
            None => format!("blobs/sha256/{}", digest.hex()),
        }
    }

    /// Finds the image `reference` names (or the only one when none is given) and names it.
    pub fn resolve(&self, reference: Option<&str>) -> Result<(ImageRef, Descriptor), LayoutError> {
        if self.kind == LocalKind::DockerArchive && !self.files.exists("oci-layout") {
            return crate::legacy_archive::resolve(self, reference);
        }
        let bytes = self.files.read("index.json", 64 * 1024 * 1024)?;
        let index: LayoutIndex =
            serde_json::from_slice(&bytes).map_err(|e| LayoutError::Invalid {
                path: self.files.path().to_owned(),
                reason: format!("index.json: {e}"),
            })?;
        let Some(manifests) = index.manifests.filter(|m| !m.is_empty()) else {
            // Docker 25's `docker save <image-id>` lists the image in manifest.json only.
            if self.kind == LocalKind::DockerArchive && self.files.exists("manifest.json") {
                return crate::legacy_archive::resolve(self, reference);
            }
            return Err(LayoutError::Invalid {
                path: self.files.path().to_owned(),
                reason: "its index.json lists no images (`\"manifests\": null` or empty, as `docker save` of nothing writes)".into(),
            });
        };
        // containerd's name first: it is always a full reference.
        let named: Vec<Named> = manifests
            .iter()
            .map(|m| Named {
                names: [
                    "io.containerd.image.name",
                    "org.opencontainers.image.ref.name",
                ]
                .iter()
                .filter_map(|k| m.annotations.get(*k).cloned())
                .collect(),
                id: m.descriptor.digest.clone(),
            })
            .collect();
        let path = self.files.path();
        let i = pick(path, &self.describe(), &named, reference)?;
        let (image_ref, _) = name_of(path, &named, i, reference, false)?;
        Ok((image_ref, manifests[i].descriptor.clone()))
    }

    /// Reads and verifies a manifest.
    pub fn manifest(&self, desc: &Descriptor) -> Result<RawManifest, LayoutError> {
        let made = self
            .made
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .manifests
            .get(&desc.digest)
            .cloned();
        let bytes = match made {
            Some(b) => b,
            None => Bytes::from(self.files.read_verified(
                &self.blob_name(&desc.digest),
                &desc.digest,
                desc.size,
                MAX_MANIFEST_BYTES,
            )?),
        };
        RawManifest::new(bytes, Some(&desc.media_type)).map_err(|e| LayoutError::Invalid {
            path: self.files.path().to_owned(),
            reason: format!("manifest {}: {e}", desc.digest),
        })
    }

    /// Streams a blob (the caller verifies).
    pub fn blob(
        &self,
        desc: &Descriptor,
    ) -> impl Stream<Item = Result<Bytes, LayoutError>> + Send + 'static + use<> {
        self.files.stream(&self.blob_name(&desc.digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_location() {
        assert_eq!(
            parse_location("oci:fixtures/hello:1.0"),
            Some((LocalKind::Dir, "fixtures/hello".into(), Some("1.0".into())))
        );
        assert_eq!(
            parse_location("oci:./a.b/c"),
            Some((LocalKind::Dir, "./a.b/c".into(), None))
        );
        assert_eq!(
            parse_location("docker-archive:x.tar:docker.io/library/busybox:1.36"),
            Some((
                LocalKind::DockerArchive,
                "x.tar".into(),
                Some("docker.io/library/busybox:1.36".into())
            ))
        );
        assert_eq!(parse_location("nginx"), None);
        assert_eq!(parse_location("oci-archivex:y"), None);
    }
}
