//! Local image sources: an OCI image layout (image-spec, "OCI Image Layout Specification")
//! in a directory (`oci:DIR[:REF]`) or a tar (`oci-archive:FILE[:REF]`), and a `docker
//! save` tar (`docker-archive:FILE[:REF]`): Docker 25 and later write an OCI layout inside,
//! read as such so digests are kept; older ones are read by [`crate::legacy_archive`].
//!
//! REF is matched against `org.opencontainers.image.ref.name` as podman, skopeo and
//! buildah write it (a full reference, `docker.io/library/busybox:1.36`) or as a bare tag
//! (`1.36`), and against containerd's `io.containerd.image.name`. The image is named by
//! that full reference when there is one, else `localhost/<file name>:<tag>`; `… as NAME`
//! overrides both.

use crate::local_files::LocalFiles;
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

/// Whether `ref_name` (an annotation or `RepoTags` entry) is what the user asked for:
/// the same text, the same reference once normalised (`busybox:1.36` and
/// `docker.io/library/busybox:1.36`), or a bare tag equal to its tag.
pub fn ref_matches(ref_name: &str, wanted: &str) -> bool {
    if ref_name == wanted {
        return true;
    }
    if let Some(full) = full_reference(ref_name) {
        if let Some(w) = full_reference(wanted) {
            return w.to_string() == full.to_string();
        }
        return !wanted.contains('/') && full.tag.as_deref() == Some(wanted);
    }
    false
}

/// A `ref.name` or `RepoTags` value that names a whole image (`docker.io/library/x:1`,
/// `x:1`), not a bare tag (`1.36`), parsed.
pub fn full_reference(text: &str) -> Option<ImageRef> {
    if !text.contains('/') && !text.contains(':') {
        return None;
    }
    let r: ImageRef = text.parse().ok()?;
    r.digest.is_none().then_some(r)
}

/// The entries of a local source that `reference` names by any of their `names`, or its
/// one entry when no reference is given (none when it holds several).
pub fn matching<'a, T>(
    entries: &'a [T],
    reference: Option<&str>,
    names: impl Fn(&T) -> Vec<String>,
) -> Vec<&'a T> {
    match reference {
        Some(r) => entries
            .iter()
            .filter(|e| names(e).iter().any(|n| ref_matches(n, r)))
            .collect(),
        None if entries.len() == 1 => entries.iter().collect(),
        None => Vec::new(),
    }
}

/// What a local source holds, for [`no_match`]: each entry's first name, else its `id`.
pub fn listing<T>(
    entries: &[T],
    names: impl Fn(&T) -> Vec<String>,
    id: impl Fn(&T) -> String,
) -> String {
    entries
        .iter()
        .map(|e| names(e).into_iter().next().unwrap_or_else(|| id(e)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error for a REF that matched `matched` images (not one), or for no REF given to a
/// source of several, listing what the source has.
pub fn no_match(
    path: &Path,
    reference: Option<&str>,
    matched: usize,
    available: String,
) -> LayoutError {
    let tag = match (reference, matched) {
        (Some(r), 0) => r.to_owned(),
        (Some(r), _) => format!("{r}` matches several images; name one in full: `"),
        (None, _) => "(none given: it holds several, so name one)".into(),
    };
    LayoutError::NoTag {
        path: path.to_owned(),
        tag,
        available,
    }
}

/// `localhost/<file name>:<tag>`: the name of a local image that names itself nowhere.
pub fn fallback_name(path: &Path, tag: Option<&str>) -> Result<ImageRef, LayoutError> {
    let full = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let stem = full
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_else(|| "image".into());
    let stem = stem.strip_suffix(".tar").map(str::to_owned).unwrap_or(stem);
    let base: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let tag = tag
        .filter(|t| crate::oci::reference::valid_tag(t))
        .unwrap_or("latest");
    format!("localhost/{}:{tag}", base.trim_matches('-'))
        .parse()
        .map_err(|e| LayoutError::Invalid {
            path: path.to_owned(),
            reason: format!("cannot name the image: {e}; name it with `… as REGISTRY/REPO:TAG`"),
        })
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
            return Err(LayoutError::Invalid {
                path: self.files.path().to_owned(),
                reason: "its index.json lists no images (`\"manifests\": null` or empty, as `docker save` of nothing writes)".into(),
            });
        };
        let names = |m: &IndexManifest| -> Vec<String> {
            [
                "org.opencontainers.image.ref.name",
                "io.containerd.image.name",
            ]
            .iter()
            .filter_map(|k| m.annotations.get(*k).cloned())
            .collect()
        };
        let found = matching(&manifests, reference, names);
        let distinct: std::collections::BTreeSet<&Digest> =
            found.iter().map(|m| &m.descriptor.digest).collect();
        if distinct.len() != 1 {
            let available = listing(&manifests, names, |m| m.descriptor.digest.to_string());
            return Err(no_match(
                self.files.path(),
                reference,
                distinct.len(),
                available,
            ));
        }
        let found = found[0];
        let all = names(found);
        let image_ref = match all.iter().rev().find_map(|n| full_reference(n)) {
            Some(r) => r,
            None => fallback_name(
                self.files.path(),
                all.first().map(String::as_str).or(reference),
            )?,
        };
        Ok((image_ref, found.descriptor.clone()))
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

    #[test]
    fn matches_references_as_producers_write_them() {
        let full = "docker.io/library/busybox:1.36";
        assert!(ref_matches(full, full));
        assert!(ref_matches(full, "busybox:1.36"));
        assert!(ref_matches(full, "1.36"));
        assert!(!ref_matches(full, "1.37"));
        assert!(!ref_matches(full, "quay.io/library/busybox:1.36"));
        assert!(ref_matches("1.0", "1.0"));
        assert!(!ref_matches("1.0", "busybox:1.0"));
        assert!(full_reference("1.36").is_none());
    }
}
