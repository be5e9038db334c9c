//! Receipts: what a destination registry holds, written by `unpack --push --receipt` or
//! `outrider receipt`, carried back to the online side so the next `pack --since` skips it.
//! Small JSON, no secrets, deterministic (sorted) so equal content gives equal bytes.
//! Specified in bundle-format.md.

use crate::oci::Digest;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `format` of a receipt.
pub const FORMAT: &str = "outrider-receipt";
/// Version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// A receipt.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The destination registry as the user named it (`registry.site:5000`).
    pub registry: String,
    /// Repository path → what it holds.
    pub repositories: BTreeMap<String, RepositoryContent>,
}

/// What one repository holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RepositoryContent {
    /// Tag → manifest digest.
    #[serde(default)]
    pub tags: BTreeMap<String, Digest>,
    /// Manifest digests (images and indexes).
    #[serde(default)]
    pub manifests: BTreeSet<Digest>,
    /// Blob digests (configs and layers).
    #[serde(default)]
    pub blobs: BTreeSet<Digest>,
    /// The repositories the images here came from (`docker.io/library/nginx`), so the
    /// nodes' client configurations can send the original names here. Left out when
    /// empty, as receipts before it were written.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sources: BTreeSet<String>,
}

/// A receipt that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// I/O.
    #[error("receipt `{0}`: {1}")]
    Io(PathBuf, std::io::Error),
    /// Not a receipt of a known version.
    #[error("`{0}` is not an outrider receipt this version reads: {1}")]
    Invalid(PathBuf, String),
    /// Merging receipts of two registries.
    #[error(
        "receipt `{path}` is for `{has}`, not `{wanted}`; hint: keep one receipt per destination registry"
    )]
    OtherRegistry {
        /// The file.
        path: PathBuf,
        /// Registry in the file.
        has: String,
        /// Registry of this push.
        wanted: String,
    },
}

impl Receipt {
    /// An empty receipt for `registry`.
    pub fn new(registry: &str) -> Receipt {
        Receipt {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            registry: registry.into(),
            repositories: BTreeMap::new(),
        }
    }

    /// Reads and checks a receipt file.
    pub fn load(path: &Path) -> Result<Receipt, ReceiptError> {
        let bytes = fs_err::read(path).map_err(|e| ReceiptError::Io(path.into(), e))?;
        let r: Receipt = serde_json::from_slice(&bytes)
            .map_err(|e| ReceiptError::Invalid(path.into(), e.to_string()))?;
        if r.format != FORMAT || r.format_version > FORMAT_VERSION {
            return Err(ReceiptError::Invalid(
                path.into(),
                format!(
                    "format `{}` version {}",
                    crate::output::sanitize(&r.format),
                    r.format_version
                ),
            ));
        }
        Ok(r)
    }

    /// Adds everything in `other` (tags in `other` win).
    pub fn merge(&mut self, other: Receipt) {
        for (repo, content) in other.repositories {
            let mine = self.repositories.entry(repo).or_default();
            mine.tags.extend(content.tags);
            mine.manifests.extend(content.manifests);
            mine.blobs.extend(content.blobs);
            mine.sources.extend(content.sources);
        }
    }

    /// Merges into the receipt at `path` (if any, for the same registry) and writes it
    /// atomically (temp name, then rename).
    pub fn merge_into_file(self, path: &Path) -> Result<Receipt, ReceiptError> {
        let mut merged = match path.exists() {
            true => {
                let old = Receipt::load(path)?;
                if old.registry != self.registry {
                    return Err(ReceiptError::OtherRegistry {
                        path: path.into(),
                        has: old.registry,
                        wanted: self.registry,
                    });
                }
                old
            }
            false => Receipt::new(&self.registry),
        };
        merged.merge(self);
        merged.write(path)?;
        Ok(merged)
    }

    /// Writes the receipt atomically.
    pub fn write(&self, path: &Path) -> Result<(), ReceiptError> {
        let mut json = serde_json::to_vec_pretty(self)
            .map_err(|e| ReceiptError::Invalid(path.into(), e.to_string()))?;
        json.push(b'\n');
        crate::atomic_file::write(path, &json, None).map_err(|e| ReceiptError::Io(path.into(), e))
    }
}
