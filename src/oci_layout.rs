//! An OCI image layout directory (image-spec, "OCI Image Layout Specification") as a
//! source: `oci:PATH[:TAG]`. The tag is matched against `org.opencontainers.image.ref.name`;
//! the image is named by its `io.containerd.image.name` annotation when present, else
//! `localhost/<directory name>:<tag>`.

use crate::oci::{Descriptor, Digest, ImageRef, RawManifest, Verifier};
use bytes::Bytes;
use futures_util::Stream;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Why a layout cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    /// I/O on a layout file.
    #[error("reading OCI layout `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `index.json` or `oci-layout` is missing or malformed.
    #[error("`{path}` is not an OCI image layout: {reason}")]
    Invalid {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No manifest carries the tag asked for.
    #[error("OCI layout `{path}` has no image tagged `{tag}` (it has: {available})")]
    NoTag {
        /// The directory.
        path: PathBuf,
        /// The tag asked for.
        tag: String,
        /// Tags present.
        available: String,
    },
    /// A blob fails its digest.
    #[error("OCI layout `{path}`: {source}")]
    Content {
        /// The directory.
        path: PathBuf,
        /// The failed check.
        source: crate::oci::DigestError,
    },
}

#[derive(Deserialize)]
struct LayoutIndex {
    manifests: Vec<IndexManifest>,
}

#[derive(Deserialize)]
struct IndexManifest {
    #[serde(flatten)]
    descriptor: Descriptor,
    #[serde(default)]
    annotations: std::collections::HashMap<String, String>,
}

/// An OCI layout directory.
#[derive(Clone, Debug)]
pub struct OciLayout {
    /// The directory.
    pub root: PathBuf,
}

/// `oci:PATH[:TAG]` split into path and tag. The tag is after the last `:` that follows
/// the last `/`.
pub fn parse_location(text: &str) -> Option<(PathBuf, Option<String>)> {
    let rest = text.strip_prefix("oci:")?;
    let (path, tag) = crate::oci::reference::split_tag(rest);
    Some((PathBuf::from(path), tag.map(str::to_owned)))
}

impl OciLayout {
    /// Opens a layout directory, checking its `oci-layout` marker.
    pub fn open(root: &Path) -> Result<OciLayout, LayoutError> {
        let marker = root.join("oci-layout");
        let text = fs_err::read_to_string(&marker).map_err(|source| LayoutError::Io {
            path: marker.clone(),
            source,
        })?;
        if !text.contains("imageLayoutVersion") {
            return Err(LayoutError::Invalid {
                path: root.into(),
                reason: "`oci-layout` names no imageLayoutVersion".into(),
            });
        }
        Ok(OciLayout {
            root: root.to_owned(),
        })
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join("sha256").join(digest.hex())
    }

    /// Finds the image tagged `tag` (or the only image when no tag is given) and names it.
    pub fn resolve(&self, tag: Option<&str>) -> Result<(ImageRef, Descriptor), LayoutError> {
        let path = self.root.join("index.json");
        let text = fs_err::read(&path).map_err(|source| LayoutError::Io {
            path: path.clone(),
            source,
        })?;
        let index: LayoutIndex =
            serde_json::from_slice(&text).map_err(|e| LayoutError::Invalid {
                path: self.root.clone(),
                reason: format!("index.json: {e}"),
            })?;
        let tag_of = |m: &IndexManifest| {
            m.annotations
                .get("org.opencontainers.image.ref.name")
                .cloned()
        };
        let found = match tag {
            Some(t) => index
                .manifests
                .iter()
                .find(|m| tag_of(m).as_deref() == Some(t)),
            None if index.manifests.len() == 1 => index.manifests.first(),
            None => None,
        };
        let Some(found) = found else {
            let available = index
                .manifests
                .iter()
                .filter_map(tag_of)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(LayoutError::NoTag {
                path: self.root.clone(),
                tag: tag.unwrap_or("(none given)").into(),
                available,
            });
        };
        let name = found
            .annotations
            .get("io.containerd.image.name")
            .and_then(|n| n.parse::<ImageRef>().ok());
        let image_ref = match name {
            Some(r) => r,
            None => {
                let dir = self
                    .root
                    .canonicalize()
                    .unwrap_or_else(|_| self.root.clone());
                let base = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().to_lowercase())
                    .unwrap_or_else(|| "image".into());
                let base: String = base
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                let tag = tag_of(found)
                    .or(tag.map(str::to_owned))
                    .unwrap_or_else(|| "latest".into());
                format!("localhost/{}:{tag}", base.trim_matches('-'))
                    .parse()
                    .map_err(|e| LayoutError::Invalid {
                        path: self.root.clone(),
                        reason: format!("cannot name the image: {e}"),
                    })?
            }
        };
        Ok((image_ref, found.descriptor.clone()))
    }

    /// Reads and verifies a manifest.
    pub fn manifest(&self, desc: &Descriptor) -> Result<RawManifest, LayoutError> {
        let path = self.blob_path(&desc.digest);
        let bytes = fs_err::read(&path).map_err(|source| LayoutError::Io {
            path: path.clone(),
            source,
        })?;
        let mut v = Verifier::new(&desc.digest, desc.size);
        v.update(&bytes)
            .and_then(|()| v.finish())
            .map_err(|source| LayoutError::Content {
                path: self.root.clone(),
                source,
            })?;
        RawManifest::new(Bytes::from(bytes), Some(&desc.media_type)).map_err(|e| {
            LayoutError::Invalid {
                path: path.clone(),
                reason: e.to_string(),
            }
        })
    }

    /// Streams a blob file in 1 MiB chunks (the caller verifies).
    pub fn blob(
        &self,
        desc: &Descriptor,
    ) -> impl Stream<Item = Result<Bytes, LayoutError>> + Send + 'static + use<> {
        let path = self.blob_path(&desc.digest);
        futures_util::stream::unfold(
            (None::<tokio::fs::File>, path, false),
            |(file, path, done)| async move {
                use tokio::io::AsyncReadExt;
                if done {
                    return None;
                }
                let mut file = match file {
                    Some(f) => f,
                    None => match tokio::fs::File::open(&path).await {
                        Ok(f) => f,
                        Err(source) => {
                            return Some((
                                Err(LayoutError::Io {
                                    path: path.clone(),
                                    source,
                                }),
                                (None, path, true),
                            ));
                        }
                    },
                };
                let mut buf = vec![0; 1024 * 1024];
                match file.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(Bytes::from(buf)), (Some(file), path, false)))
                    }
                    Err(source) => Some((
                        Err(LayoutError::Io {
                            path: path.clone(),
                            source,
                        }),
                        (None, path, true),
                    )),
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_location() {
        assert_eq!(
            super::parse_location("oci:fixtures/hello:1.0"),
            Some(("fixtures/hello".into(), Some("1.0".into())))
        );
        assert_eq!(
            super::parse_location("oci:./a.b/c"),
            Some(("./a.b/c".into(), None))
        );
        assert_eq!(super::parse_location("nginx"), None);
    }
}
