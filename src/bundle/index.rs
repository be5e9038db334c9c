//! `outrider.json`, the bundle index, as serde types. Field names and meaning are
//! specified in `bundle-format.md`; change both together.

use crate::oci::{Digest, Platform};
use serde::{Deserialize, Serialize};

/// The value of `format`: identifies an outrider bundle index.
pub const FORMAT: &str = "outrider-bundle";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The whole index.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleIndex {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// `outrider <version>` of the writer.
    pub tool: String,
    /// Every requested image, in the order asked.
    pub images: Vec<ImageEntry>,
    /// Every manifest stored, children before parents.
    pub manifests: Vec<ManifestEntry>,
    /// Every non-manifest blob stored (configs, layers), in entry order.
    pub blobs: Vec<BlobEntry>,
    /// For a bundle split into volumes: which volume this is and where everything lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeInfo>,
}

/// Where this volume stands in its set, and what every volume holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VolumeInfo {
    /// Identity of the set: sha256 of its planned layout; equal in every volume.
    pub bundle: Digest,
    /// File name stem of the set: volumes are `<name>.001.zip`, `<name>.002.zip`, …
    pub name: String,
    /// This volume's number, from 1.
    pub number: u32,
    /// How many volumes the set has.
    pub total: u32,
    /// The size no volume exceeds, zip headers included.
    pub size_limit: u64,
    /// Every stored blob and manifest (or part of one), in write order.
    pub holdings: Vec<Holding>,
}

/// One zip entry of a volume set.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Holding {
    /// The blob or manifest.
    pub digest: Digest,
    /// The volume holding this entry.
    pub volume: u32,
    /// Entry name in that volume.
    pub entry: String,
    /// When the blob is cut into parts: which part this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<Part>,
}

/// A part of a blob larger than a volume.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    /// Part number, from 1.
    pub number: u32,
    /// Number of parts of the blob.
    pub count: u32,
    /// Offset of the part in the blob.
    pub offset: u64,
    /// Size of the part.
    pub size: u64,
    /// sha256 of the part's bytes.
    pub digest: Digest,
}

/// One requested image.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageEntry {
    /// The reference as the user wrote it.
    pub requested: String,
    /// Normalised reference (`docker.io/library/nginx:1.27`).
    pub reference: String,
    /// Where it was read from: a registry host, or `oci:<path>`.
    pub source: String,
    /// Repository path at the source (`library/nginx`).
    pub repository: String,
    /// Tag, when the reference had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Digest of the top-level manifest the reference resolved to.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Platforms carried (one per image manifest carried).
    pub platforms: Vec<Platform>,
}

/// One manifest stored in the bundle.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestEntry {
    /// Digest of the exact bytes.
    pub digest: Digest,
    /// Media type.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// For an image manifest, its platform when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// For an index: the children stored in this bundle (a subset when only some
    /// platforms were chosen).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Digest>,
    /// For an index: whether every child it lists is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
    /// For an image manifest: config and layers, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<Digest>,
    /// Zip entry holding the bytes; absent for an external manifest (one the far side
    /// already holds, not stored in this bundle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// For an external manifest, a repository at the destination known to hold it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_repository: Option<String>,
}

/// One blob stored in the bundle.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobEntry {
    /// Content digest.
    pub digest: Digest,
    /// Exact size.
    pub size: u64,
    /// Media type from the first manifest that names it.
    pub media_type: String,
    /// Source repositories that use it (for cross-repository mounts on push).
    pub repositories: Vec<String>,
    /// Zip entry holding the bytes; absent for an external blob (one the far side already
    /// holds, not stored in this bundle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// For an external blob, a repository at the destination known to hold it (the push
    /// mounts from there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_repository: Option<String>,
}

impl BundleIndex {
    /// The manifest entry for `digest`.
    pub fn manifest(&self, digest: &Digest) -> Option<&ManifestEntry> {
        self.manifests.iter().find(|m| &m.digest == digest)
    }

    /// The blob entry for `digest`.
    pub fn blob(&self, digest: &Digest) -> Option<&BlobEntry> {
        self.blobs.iter().find(|b| &b.digest == digest)
    }

    /// Size of a blob or manifest listed in the index.
    pub fn size_of(&self, digest: &Digest) -> Option<u64> {
        self.blob(digest)
            .map(|b| b.size)
            .or_else(|| self.manifest(digest).map(|m| m.size))
    }

    /// Whether the bundle stores the bytes of `digest` (false for external ones).
    pub fn carries(&self, digest: &Digest) -> bool {
        self.blob(digest)
            .map(|b| b.entry.is_some())
            .or_else(|| self.manifest(digest).map(|m| m.entry.is_some()))
            .unwrap_or(false)
    }
}
