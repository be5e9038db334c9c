//! Pushes a bundle into a registry: blobs first (HEAD to skip what exists, cross-repository
//! mount where this run already pushed the blob elsewhere, upload otherwise), then
//! manifests children-first, by digest before by tag, then every tag read back and compared.
//! An image is reported failed, and its manifests never pushed, when any blob it needs failed.
//!
//! Incremental bundles list some blobs and manifests as external (held by the far side).
//! Before anything is written, every external one is checked at the destination (in the
//! image's repository, else in the repository the bundle names, to mount or copy from).
//! `--strict` fails up front on any missing; otherwise images with something missing are
//! skipped and reported, and the rest are pushed.

use super::push_external::{check_external, manifest_bytes};
pub use super::push_plan::{ExistingTags, PushOptions};
use super::push_plan::{ImagePush, Presence};
use super::push_referrers::{ArtifactRoutes, push_artifacts};
use crate::bundle::agreement::Checked;
use crate::bundle::reader::BundleReader;
use crate::oci::{Digest, RawManifest};
use crate::progress::Progress;
use crate::receipt::Receipt;
use crate::registry::Registry;
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};

/// Outcome for one image.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReport {
    /// Source reference from the bundle.
    pub source: String,
    /// Where it went: `host/repo:tag` or `host/repo@digest`.
    pub destination: String,
    /// Digest the destination tag now points at.
    pub digest: Option<Digest>,
    /// `ok` or the error.
    pub status: String,
    /// Extra words: a reduced index's new digest, a platform manifest tagged directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The image's signatures, attestations, SBOMs and referrers, by route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<ArtifactRoutes>,
    /// What happened to its tag (none for an untagged image or one not pushed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<TagOutcome>,
}

/// What a push did with an image's tag.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TagOutcome {
    /// The registry had no such tag: it was set.
    New,
    /// The tag already named this image: nothing was written.
    Identical,
    /// The tag named another image and was moved (`--existing-tags overwrite`).
    Overwritten,
    /// The tag names another image and was left so (`--existing-tags keep`).
    Kept,
}

impl TagOutcome {
    /// The word the table shows.
    pub fn word(&self) -> &'static str {
        match self {
            TagOutcome::New => "new",
            TagOutcome::Identical => "identical",
            TagOutcome::Overwritten => "overwritten",
            TagOutcome::Kept => "kept",
        }
    }
}

impl ImageReport {
    /// Whether the image arrived whole.
    pub fn ok(&self) -> bool {
        self.status == "ok"
    }
}

/// `--strict` found external content missing at the destination; nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("{} blobs or manifests the bundle expects at `{registry}` are missing there; nothing was pushed:\n{}", missing.len(), missing.join("\n"))]
pub struct MissingAtDestination {
    /// Registry host.
    pub registry: String,
    /// One line per missing item: image, digest, where it was looked for.
    pub missing: Vec<String>,
}

/// What a push did.
pub struct PushResult {
    /// One report per image.
    pub reports: Vec<ImageReport>,
    /// What the destination holds for the images pushed.
    pub receipt: Receipt,
}

/// Pushes every image of the bundle.
pub async fn push_bundle(
    reader: &BundleReader,
    registry: &Registry,
    options: &PushOptions,
    progress: &Progress,
) -> Result<PushResult, MissingAtDestination> {
    let index = &reader.index;
    let mut plans = Vec::new();
    // The manifests decide: an image whose manifests disagree with the index is not pushed.
    let mut checked = Checked::default();
    for image in &index.images {
        let repo = options.naming.repository(image);
        let (closure, artifacts) = index.closure_with_artifacts(image);
        let mut plan = ImagePush {
            image,
            repo,
            manifests: closure.manifests,
            blobs: closure.blobs.into_iter().collect(),
            artifacts: artifacts.into_iter().cloned().collect(),
            external: HashMap::new(),
            missing: Vec::new(),
            faults: checked.image_faults(index, image, reader),
        };
        if plan.faults.is_empty() {
            check_external(reader, registry, &mut plan).await;
        }
        plans.push(plan);
    }
    if options.strict {
        let mut missing: Vec<String> = plans
            .iter()
            .flat_map(|p| p.missing.iter().cloned())
            .collect();
        missing.extend(crate::lineage::needs(index).filter(|_| !missing.is_empty()));
        if !missing.is_empty() {
            return Err(MissingAtDestination {
                registry: registry.name.clone(),
                missing,
            });
        }
    }
    // Which repositories need which carried blobs; externals are mounted or already there.
    let mut uploads = Vec::new();
    let mut mounts = Vec::new();
    let mut first: HashMap<Digest, String> = HashMap::new();
    for plan in plans
        .iter()
        .filter(|p| p.missing.is_empty() && p.faults.is_empty())
    {
        for b in &plan.blobs {
            match plan.external.get(b) {
                Some(Presence::Here) => {}
                Some(Presence::In(from)) => {
                    mounts.push((plan.repo.clone(), b.clone(), Some(from.clone())))
                }
                Some(Presence::Missing) => {}
                None => match first.get(b) {
                    Some(from) if from == &plan.repo => {}
                    Some(from) => mounts.push((plan.repo.clone(), b.clone(), Some(from.clone()))),
                    None => {
                        first.insert(b.clone(), plan.repo.clone());
                        uploads.push((plan.repo.clone(), b.clone(), None));
                    }
                },
            }
        }
    }
    mounts.dedup();
    progress.expect_items((uploads.len() + mounts.len()) as u64);
    let mut failed: HashMap<(String, Digest), String> = HashMap::new();
    for batch in [uploads, mounts] {
        let results: Vec<_> =
            futures_util::stream::iter(batch.into_iter().map(|(repo, digest, from)| async move {
                let result = super::blob_upload::push_blob(
                    reader,
                    registry,
                    &repo,
                    &digest,
                    from.as_deref(),
                    options,
                    progress,
                )
                .await;
                (repo, digest, result)
            }))
            .buffer_unordered(options.jobs.max(1))
            .collect()
            .await;
        for (repo, digest, result) in results {
            if let Err(e) = result {
                tracing::debug!(%repo, %digest, error = %e, "blob push failed");
                failed.insert((repo, digest), e);
            }
        }
    }
    let mut reports = Vec::new();
    let mut receipt = Receipt::new(&registry.name);
    let mut pushed_manifests: HashSet<(String, Digest)> = HashSet::new();
    // (repository, tag) → the digest this run set it to, and the image that did.
    let mut tagged: HashMap<(String, String), (Digest, String)> = HashMap::new();
    for plan in &plans {
        let image = plan.image;
        let destination = crate::destination::reference(&registry.name, &plan.repo, image);
        let mut report = ImageReport {
            source: image.reference.clone(),
            destination,
            digest: None,
            status: "ok".into(),
            note: None,
            artifacts: None,
            tag: None,
        };
        if !plan.faults.is_empty() {
            report.status = crate::bundle::agreement::refusal(&plan.faults);
            reports.push(report);
            continue;
        }
        if !plan.missing.is_empty() {
            report.status = format!(
                "skipped: {} blobs or manifests missing at the destination: {}{}",
                plan.missing.len(),
                plan.missing.join("; "),
                crate::lineage::needs(index)
                    .map(|n| format!("; {n}"))
                    .unwrap_or_default()
            );
            reports.push(report);
            continue;
        }
        if let Some(((_, d), e)) = plan
            .blobs
            .iter()
            .find_map(|b| failed.get_key_value(&(plan.repo.clone(), b.clone())))
        {
            report.status = format!("blob {d} failed: {e}");
            reports.push(report);
            continue;
        }
        // The tag moves last, after the image's artifacts: an interrupted push never leaves
        // a tag on an image whose signature has not arrived.
        let manifests = push_manifests(reader, registry, plan, &mut pushed_manifests).await;
        let manifests = match manifests {
            Ok((target, note, mut pushed)) => {
                let mut artifact_tags = Vec::new();
                let mut artifacts = Ok(None);
                if !plan.artifacts.is_empty() {
                    artifacts = push_artifacts(reader, registry, plan).await.map(|done| {
                        artifact_tags = done.tags;
                        pushed.extend(done.manifests);
                        Some(done.routes)
                    });
                }
                match artifacts {
                    Ok(routes) => {
                        report.artifacts = routes;
                        move_tag(registry, plan, &target, &mut tagged, options.existing_tags)
                            .await
                            .map(|tag| {
                                let kept = tag.as_ref().and_then(|(_, there)| there.clone());
                                report.tag = tag.map(|(outcome, _)| outcome);
                                (target.digest.clone(), note, pushed, artifact_tags, kept)
                            })
                    }
                    Err(e) => Err(format!("artifacts: {e}")),
                }
            }
            Err(e) => Err(e),
        };
        match manifests {
            Ok((digest, note, pushed, artifact_tags, kept)) => {
                report.note = match &kept {
                    Some(there) => Some(format!("tag kept: the registry's names {there}")),
                    None => note,
                };
                report.digest = Some(digest.clone());
                // A tag just found naming this image, or left naming another, is not
                // read back: it was read a moment ago, and nothing was written to it.
                let written = matches!(report.tag, Some(TagOutcome::New | TagOutcome::Overwritten));
                if let Some(tag) = image.tag.as_ref().filter(|_| written) {
                    match registry.head_manifest(&plan.repo, tag).await {
                        Ok(Some(found)) if found == digest => {}
                        Ok(found) => {
                            report.status = format!(
                                "read back `{}:{tag}`: expected {digest}, registry has {}",
                                plan.repo,
                                found.map_or("nothing".into(), |f| f.to_string())
                            )
                        }
                        Err(e) => report.status = format!("read back `{}:{tag}`: {e}", plan.repo),
                    }
                }
                if report.ok() {
                    let content = receipt.repositories.entry(plan.repo.clone()).or_default();
                    let origin = crate::destination::Origin::of(image);
                    content
                        .sources
                        .insert(format!("{}/{}", origin.registry, origin.repository));
                    if let Some(tag) = &image.tag {
                        // A kept tag names the registry's image, which the receipt records.
                        let holds = kept.unwrap_or(digest);
                        content.tags.insert(tag.clone(), holds);
                    }
                    content.tags.extend(artifact_tags);
                    content.manifests.extend(pushed);
                    content.blobs.extend(plan.blobs.iter().cloned());
                }
            }
            Err(e) => report.status = e,
        }
        reports.push(report);
    }
    Ok(PushResult { reports, receipt })
}

/// Pushes an image's manifests by digest; returns the manifest its tag is to point at, a
/// note, and every manifest digest the repository now holds for it. The tag is not moved
/// here: see [`move_tag`].
async fn push_manifests(
    reader: &BundleReader,
    registry: &Registry,
    plan: &ImagePush<'_>,
    pushed: &mut HashSet<(String, Digest)>,
) -> Result<(RawManifest, Option<String>, Vec<Digest>), String> {
    let image = plan.image;
    let repo = plan.repo.as_str();
    let top_entry = reader
        .index
        .manifest(&image.digest)
        .ok_or_else(|| format!("manifest {} is not in the bundle", image.digest))?;
    // The manifest the tag will point at: the original, or for a partial index one child
    // or an index reduced to the children carried.
    let partial = crate::bundle::partial_index::is_partial(top_entry);
    let mut note = None;
    let mut extra: Option<RawManifest> = None;
    let mut target = image.digest.clone();
    if partial {
        let top = manifest_bytes(reader, registry, plan, &image.digest).await?;
        if let Some(a) = crate::bundle::partial_index::arrival(top_entry, &top)? {
            target = a.digest;
            note = Some(a.note);
            extra = a.reduced;
        }
    }
    let mut held = Vec::new();
    for digest in &plan.manifests {
        if digest == &image.digest && partial {
            continue; // the original partial index is never pushed: it names absent children
        }
        held.push(digest.clone());
        if pushed.contains(&(repo.to_owned(), digest.clone()))
            || plan.external.get(digest) == Some(&Presence::Here)
        {
            continue;
        }
        // A manifest the repository holds is not sent again (a second push sends nothing).
        let there = registry
            .head_manifest(repo, digest.as_str())
            .await
            .map_err(|e| e.to_string())?;
        if there.as_ref() != Some(digest) {
            let m = manifest_bytes(reader, registry, plan, digest).await?;
            registry
                .put_manifest(repo, digest.as_str(), &m)
                .await
                .map_err(|e| e.to_string())?;
        }
        pushed.insert((repo.to_owned(), digest.clone()));
    }
    let target_manifest = match extra {
        Some(m) => {
            let there = registry
                .head_manifest(repo, m.digest.as_str())
                .await
                .map_err(|e| e.to_string())?;
            if there.as_ref() != Some(&m.digest) {
                registry
                    .put_manifest(repo, m.digest.as_str(), &m)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            held.push(m.digest.clone());
            m
        }
        None => manifest_bytes(reader, registry, plan, &target).await?,
    };
    Ok((target_manifest, note, held))
}

/// Points the image's tag at `target_manifest`, unless this run already set that tag to
/// another image's digest (the first image would be reported "ok" while the registry
/// holds the second). The tag is read first: one already naming the image is left alone
/// ("identical"), one naming another follows `existing` (a kept tag comes with the
/// digest it names). `None` for an untagged image.
async fn move_tag(
    registry: &Registry,
    plan: &ImagePush<'_>,
    target_manifest: &RawManifest,
    tagged: &mut HashMap<(String, String), (Digest, String)>,
    existing: ExistingTags,
) -> Result<Option<(TagOutcome, Option<Digest>)>, String> {
    let image = plan.image;
    let repo = plan.repo.as_str();
    let Some(tag) = &image.tag else {
        return Ok(None);
    };
    let key = (repo.to_owned(), tag.clone());
    match tagged.get(&key) {
        Some((d, other)) if d != &target_manifest.digest => {
            return Err(format!(
                "not tagged: `{repo}:{tag}` was set to {d} by `{other}` in this run; name one otherwise (`as`) or use --registry-path"
            ));
        }
        _ => {
            tagged.insert(
                key,
                (target_manifest.digest.clone(), image.reference.clone()),
            );
        }
    }
    let there = registry
        .head_manifest(repo, tag)
        .await
        .map_err(|e| e.to_string())?;
    let outcome = match (&there, existing) {
        (Some(d), _) if d == &target_manifest.digest => {
            return Ok(Some((TagOutcome::Identical, None)));
        }
        (None, _) => TagOutcome::New,
        (Some(_), ExistingTags::Overwrite) => TagOutcome::Overwritten,
        (Some(d), ExistingTags::Keep) => return Ok(Some((TagOutcome::Kept, Some(d.clone())))),
        (Some(d), ExistingTags::Fail) => {
            return Err(format!(
                "`{repo}:{tag}` already names {d} there (--existing-tags fail); hint: --existing-tags overwrite moves it, keep leaves it"
            ));
        }
    };
    registry
        .put_manifest(repo, tag, target_manifest)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some((outcome, None)))
}
