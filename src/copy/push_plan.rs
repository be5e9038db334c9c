//! What a push into a registry is asked to do ([`PushOptions`]) and what it plans per
//! image (`ImagePush`, with `Presence` for the content the bundle expects there).
//! These types sit below the push routine (`to_registry`) and the leaves it calls
//! (`blob_upload`, `push_external`, `push_referrers`), so no leaf imports its caller.

use crate::bundle::index::{ImageEntry, ReferrerEntry};
use crate::oci::Digest;
use std::collections::{BTreeSet, HashMap};

/// Settings for a push.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// How destination repositories are named (prefix, registry path).
    pub naming: crate::destination::Naming,
    /// Blobs moved at once.
    pub jobs: usize,
    /// Blobs larger than this are uploaded in chunks.
    pub chunk_threshold: u64,
    /// Chunk size for chunked uploads.
    pub chunk_size: u64,
    /// Fail before writing when anything external is missing at the destination.
    pub strict: bool,
    /// What to do with a tag the registry already has for another image.
    pub existing_tags: ExistingTags,
}

/// `--existing-tags`: what to do with a tag the registry already has for another image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExistingTags {
    /// Move it to the bundle's image (as a push always did).
    #[default]
    Overwrite,
    /// Leave it where it is, and say so.
    Keep,
    /// Report the image failed.
    Fail,
}

impl ExistingTags {
    /// The name the option takes.
    pub fn name(self) -> &'static str {
        match self {
            ExistingTags::Overwrite => "overwrite",
            ExistingTags::Keep => "keep",
            ExistingTags::Fail => "fail",
        }
    }
}

/// Where an external item will come from at the destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Presence {
    /// Already in the image's repository.
    Here,
    /// In this other repository: mount (blob) or copy (manifest) from it.
    In(String),
    /// Nowhere known.
    Missing,
}

/// Per-image plan of a push.
pub(super) struct ImagePush<'a> {
    pub(super) image: &'a ImageEntry,
    pub(super) repo: String,
    /// The image's manifests, children first, then its artifacts'.
    pub(super) manifests: Vec<Digest>,
    pub(super) blobs: BTreeSet<Digest>,
    /// The image's artifacts: pushed after its tag, by their routes.
    pub(super) artifacts: Vec<ReferrerEntry>,
    /// Where each external blob or manifest is, at the destination.
    pub(super) external: HashMap<Digest, Presence>,
    pub(super) missing: Vec<String>,
    /// Where the bundle disagrees with itself about this image (`bundle::agreement`).
    pub(super) faults: Vec<String>,
}
