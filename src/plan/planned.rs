//! What a plan holds: the sources, images, manifests (children first) and blobs (first
//! use first) a pack will write, and the sums the space checks and reports need.

use crate::bundle::index::{ImageEntry, ManifestEntry, ReferrerEntry};
use crate::oci::{Descriptor, Digest, RawManifest};
use crate::sources::Source;
use std::collections::HashMap;
use std::sync::Arc;

/// A blob to carry, and where to read it.
#[derive(Clone, Debug)]
pub struct PlannedBlob {
    /// Its descriptor.
    pub descriptor: Descriptor,
    /// Source repositories that use it, first one to read from.
    pub repositories: Vec<String>,
    /// Index into [`Plan::sources`].
    pub source: usize,
    /// When the far side holds it already: a repository there that does. Not stored.
    pub external: Option<String>,
}

/// Everything a pack will write.
pub struct Plan {
    /// Sources, referenced by index from blobs.
    pub sources: Vec<Arc<dyn Source>>,
    /// Requested images.
    pub images: Vec<ImageEntry>,
    /// Manifests with their bytes, children first, each once.
    pub manifests: Vec<(RawManifest, ManifestEntry)>,
    /// Blobs in first-use order, each once.
    pub blobs: Vec<PlannedBlob>,
    /// Small blobs already read while planning (configs), keyed by digest.
    pub prefetched: HashMap<Digest, bytes::Bytes>,
    /// Artifacts found for the manifests carried, each (subject, artifact) once.
    pub referrers: Vec<ReferrerEntry>,
    /// What the user should know about choices made for them (a digest pin carried whole).
    pub notes: Vec<String>,
    /// Far-side names keep each image's registry (`pack --registry-path`); recorded in
    /// the index.
    pub registry_path: bool,
    /// Lineage and packing options recorded in the index (bundle-format.md, "Lineage").
    pub provenance: Option<Box<crate::lineage::Provenance>>,
}

impl Plan {
    /// A plan of nothing.
    pub fn empty() -> Plan {
        Plan {
            sources: Vec::new(),
            images: Vec::new(),
            manifests: Vec::new(),
            blobs: Vec::new(),
            prefetched: HashMap::new(),
            referrers: Vec::new(),
            notes: Vec::new(),
            registry_path: false,
            provenance: None,
        }
    }

    /// Bytes of all blobs and manifests.
    pub fn total_bytes(&self) -> u64 {
        self.blobs.iter().map(|b| b.descriptor.size).sum::<u64>()
            + self
                .manifests
                .iter()
                .map(|(m, _)| m.bytes.len() as u64)
                .sum::<u64>()
    }

    /// Zip entries the bundle stores: blobs and manifests the far side does not hold
    /// (what the space check counts headers for).
    pub fn carried_entries(&self) -> u64 {
        (self.blobs.iter().filter(|b| b.external.is_none()).count()
            + self
                .manifests
                .iter()
                .filter(|(_, e)| e.entry.is_some())
                .count()) as u64
    }

    /// Bytes to store: blobs and manifests the far side does not hold.
    pub fn carried_bytes(&self) -> u64 {
        self.blobs
            .iter()
            .filter(|b| b.external.is_none())
            .map(|b| b.descriptor.size)
            .sum::<u64>()
            + self
                .manifests
                .iter()
                .filter(|(_, e)| e.entry.is_some())
                .map(|(m, _)| m.bytes.len() as u64)
                .sum::<u64>()
    }

    /// Marks what the far side holds as external: listed, not stored (as are blobs the
    /// source itself says the far side holds). Partly carried indexes stay: the far side
    /// never holds them, and a push needs their bytes.
    pub fn skip(&mut self, far: &crate::far_side::FarSide) {
        for blob in &mut self.blobs {
            blob.external = far
                .repository_of(&blob.descriptor.digest)
                .cloned()
                .or(blob.external.take());
        }
        for (_, entry) in &mut self.manifests {
            if entry.complete != Some(false)
                && let Some(repo) = far.repository_of(&entry.digest)
            {
                entry.entry = None;
                entry.destination_repository = Some(repo.clone());
            }
        }
    }
}
