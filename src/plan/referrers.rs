//! Finding the artifacts that describe an image at its registry: cosign's tags
//! (`sha256-<hex>.sig`, `.att`, `.sbom`), and OCI 1.1 referrers through the referrers API
//! or, where the registry lacks it, the referrers tag schema (`sha256-<hex>` holding an
//! index of them). Artifacts of artifacts are followed too (the signature of an SBOM), up
//! to [`MAX_DEPTH`] away from the image; an artifact seen both ways is carried once.

use super::image::Builder;
use super::{AT_ONCE, PlanError};
use crate::bundle::referrers::MAX_DEPTH;
use crate::location::Source;
use crate::oci::artifact::{
    COSIGN_SUFFIXES, Referrer, artifact_type, cosign_tag, fallback_tag, subject_of,
};
use crate::oci::{Digest, ParsedManifest, RawManifest};
use crate::registry::{Registry, RegistryError};
use futures_util::{StreamExt, TryStreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Which artifacts `pack` carries.
#[derive(Clone, Debug, Default)]
pub struct ReferrerChoice {
    /// Keep only these artifact types (`--referrers-type`); empty keeps every type.
    pub types: Vec<String>,
}

impl ReferrerChoice {
    fn wants(&self, artifact_type: &str) -> bool {
        self.types.is_empty() || self.types.iter().any(|t| t == artifact_type)
    }
}

/// One artifact found for a subject.
pub(super) struct Found {
    /// The manifest it describes.
    pub subject: Digest,
    /// The artifact's manifest, verified against its digest.
    pub manifest: RawManifest,
    /// Its artifact type.
    pub artifact_type: String,
    /// cosign's tag it was found under, if any.
    pub tag: Option<String>,
}

/// Whether each registry answered the referrers API, learned on the first ask, so a
/// registry without it costs one 404 per pack (a few, when images are resolved at once),
/// not one per manifest.
#[derive(Default)]
pub(super) struct ApiSupport(Mutex<HashMap<String, bool>>);

impl ApiSupport {
    fn lacks(&self, registry: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(registry)
            == Some(&false)
    }

    fn learn(&self, registry: &str, answers: bool) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(registry.to_owned(), answers);
    }
}

/// Every artifact of `subjects` in `repo`, breadth first, each (subject, artifact) once.
/// The subjects of one level are asked about several at once, their answers kept in order.
pub(super) async fn discover(
    registry: &Registry,
    repo: &str,
    subjects: &[Digest],
    choice: &ReferrerChoice,
    api: &ApiSupport,
) -> Result<Vec<Found>, RegistryError> {
    let mut found = Vec::new();
    let mut visited: HashSet<Digest> = HashSet::new();
    let mut level: Vec<Digest> = subjects.to_vec();
    for _ in 0..MAX_DEPTH {
        level.retain(|subject| visited.insert(subject.clone()));
        let answers: Vec<Vec<Found>> = futures_util::stream::iter(&level)
            .map(|subject| artifacts_of(registry, repo, subject, choice, api))
            .buffered(AT_ONCE)
            .try_collect()
            .await?;
        let mut next = Vec::new();
        for f in answers.into_iter().flatten() {
            next.push(f.manifest.digest.clone());
            found.push(f);
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    Ok(found)
}

/// The artifacts of one subject: its cosign tags, then its OCI referrers not already
/// found as a tag.
async fn artifacts_of(
    registry: &Registry,
    repo: &str,
    subject: &Digest,
    choice: &ReferrerChoice,
    api: &ApiSupport,
) -> Result<Vec<Found>, RegistryError> {
    let tags: Vec<String> = COSIGN_SUFFIXES
        .iter()
        .map(|(suffix, _)| cosign_tag(subject, suffix))
        .collect();
    // cosign's tags and the referrers list are asked at once: one round trip, not two.
    let (tagged, listed) = futures_util::future::try_join(
        futures_util::future::try_join_all(
            tags.iter()
                .map(|t| registry.get_manifest_if_exists(repo, t)),
        ),
        referrers(registry, repo, subject, api),
    )
    .await?;
    let mut out: Vec<Found> = Vec::new();
    let keep = |out: &mut Vec<Found>, manifest: RawManifest, tag: Option<String>| {
        let artifact_type = artifact_type(&manifest);
        if choice.wants(&artifact_type) {
            out.push(Found {
                subject: subject.clone(),
                manifest,
                artifact_type,
                tag,
            });
        }
    };
    for (tag, manifest) in tags.into_iter().zip(tagged) {
        if let Some(manifest) = manifest {
            keep(&mut out, manifest, Some(tag));
        }
    }
    for r in listed {
        if out.iter().any(|f| f.manifest.digest == r.descriptor.digest)
            || r.artifact_type.as_deref().is_some_and(|t| !choice.wants(t))
        {
            continue;
        }
        let manifest = registry
            .get_manifest(repo, r.descriptor.digest.as_str())
            .await?;
        // A referrer whose manifest names another subject is not this one's: an index
        // under the tag schema is written by clients and may be stale.
        if subject_of(&manifest).as_ref() != Some(subject) {
            tracing::warn!(
                %subject, artifact = %manifest.digest,
                "a referrers index lists an artifact whose manifest names another subject; not carried"
            );
            continue;
        }
        keep(&mut out, manifest, None);
    }
    Ok(out)
}

/// The referrers of `subject`: from the API when the registry offers it, else from the
/// tag schema's index.
async fn referrers(
    registry: &Registry,
    repo: &str,
    subject: &Digest,
    api: &ApiSupport,
) -> Result<Vec<Referrer>, RegistryError> {
    if !api.lacks(&registry.name) {
        match registry.referrers(repo, subject).await? {
            Some(list) => {
                api.learn(&registry.name, true);
                return Ok(list);
            }
            None => api.learn(&registry.name, false),
        }
    }
    let Some(index) = registry
        .get_manifest_if_exists(repo, &fallback_tag(subject))
        .await?
    else {
        return Ok(Vec::new());
    };
    let entries = match index.parse() {
        Ok(ParsedManifest::Index { manifests }) => manifests,
        _ => return Ok(Vec::new()),
    };
    Ok(entries
        .into_iter()
        .map(|e| Referrer {
            artifact_type: e
                .json
                .get("artifactType")
                .and_then(|t| t.as_str())
                .map(str::to_owned),
            descriptor: e.descriptor,
        })
        .collect())
}

impl Builder<'_> {
    /// Finds and adds the artifacts of every manifest the image `top` carries.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn add_artifacts(
        &mut self,
        request: &str,
        registry: &crate::registry::Registry,
        source: &Source,
        repo: &str,
        top: &Digest,
        choice: &ReferrerChoice,
        origin: &str,
    ) -> Result<(), PlanError> {
        let subjects = self.carried_manifests(top);
        let found = discover(registry, repo, &subjects, choice, &self.shared.api)
            .await
            .map_err(|e| super::locate::source_error(request)(e.into()))?;
        self.artifact = true;
        let mut result = Ok(());
        for f in found {
            self.plan
                .referrers
                .push(crate::bundle::index::ReferrerEntry {
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
