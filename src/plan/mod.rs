//! From what the user asked for to what a bundle must hold: resolve each reference to a
//! manifest, choose platforms in indexes, and collect every manifest and blob once,
//! children before parents. Only manifests (and small configs, for platforms) are read.

use crate::bundle::index::{ImageEntry, ManifestEntry};
use crate::location::{ImageRequest, ImageSource, Source, SourceError};
use crate::oci::{Descriptor, Digest, ParsedManifest, Platform, RawManifest};
use crate::registry::{Access, Registries};
use std::collections::{BTreeMap, HashMap, HashSet};

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

struct Builder<'a> {
    options: &'a PlanOptions,
    plan: Plan,
    seen_manifests: HashMap<Digest, usize>,
    seen_blobs: HashMap<Digest, usize>,
    choice: &'a PlatformChoice,
    /// Adding an artifact's manifests: no platform is read, chosen or recorded.
    artifact: bool,
    /// The image being added was named by digest: its index is carried whole, so that
    /// digest resolves at the far side.
    pinned: bool,
    /// Which registries answer the referrers API.
    api: referrers::ApiSupport,
    /// (source, repository, subject) triples whose artifacts were already looked for.
    discovered: HashSet<(usize, String, Digest)>,
    /// (subject, artifact) pairs already recorded.
    related: HashSet<(Digest, Digest)>,
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

/// Resolves every image and gathers the plan. Errors for one image do not stop the
/// others; they are returned beside the plan.
pub async fn plan(
    requests: &[String],
    choice: &PlatformChoice,
    registries: &Registries,
    options: &PlanOptions,
) -> (Plan, Vec<PlanError>) {
    let mut b = Builder {
        options,
        plan: Plan {
            sources: Vec::new(),
            images: Vec::new(),
            manifests: Vec::new(),
            blobs: Vec::new(),
            prefetched: HashMap::new(),
            referrers: Vec::new(),
            notes: Vec::new(),
        },
        seen_manifests: HashMap::new(),
        seen_blobs: HashMap::new(),
        choice,
        artifact: false,
        pinned: false,
        api: referrers::ApiSupport::default(),
        discovered: HashSet::new(),
        related: HashSet::new(),
    };
    let mut errors = Vec::new();
    let mut source_ids: BTreeMap<String, usize> = BTreeMap::new();
    for request in requests {
        match b.add_image(request, registries, &mut source_ids).await {
            Ok(()) => {}
            Err(e) => errors.push(e),
        }
    }
    (b.plan, errors)
}

impl Builder<'_> {
    async fn add_image(
        &mut self,
        request: &str,
        registries: &Registries,
        source_ids: &mut BTreeMap<String, usize>,
    ) -> Result<(), PlanError> {
        let input = |reason: String| PlanError::Input {
            image: request.to_owned(),
            reason,
        };
        let src_err = |source: SourceError| PlanError::Source {
            image: request.to_owned(),
            source: Box::new(source),
        };
        let parsed = ImageRequest::parse(request).map_err(|e| input(e.to_string()))?;
        self.pinned = matches!(&parsed.source, ImageSource::Registry(r) if r.digest.is_some());
        let (source, image_ref, top) = match parsed.source {
            ImageSource::Registry(r) => {
                let registry = registries
                    .get(&r.registry)
                    .await
                    .map_err(|e| src_err(e.into()))?;
                registry
                    .ready(&Access::Pull(r.repository.clone()))
                    .await
                    .map_err(|e| src_err(e.into()))?;
                // HEAD first when manifests are at hand: registries count GETs against
                // rate limits, and an unchanged tag needs no GET at all.
                let known = match (&r.digest, self.options.known.is_empty()) {
                    (Some(d), _) => self.options.known.get(d).cloned(),
                    (None, false) => match registry
                        .head_manifest(&r.repository, &r.manifest_reference())
                        .await
                    {
                        Ok(Some(d)) => self.options.known.get(&d).cloned(),
                        _ => None,
                    },
                    (None, true) => None,
                };
                let top = match known {
                    Some(m) => m,
                    None => registry
                        .get_manifest(&r.repository, &r.manifest_reference())
                        .await
                        .map_err(|e| src_err(e.into()))?,
                };
                (Source::Registry(registry), r, top)
            }
            ImageSource::Layout { kind, path, tag } => {
                // One opened layout per file: a tar is scanned once, and what a legacy
                // `docker save` tar yields is shared by its images.
                let key = format!("{}:{}", kind.prefix(), path.display());
                let layout = match source_ids.get(&key).map(|&i| &self.plan.sources[i]) {
                    Some(Source::Layout(l)) => l.clone(),
                    _ => crate::oci_layout::OciLayout::open(kind, &path)
                        .map_err(|e| src_err(e.into()))?,
                };
                let (r, desc) = layout
                    .resolve(tag.as_deref())
                    .map_err(|e| src_err(e.into()))?;
                let top = layout.manifest(&desc).map_err(|e| src_err(e.into()))?;
                let notes = std::mem::take(
                    &mut layout.made.write().unwrap_or_else(|e| e.into_inner()).notes,
                );
                self.plan.notes.extend(notes);
                (Source::Layout(layout), r, top)
            }
        };
        // Read from the source's repository; named (and pushed) as the user said.
        let read_repo = image_ref.repository.clone();
        let image_ref = match parsed.name {
            Some(mut name) => {
                name.digest = None;
                name
            }
            None => image_ref,
        };
        let key = source.describe();
        let source_id = *source_ids.entry(key.clone()).or_insert_with(|| {
            self.plan.sources.push(source.clone());
            self.plan.sources.len() - 1
        });
        let mut platforms = Vec::new();
        self.add_manifest(
            request,
            &source,
            source_id,
            &read_repo,
            top.clone(),
            None,
            true,
            &mut platforms,
        )
        .await?;
        if let (Some(choice), Source::Registry(registry)) = (&self.options.referrers, &source) {
            self.add_artifacts(
                request,
                registry,
                &source,
                source_id,
                &read_repo,
                &top.digest,
                choice,
            )
            .await?;
        }
        self.plan.images.push(ImageEntry {
            requested: request.to_owned(),
            reference: image_ref.to_string(),
            source: key,
            repository: image_ref.repository.clone(),
            tag: image_ref.tag.clone(),
            digest: top.digest.clone(),
            media_type: top.media_type.clone(),
            platforms,
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn add_manifest(
        &mut self,
        request: &str,
        source: &Source,
        source_id: usize,
        repo: &str,
        manifest: RawManifest,
        platform: Option<Platform>,
        top: bool,
        platforms: &mut Vec<Platform>,
    ) -> Result<(), PlanError> {
        let parsed = manifest.parse().map_err(|source| PlanError::Manifest {
            image: request.into(),
            source,
        })?;
        let mut entry = ManifestEntry {
            digest: manifest.digest.clone(),
            media_type: manifest.media_type.clone(),
            size: manifest.bytes.len() as u64,
            platform: platform.clone(),
            children: Vec::new(),
            complete: None,
            blobs: Vec::new(),
            entry: Some(crate::bundle::blob_entry(&manifest.digest)),
            destination_repository: None,
        };
        match parsed {
            ParsedManifest::Index { manifests } => {
                let chosen = self.choose(request, &manifests, top)?;
                if top && self.pinned && !matches!(self.choice, PlatformChoice::All) {
                    self.plan.notes.push(format!(
                        "`{request}` is pinned to an index digest: carrying all {} of its manifests so that digest resolves at the far side (pin a platform manifest's digest to carry one platform)",
                        manifests.len()
                    ));
                }
                entry.complete = Some(chosen.len() == manifests.len());
                for child in chosen {
                    let child_manifest = match self.options.known.get(&child.descriptor.digest) {
                        Some(m) => m.clone(),
                        None => source
                            .manifest(repo, &child.descriptor)
                            .await
                            .map_err(|e| PlanError::Source {
                                image: request.into(),
                                source: Box::new(e),
                            })?,
                    };
                    entry.children.push(child.descriptor.digest.clone());
                    Box::pin(self.add_manifest(
                        request,
                        source,
                        source_id,
                        repo,
                        child_manifest,
                        child.platform.clone(),
                        false,
                        platforms,
                    ))
                    .await?;
                }
            }
            ParsedManifest::Image { config, layers } => {
                let platform = match platform {
                    Some(p) => Some(p),
                    None if self.options.fetch_configs && !self.artifact => {
                        self.config_platform(source, repo, &config).await
                    }
                    None => None,
                };
                if top
                    && let (PlatformChoice::Only(wanted), Some(p)) = (self.choice, &platform)
                    && !p.is_unknown()
                    && !wanted.iter().any(|w| w.matches(p))
                {
                    // Packing it anyway would carry a platform nobody asked for, with exit 0.
                    return Err(PlanError::NoPlatform {
                        image: request.into(),
                        wanted: wanted
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                        available: format!("{p} only: a single-platform image"),
                    });
                }
                if let Some(p) = &platform
                    && !p.is_unknown()
                {
                    platforms.push(p.clone());
                }
                entry.platform = platform;
                for desc in std::iter::once(&config).chain(layers.iter()) {
                    entry.blobs.push(desc.digest.clone());
                    self.add_blob(desc, repo, source_id);
                }
            }
        }
        if !self.seen_manifests.contains_key(&manifest.digest) {
            self.seen_manifests
                .insert(manifest.digest.clone(), self.plan.manifests.len());
            self.plan.manifests.push((manifest, entry));
        }
        Ok(())
    }

    fn add_blob(&mut self, desc: &Descriptor, repo: &str, source_id: usize) {
        match self.seen_blobs.get(&desc.digest) {
            Some(&i) => {
                let blob = &mut self.plan.blobs[i];
                if !blob.repositories.iter().any(|r| r == repo) {
                    blob.repositories.push(repo.to_owned());
                }
            }
            None => {
                self.seen_blobs
                    .insert(desc.digest.clone(), self.plan.blobs.len());
                self.plan.blobs.push(PlannedBlob {
                    descriptor: desc.clone(),
                    repositories: vec![repo.to_owned()],
                    source: source_id,
                    external: None,
                });
            }
        }
    }
}
