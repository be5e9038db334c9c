//! From what the user asked for to what a bundle must hold: resolve each reference to a
//! manifest, choose platforms in indexes, and collect every manifest and blob once,
//! children before parents. Only manifests (and small configs, for platforms) are read.

use crate::bundle::index::{ImageEntry, ManifestEntry};
use crate::location::{ImageSource, Source, SourceError};
use crate::oci::{Descriptor, Digest, ImageRef, Platform, RawManifest};
use crate::registry::Registries;
use futures_util::StreamExt;
use image::Shared;
use std::collections::HashMap;

mod image;
mod locate;
mod merge;
mod platforms;
mod referrers;

pub use referrers::ReferrerChoice;

/// Which platforms to take from an index.
#[derive(Clone, Debug)]
pub enum PlatformChoice {
    /// Every child, keeping the index byte-exact.
    All,
    /// These platforms (the first matching child for each), as the user named them: a
    /// single-platform image of none of them is an error.
    Only(Vec<Platform>),
    /// This host's platform, the default: chosen from indexes like `Only`, while a
    /// single-platform image is taken whatever its platform, as `docker pull` does.
    Host(Platform),
}

/// Why an image could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Reading manifests failed.
    #[error("`{image}`: {source}")]
    Source {
        /// The image as the user wrote it.
        image: String,
        /// The cause.
        source: Box<SourceError>,
    },
    /// No child of the index matches the platforms asked for.
    #[error(
        "`{image}` has no manifest for {wanted} (it has: {available}); hint: choose with --platform, or take all with --all-platforms"
    )]
    NoPlatform {
        /// The image.
        image: String,
        /// Platforms asked for.
        wanted: String,
        /// Platforms the index offers.
        available: String,
    },
    /// A manifest that cannot be parsed or carried.
    #[error("`{image}`: {source}")]
    Manifest {
        /// The image.
        image: String,
        /// The cause.
        source: crate::oci::ManifestError,
    },
    /// Unreadable OCI layout or unresolvable reference.
    #[error("`{image}`: {reason}")]
    Input {
        /// The image.
        image: String,
        /// The cause.
        reason: String,
    },
}

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
    pub sources: Vec<Source>,
    /// Requested images.
    pub images: Vec<ImageEntry>,
    /// Manifests with their bytes, children first, each once.
    pub manifests: Vec<(RawManifest, ManifestEntry)>,
    /// Blobs in first-use order, each once.
    pub blobs: Vec<PlannedBlob>,
    /// Small blobs already read while planning (configs), keyed by digest.
    pub prefetched: HashMap<Digest, bytes::Bytes>,
    /// Artifacts found for the manifests carried, each (subject, artifact) once.
    pub referrers: Vec<crate::bundle::index::ReferrerEntry>,
    /// What the user should know about choices made for them (a digest pin carried whole).
    pub notes: Vec<String>,
    /// Far-side names keep each image's registry (`pack --registry-path`); recorded in
    /// the index.
    pub registry_path: bool,
    /// Lineage and packing options recorded in the index (bundle-format.md, "Lineage").
    pub provenance: Option<Box<crate::lineage::Provenance>>,
}

impl Plan {
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

    /// Marks what the far side holds as external: listed, not stored. Partly carried
    /// indexes stay: the far side never holds them, and a push needs their bytes.
    pub fn skip(&mut self, far: &crate::far_side::FarSide) {
        for blob in &mut self.blobs {
            blob.external = far.repository_of(&blob.descriptor.digest).cloned();
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

/// How [`plan`] may read.
#[derive(Default)]
pub struct PlanOptions {
    /// Read small configs of single-platform images to learn their platform (a blob GET
    /// each); `outrider plan` reads manifests only.
    pub fetch_configs: bool,
    /// Manifests already at hand (from `--since` bundles), by digest: a tag whose HEAD
    /// answers one of these digests, and a child with one, are not fetched again.
    pub known: HashMap<Digest, RawManifest>,
    /// Carry the signatures, attestations, SBOMs and other referrers of every manifest
    /// carried (from registries), keeping these; `None` carries images only.
    pub referrers: Option<ReferrerChoice>,
}

impl PlanError {
    /// The registry-wide failure behind this error (unreachable, untrusted, credentials
    /// rejected), shared with every other image from that registry: report it once.
    pub fn registry_failure(&self) -> Option<&std::sync::Arc<crate::registry::RegistryError>> {
        match self {
            PlanError::Source { source, .. } => match source.as_ref() {
                SourceError::Registry(crate::registry::RegistryError::Shared(e)) => Some(e),
                _ => None,
            },
            _ => None,
        }
    }

    /// The image as the user wrote it.
    pub fn image(&self) -> &str {
        match self {
            PlanError::Source { image, .. }
            | PlanError::NoPlatform { image, .. }
            | PlanError::Manifest { image, .. }
            | PlanError::Input { image, .. } => image,
        }
    }
}

/// Images resolved at once, and children or artifact subjects of one image fetched at
/// once: each is a few round trips, so this many keep a registry busy while a remote one
/// answers, and stay well under the requests a registry client sends at once.
const AT_ONCE: usize = 8;

/// Resolves every image and gathers the plan. Errors for one image do not stop the
/// others; they are returned beside the plan. Images at registries are resolved several
/// at once; the plan is the same whichever answers first.
pub async fn plan(
    requests: &[String],
    choice: &PlatformChoice,
    registries: &Registries,
    options: &PlanOptions,
) -> (Plan, Vec<PlanError>) {
    let shared = Shared {
        options,
        choice,
        api: referrers::ApiSupport::default(),
    };
    let shared = &shared;
    // A local source is read on the way through, in order: it has no round trips to
    // overlap, and the images of one tar share what opening it made.
    let mut ahead = futures_util::stream::iter(requests)
        .map(|request| async move {
            let parsed = match locate::parse(request) {
                Ok(p) => p,
                Err(e) => return (request, Ahead::Planned(Err(e))),
            };
            match parsed.source {
                ImageSource::Registry(r) => {
                    let located = locate::at_registry(request, r, registries, options).await;
                    let planned = match located {
                        Ok(l) => shared.image(request, parsed.name, l).await,
                        Err(e) => Err(e),
                    };
                    (request, Ahead::Planned(planned))
                }
                ImageSource::Layout { kind, path, tag } => (
                    request,
                    Ahead::Local {
                        kind,
                        path,
                        tag,
                        name: parsed.name,
                    },
                ),
            }
        })
        .buffered(AT_ONCE);
    let mut merged = merge::Merged::new();
    let mut opened = HashMap::new();
    let mut errors = Vec::new();
    while let Some((request, next)) = ahead.next().await {
        let planned = match next {
            Ahead::Planned(p) => p,
            Ahead::Local {
                kind,
                path,
                tag,
                name,
            } => match locate::in_layout(request, kind, &path, tag.as_deref(), &mut opened) {
                Ok(l) => shared.image(request, name, l).await,
                Err(e) => Err(e),
            },
        };
        match planned {
            Ok(image) => merged.add(image),
            Err(e) => errors.push(e),
        }
    }
    (merged.plan, errors)
}

/// A request, planned ahead or left for the ordered pass.
enum Ahead {
    Planned(Result<Plan, PlanError>),
    Local {
        kind: crate::oci_layout::LocalKind,
        path: std::path::PathBuf,
        tag: Option<String>,
        name: Option<ImageRef>,
    },
}

impl Plan {
    fn empty() -> Plan {
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
}
