//! `outrider.json`, the bundle index, as serde types. Field names and meaning are
//! specified in `bundle-format.md`; change both together.

use crate::oci::{Digest, Platform};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// The value of `format`: identifies an outrider bundle index.
pub const FORMAT: &str = "outrider-bundle";
/// The newest format version this build reads, and writes when a bundle carries
/// referrers or keeps registries in its names. Version 2 added `referrers`; version 3 added
/// the repositories each referrer was found in, and `registryPath`. A bundle without
/// either is still written as version 1, so an older outrider on the far side reads it.
pub const FORMAT_VERSION: u32 = 3;
/// The version of a bundle that carries no referrers.
pub const FORMAT_VERSION_PLAIN: u32 = 1;

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
    /// Every non-manifest blob stored (configs, layers), in the order images first use them
    /// (their entries may lie in another order: bundle-format.md, "Order").
    pub blobs: Vec<BlobEntry>,
    /// Artifacts attached to manifests (signatures, attestations, SBOMs): which manifest
    /// each describes and how it was found. Version 2 and later.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referrers: Vec<ReferrerEntry>,
    /// Fingerprint (`sha256:` of the DER public key) of the key whose signature over this
    /// index is the entry `outrider.json.sig`; absent when the bundle is not signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<Digest>,
    /// For a bundle split into volumes: which volume this is and where everything lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeInfo>,
    /// Whether the packer asked for each image's registry to be kept as the first path
    /// component of its far-side name (`pack --registry-path`), so images of two registries
    /// with one `repo:tag` land apart. Version 3 and later.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub registry_path: bool,
    /// Series, sequence, creation, expiry and `--since` parents (bundle-format.md, "Lineage").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<crate::lineage::record::Lineage>,
    /// The options that shaped the bundle (platforms, referrers), recorded with `lineage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packed_with: Option<crate::lineage::record::PackedWith>,
    /// Positions of manifests and blobs by digest, built on the first lookup so that every
    /// reader path is linear in entries. The lists are not changed after they are read.
    #[serde(skip)]
    lookup: OnceLock<Lookup>,
}

/// Where a digest stands in the index's lists (the first entry when the index is not yet
/// validated and names one twice).
#[derive(Clone, Debug, Default)]
struct Lookup {
    manifests: HashMap<Digest, usize>,
    blobs: HashMap<Digest, usize>,
    /// Positions in `referrers` by subject.
    referrers: HashMap<Digest, Vec<usize>>,
}

/// Everything one image needs, from the index's summary: manifests children before
/// parents, and config and layer blobs in first-use order, each once.
#[derive(Clone, Debug, Default)]
pub struct Closure {
    /// Manifest digests, children before parents, the top last.
    pub manifests: Vec<Digest>,
    /// Config and layer digests, each once.
    pub blobs: Vec<Digest>,
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

impl ImageEntry {
    /// The registry of the image's name (`docker.io` for `docker.io/library/nginx:1.27`),
    /// whatever it was read from. A validated index always has a parsable reference; the
    /// source is the fallback for one that does not, so a reader never panics on it.
    pub fn registry(&self) -> String {
        match self.reference.parse::<crate::oci::ImageRef>() {
            Ok(r) => r.registry,
            Err(_) => self.source.clone(),
        }
    }

    /// `registry/repository` of the image's name: where its artifacts were found.
    pub fn origin(&self) -> String {
        format!("{}/{}", self.registry(), self.repository)
    }
}

/// One manifest stored in the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// One artifact attached to a manifest: a signature, attestation, SBOM or any OCI
/// referrer. The artifact itself is a manifest in `manifests` (its blobs in `blobs`), never
/// part of an image's closure, so tars leave it out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferrerEntry {
    /// The manifest it describes (an image's manifest, or another artifact).
    pub subject: Digest,
    /// The artifact's manifest.
    pub digest: Digest,
    /// Its artifact type: the manifest's `artifactType`, else its config's media type, else
    /// (for a generic image config, as cosign writes) its first layer's.
    pub artifact_type: String,
    /// When it was found under cosign's tag scheme: that tag, `sha256-<subject hex>.sig`,
    /// `.att` or `.sbom`. Absent for an OCI referrer (its manifest's `subject` names the
    /// subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The images' names (`registry/repository`, after `as`) at whose source repository the
    /// artifact was found: the far side pushes and serves it there only. Version 3 and
    /// later; empty in older bundles, whose artifacts go with every image they describe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<String>,
}

impl ReferrerEntry {
    /// Whether the artifact belongs with an image named `origin` (`registry/repository`):
    /// it was found there, or the bundle (older than version 3) does not say where.
    pub fn found_at(&self, origin: &str) -> bool {
        self.repositories.is_empty() || self.repositories.iter().any(|r| r == origin)
    }
}

/// One blob stored in the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// An index of this build's format and version holding these lists.
    pub fn new(
        tool: String,
        images: Vec<ImageEntry>,
        manifests: Vec<ManifestEntry>,
        blobs: Vec<BlobEntry>,
        referrers: Vec<ReferrerEntry>,
    ) -> BundleIndex {
        let mut index = BundleIndex {
            format: FORMAT.to_owned(),
            format_version: FORMAT_VERSION,
            tool,
            images,
            manifests,
            blobs,
            referrers,
            signed_by: None,
            volume: None,
            registry_path: false,
            lineage: None,
            packed_with: None,
            lookup: OnceLock::new(),
        };
        index.format_version = index.lowest_version();
        index
    }

    /// The lowest version that holds this index, so an older reader on the far side reads
    /// what it can: 1 without referrers; 2 when every image gets the same artifacts whether
    /// or not `repositories` is read (a version 2 reader ignores it and places each
    /// artifact as this one does); 3 otherwise, or with `registryPath`.
    fn lowest_version(&self) -> u32 {
        if self.registry_path {
            return FORMAT_VERSION;
        }
        if self.referrers.is_empty() {
            return FORMAT_VERSION_PLAIN;
        }
        let placed_otherwise = self.images.iter().any(|i| {
            let closure = self.closure(&i.digest);
            self.artifacts_walk(&closure.manifests, Some(&i.origin()))
                .len()
                != self.artifacts_walk(&closure.manifests, None).len()
        });
        if placed_otherwise { FORMAT_VERSION } else { 2 }
    }

    /// Marks the names as keeping their registry (`pack --registry-path`), which only a
    /// version 3 reader understands.
    pub fn with_registry_path(mut self, on: bool) -> BundleIndex {
        if on {
            self.registry_path = true;
            self.format_version = FORMAT_VERSION;
        }
        self
    }

    /// Whether `other` is this index but for `volume.number`: every volume of a set
    /// carries the same index, so a volume whose index says anything else was altered.
    pub fn same_but_number(&self, other: &BundleIndex) -> bool {
        let volume_equal = match (&self.volume, &other.volume) {
            (Some(a), Some(b)) => {
                a.bundle == b.bundle
                    && a.name == b.name
                    && a.total == b.total
                    && a.size_limit == b.size_limit
                    && a.holdings == b.holdings
            }
            (None, None) => true,
            _ => false,
        };
        volume_equal
            && self.format == other.format
            && self.format_version == other.format_version
            && self.registry_path == other.registry_path
            && (&self.lineage, &self.packed_with) == (&other.lineage, &other.packed_with)
            && self.tool == other.tool
            && self.images == other.images
            && self.manifests == other.manifests
            && self.blobs == other.blobs
            && self.referrers == other.referrers
    }

    fn lookup(&self) -> &Lookup {
        self.lookup.get_or_init(|| {
            let mut l = Lookup::default();
            for (i, m) in self.manifests.iter().enumerate() {
                l.manifests.entry(m.digest.clone()).or_insert(i);
            }
            for (i, b) in self.blobs.iter().enumerate() {
                l.blobs.entry(b.digest.clone()).or_insert(i);
            }
            for (i, r) in self.referrers.iter().enumerate() {
                l.referrers.entry(r.subject.clone()).or_default().push(i);
            }
            l
        })
    }

    /// The manifest entry for `digest`.
    pub fn manifest(&self, digest: &Digest) -> Option<&ManifestEntry> {
        let i = *self.lookup().manifests.get(digest)?;
        self.manifests.get(i)
    }

    /// The blob entry for `digest`.
    pub fn blob(&self, digest: &Digest) -> Option<&BlobEntry> {
        let i = *self.lookup().blobs.get(digest)?;
        self.blobs.get(i)
    }

    /// The artifacts attached to `subject`, in index order.
    pub fn referrers_of(&self, subject: &Digest) -> impl Iterator<Item = &ReferrerEntry> {
        self.lookup()
            .referrers
            .get(subject)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.referrers.get(i))
    }

    /// Every artifact attached to the manifests in `manifests` or, recursively, to those
    /// artifacts (a signature of an SBOM), each relation once, subjects before their
    /// artifacts, keeping only those found at `origin` (`registry/repository`: an
    /// artifact belongs to the repository it was found in, not to every image that shares
    /// a manifest with it). Walked with a visited set, so an unvalidated index cannot loop.
    pub fn artifacts_of(&self, manifests: &[Digest], origin: &str) -> Vec<&ReferrerEntry> {
        self.artifacts_walk(manifests, Some(origin))
    }

    /// [`BundleIndex::artifacts_of`], or with `None` every artifact whatever its
    /// repositories (as a version 2 reader places them).
    fn artifacts_walk(&self, manifests: &[Digest], origin: Option<&str>) -> Vec<&ReferrerEntry> {
        let mut out = Vec::new();
        let mut visited: HashSet<&Digest> = HashSet::new();
        let mut queue: std::collections::VecDeque<&Digest> = manifests.iter().collect();
        while let Some(subject) = queue.pop_front() {
            if !visited.insert(subject) {
                continue;
            }
            for r in self
                .referrers_of(subject)
                .filter(|r| origin.is_none_or(|o| r.found_at(o)))
            {
                out.push(r);
                queue.push_back(&r.digest);
            }
        }
        out
    }

    /// What `top` needs, walked iteratively with a visited set, so a cycle or a deep chain
    /// in an unvalidated index cannot recurse or loop (a validated one has neither: see
    /// `validate`). Digests the index does not list are left out.
    pub fn closure(&self, top: &Digest) -> Closure {
        let mut out = Closure::default();
        let mut seen_blobs = HashSet::new();
        let mut visited = HashSet::new();
        // (digest, children already pushed): a node is emitted after its children.
        let mut stack = vec![(top, false)];
        while let Some((d, expanded)) = stack.pop() {
            let Some(m) = self.manifest(d) else { continue };
            if expanded {
                out.manifests.push(d.clone());
                for b in &m.blobs {
                    if seen_blobs.insert(b) {
                        out.blobs.push(b.clone());
                    }
                }
                continue;
            }
            if !visited.insert(d) {
                continue;
            }
            stack.push((d, true));
            stack.extend(m.children.iter().rev().map(|c| (c, false)));
        }
        out
    }

    /// What a push of `image` sends: the image's
    /// closure, then each of its artifacts' (manifests and blobs not already in it), with
    /// the artifacts' relations. Tars use [`BundleIndex::closure`], which holds no artifact.
    pub fn closure_with_artifacts(&self, image: &ImageEntry) -> (Closure, Vec<&ReferrerEntry>) {
        self.closure_at(&image.digest, &image.origin())
    }

    /// [`BundleIndex::closure_with_artifacts`] of the manifest `top` of an image named
    /// `origin` (`registry/repository`).
    pub fn closure_at(&self, top: &Digest, origin: &str) -> (Closure, Vec<&ReferrerEntry>) {
        let mut out = self.closure(top);
        let artifacts = self.artifacts_of(&out.manifests, origin);
        let mut manifests: HashSet<Digest> = out.manifests.iter().cloned().collect();
        let mut blobs: HashSet<Digest> = out.blobs.iter().cloned().collect();
        for r in &artifacts {
            let c = self.closure(&r.digest);
            out.manifests.extend(
                c.manifests
                    .into_iter()
                    .filter(|d| manifests.insert(d.clone())),
            );
            out.blobs
                .extend(c.blobs.into_iter().filter(|d| blobs.insert(d.clone())));
        }
        (out, artifacts)
    }

    /// The artifacts that an older bundle (before version 3) cannot place: listed without
    /// the repositories they were found in, and describing a manifest that two images of
    /// different names share, so each goes with both (it may have been found with one).
    pub fn unplaced_artifacts(&self) -> usize {
        if self.referrers.iter().all(|r| !r.repositories.is_empty()) {
            return 0;
        }
        let mut names: HashMap<&Digest, HashSet<String>> = HashMap::new();
        for image in &self.images {
            for d in self.closure(&image.digest).manifests {
                if let Some(&i) = self.lookup().manifests.get(&d) {
                    names
                        .entry(&self.manifests[i].digest)
                        .or_default()
                        .insert(image.origin());
                }
            }
        }
        self.referrers
            .iter()
            .filter(|r| r.repositories.is_empty())
            .filter(|r| names.get(&r.subject).is_some_and(|n| n.len() > 1))
            .count()
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
