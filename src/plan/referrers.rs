//! Finding the artifacts that describe an image in its source (a registry keeps them): cosign's tags
//! (`sha256-<hex>.sig`, `.att`, `.sbom`), and OCI 1.1 referrers through the referrers API
//! or, where the source lacks it, the referrers tag schema (`sha256-<hex>` holding an
//! index of them). Artifacts of artifacts are followed too (the signature of an SBOM), up
//! to [`MAX_DEPTH`] away from the image; an artifact seen both ways is carried once.

use super::options::{AT_ONCE, ReferrerChoice};
use crate::bundle::referrers::MAX_DEPTH;
use crate::oci::artifact::{
    COSIGN_SUFFIXES, Referrer, artifact_type, cosign_tag, fallback_tag, subject_of,
};
use crate::oci::{Digest, ParsedManifest, RawManifest};
use crate::sources::{Source, SourceError};
use futures_util::{StreamExt, TryStreamExt};
use std::collections::HashSet;

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

/// Every artifact of `subjects` in `repo`, breadth first, each (subject, artifact) once.
/// The subjects of one level are asked about several at once, their answers kept in order.
pub(super) async fn discover(
    source: &dyn Source,
    repo: &str,
    subjects: &[Digest],
    choice: &ReferrerChoice,
) -> Result<Vec<Found>, SourceError> {
    let mut found = Vec::new();
    let mut visited: HashSet<Digest> = HashSet::new();
    let mut level: Vec<Digest> = subjects.to_vec();
    for _ in 0..MAX_DEPTH {
        level.retain(|subject| visited.insert(subject.clone()));
        let answers: Vec<Vec<Found>> = futures_util::stream::iter(&level)
            .map(|subject| artifacts_of(source, repo, subject, choice))
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
    source: &dyn Source,
    repo: &str,
    subject: &Digest,
    choice: &ReferrerChoice,
) -> Result<Vec<Found>, SourceError> {
    let tags: Vec<String> = COSIGN_SUFFIXES
        .iter()
        .map(|(suffix, _)| cosign_tag(subject, suffix))
        .collect();
    // cosign's tags and the referrers list are asked at once: one round trip, not two.
    let (tagged, listed) = futures_util::future::try_join(
        futures_util::future::try_join_all(tags.iter().map(|t| source.tagged(repo, t))),
        referrers(source, repo, subject),
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
        let manifest = source.manifest(repo, &r.descriptor).await?;
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

/// The referrers of `subject`: from the API when the source answers it, else from the
/// tag schema's index.
async fn referrers(
    source: &dyn Source,
    repo: &str,
    subject: &Digest,
) -> Result<Vec<Referrer>, SourceError> {
    if let Some(list) = source.referrers(repo, subject).await? {
        return Ok(list);
    }
    let Some(index) = source.tagged(repo, &fallback_tag(subject)).await? else {
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
