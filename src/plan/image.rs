//! Planning one image: its manifests children first (an index's children fetched several
//! at once, added in its order), its blobs in first-use order, and its artifacts. Each
//! image gets its own [`Builder`], so images can be planned at once and joined in order.

use super::error::PlanError;
use super::locate::Located;
use super::options::{AT_ONCE, PlanOptions, PlatformChoice, ReferrerChoice};
use super::planned::{Plan, PlannedBlob};
use super::platforms::{choose, config_platform};
use super::referrers::discover;
use crate::bundle::index::{ImageEntry, ManifestEntry, ReferrerEntry};
use crate::oci::{Descriptor, Digest, ParsedManifest, Platform, RawManifest};
use crate::sources::{Resolved, Source};
use futures_util::{StreamExt, TryStreamExt};
use std::collections::{HashMap, HashSet};

/// What every image's plan shares: the user's choices.
pub(super) struct Shared<'a> {
    pub(super) options: &'a PlanOptions,
    pub(super) choice: &'a PlatformChoice,
}

/// Plans one image: its manifests children first, its blobs in the order they are used,
/// its artifacts. Several run at once; the merge joins them in request
/// order and keeps each blob once, so a blob two of its manifests share is listed twice
/// here.
pub(super) struct Builder<'a> {
    shared: &'a Shared<'a>,
    plan: Plan,
    seen_manifests: HashMap<Digest, usize>,
    /// Adding an artifact's manifests: no platform is read, chosen or recorded.
    artifact: bool,
    /// The image being added was named by digest: its index is carried whole, so that
    /// digest resolves at the far side.
    pinned: bool,
}

impl Shared<'_> {
    /// The plan of one image whose top manifest is found: everything below it, and its
    /// artifacts when they are carried.
    pub(super) async fn image(&self, request: &str, located: Located) -> Result<Plan, PlanError> {
        let Located {
            source,
            resolved:
                Resolved {
                    name: image_ref,
                    top,
                    pinned,
                    notes,
                },
            name,
        } = located;
        let located_source = source;
        let source = &*located_source;
        let mut b = Builder {
            shared: self,
            plan: Plan::empty(),
            seen_manifests: HashMap::new(),
            artifact: false,
            pinned,
        };
        b.plan.notes = notes;
        b.plan.sources.push(located_source.clone());
        // Read from the source's repository; named (and pushed) as the user said.
        let read_repo = image_ref.repository.clone();
        let image_ref = match name {
            Some(mut name) => {
                name.digest = None;
                name
            }
            None => image_ref,
        };
        let mut platforms = Vec::new();
        b.add_manifest(
            request,
            source,
            &read_repo,
            top.clone(),
            None,
            true,
            &mut platforms,
        )
        .await?;
        if let Some(choice) = &self.options.referrers {
            // Recorded under the image's name, as the far side knows it.
            let origin = format!("{}/{}", image_ref.registry, image_ref.repository);
            b.add_artifacts(request, source, &read_repo, &top.digest, choice, &origin)
                .await?;
        }
        b.plan.images.push(ImageEntry {
            requested: request.to_owned(),
            reference: image_ref.to_string(),
            source: source.describe(),
            repository: image_ref.repository.clone(),
            tag: image_ref.tag.clone(),
            digest: top.digest.clone(),
            media_type: top.media_type.clone(),
            platforms,
        });
        Ok(b.plan)
    }
}

impl Builder<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn add_manifest(
        &mut self,
        request: &str,
        source: &dyn Source,
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
                let chosen = choose(self.shared.choice, request, &manifests, top, self.pinned)?;
                if top && self.pinned && !matches!(self.shared.choice, PlatformChoice::All) {
                    self.plan.notes.push(format!(
                        "`{request}` is pinned to an index digest: carrying all {} of its manifests so that digest resolves at the far side (pin a platform manifest's digest to carry one platform)",
                        manifests.len()
                    ));
                }
                entry.complete = Some(chosen.len() == manifests.len());
                // Fetched several at once, added in the index's order.
                let known = &self.shared.options.known;
                let fetched: Vec<RawManifest> = futures_util::stream::iter(&chosen)
                    .map(|child| async move {
                        match known.get(&child.descriptor.digest) {
                            Some(m) => Ok(m.clone()),
                            None => source.manifest(repo, &child.descriptor).await,
                        }
                    })
                    .buffered(AT_ONCE)
                    .try_collect()
                    .await
                    .map_err(PlanError::reading(request))?;
                for (child, child_manifest) in chosen.iter().zip(fetched) {
                    entry.children.push(child.descriptor.digest.clone());
                    Box::pin(self.add_manifest(
                        request,
                        source,
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
                    None if self.shared.options.fetch_configs && !self.artifact => {
                        match config_platform(source, repo, &config).await {
                            Some((p, bytes)) => {
                                self.plan.prefetched.insert(config.digest.clone(), bytes);
                                Some(p)
                            }
                            None => None,
                        }
                    }
                    None => None,
                };
                if top
                    && let (PlatformChoice::Only(wanted), Some(p)) = (self.shared.choice, &platform)
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
                    self.add_blob(source, desc, repo);
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

    /// Adds a blob of this image's one source.
    fn add_blob(&mut self, source: &dyn Source, desc: &Descriptor, repo: &str) {
        self.plan.blobs.push(PlannedBlob {
            descriptor: desc.clone(),
            repositories: vec![repo.to_owned()],
            source: 0,
            external: source.held_at_far_side(&desc.digest),
        });
    }

    /// Finds and adds the artifacts the source keeps for every manifest the image `top`
    /// carries.
    async fn add_artifacts(
        &mut self,
        request: &str,
        source: &dyn Source,
        repo: &str,
        top: &Digest,
        choice: &ReferrerChoice,
        origin: &str,
    ) -> Result<(), PlanError> {
        let subjects = self.carried_manifests(top);
        let found = discover(source, repo, &subjects, choice)
            .await
            .map_err(PlanError::reading(request))?;
        self.artifact = true;
        let mut result = Ok(());
        for f in found {
            self.plan.referrers.push(ReferrerEntry {
                subject: f.subject,
                digest: f.manifest.digest.clone(),
                artifact_type: f.artifact_type,
                tag: f.tag,
                repositories: vec![origin.to_owned()],
            });
            result = self
                .add_manifest(
                    request,
                    source,
                    repo,
                    f.manifest,
                    None,
                    false,
                    &mut Vec::new(),
                )
                .await;
            if result.is_err() {
                break;
            }
        }
        self.artifact = false;
        result
    }

    /// The manifests planned for `top`: itself and its carried children, recursively.
    fn carried_manifests(&self, top: &Digest) -> Vec<Digest> {
        let mut out = Vec::new();
        let mut stack = vec![top.clone()];
        let mut seen = HashSet::new();
        while let Some(d) = stack.pop() {
            if !seen.insert(d.clone()) {
                continue;
            }
            if let Some(&i) = self.seen_manifests.get(&d) {
                stack.extend(self.plan.manifests[i].1.children.iter().cloned());
            }
            out.push(d);
        }
        out
    }
}
