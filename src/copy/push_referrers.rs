//! An image's artifacts, after its tag: each already pushed by digest with the image's
//! manifests; here they get their routes. A cosign artifact gets its tag back
//! (`sha256-<hex>.sig`). An OCI referrer is linked by the registry itself when it answers
//! the referrers API (the answer is read back and must list it); otherwise outrider writes
//! the referrers tag schema's index `sha256-<subject hex>`, merging with the entries
//! already there, as the distribution spec tells clients to.

use super::push_external::manifest_bytes;
use super::push_plan::ImagePush;
use crate::bundle::reader::BundleReader;
use crate::oci::artifact::{fallback_tag, referrers_index_entry, subject_of};
use crate::oci::{Digest, RawManifest, media_type};
use crate::registry::Registry;

/// How many of an image's artifacts went by each route.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactRoutes {
    /// Artifacts pushed (each once, whatever its routes).
    pub artifacts: usize,
    /// Tagged under cosign's scheme.
    pub tags: usize,
    /// Linked by the registry's referrers API.
    pub referrers_api: usize,
    /// Listed in a referrers tag schema index that outrider wrote or extended.
    pub referrers_tag: usize,
}

impl ArtifactRoutes {
    /// `3 (2 by tag, 1 in referrers tag)`: for the push table.
    pub fn describe(&self) -> String {
        let routes: Vec<String> = [
            (self.tags, "by tag"),
            (self.referrers_api, "by referrers API"),
            (self.referrers_tag, "in referrers tag"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, how)| format!("{n} {how}"))
        .collect();
        format!("{} ({})", self.artifacts, routes.join(", "))
    }
}

/// What the artifacts' push left at the destination.
#[derive(Default)]
pub(super) struct ArtifactPush {
    /// Counts by route.
    pub routes: ArtifactRoutes,
    /// Tags written (cosign's, and referrers tag schema indexes) with their digests.
    pub tags: Vec<(String, Digest)>,
    /// Referrers indexes written.
    pub manifests: Vec<Digest>,
}

/// Gives every artifact of `plan` its route; the first failure names the artifact.
pub(super) async fn push_artifacts(
    reader: &BundleReader,
    registry: &Registry,
    plan: &ImagePush<'_>,
) -> Result<ArtifactPush, String> {
    let repo = plan.repo.as_str();
    let mut out = ArtifactPush::default();
    // Referrers by subject, in the order first met, for one read or index write each.
    let mut by_subject: Vec<(Digest, Vec<RawManifest>)> = Vec::new();
    let mut counted = std::collections::HashSet::new();
    for r in &plan.artifacts {
        let raw = manifest_bytes(reader, registry, plan, &r.digest).await?;
        if counted.insert(r.digest.clone()) {
            out.routes.artifacts += 1;
        }
        if let Some(tag) = &r.tag {
            // A tag already naming the artifact is not written again.
            let there = registry
                .head_manifest(repo, tag)
                .await
                .map_err(|e| format!("artifact {}: {e}", r.digest))?;
            if there.as_ref() != Some(&r.digest) {
                registry
                    .put_manifest(repo, tag, &raw)
                    .await
                    .map_err(|e| format!("artifact {}: {e}", r.digest))?;
            }
            out.routes.tags += 1;
            out.tags.push((tag.clone(), r.digest.clone()));
        }
        if subject_of(&raw).as_ref() == Some(&r.subject) {
            match by_subject.iter_mut().find(|(s, _)| s == &r.subject) {
                Some((_, list)) => list.push(raw),
                None => by_subject.push((r.subject.clone(), vec![raw])),
            }
        }
    }
    for (subject, artifacts) in by_subject {
        let listed = registry
            .referrers(repo, &subject)
            .await
            .map_err(|e| e.to_string())?;
        match listed {
            Some(list) => {
                for a in &artifacts {
                    if !list.iter().any(|l| l.descriptor.digest == a.digest) {
                        return Err(format!(
                            "`{}` answers the referrers API but does not list artifact {} as a referrer of {subject}",
                            registry.name, a.digest
                        ));
                    }
                }
                out.routes.referrers_api += artifacts.len();
            }
            None => {
                let index = merge_referrers_index(registry, repo, &subject, &artifacts).await?;
                out.routes.referrers_tag += artifacts.len();
                out.tags.push((fallback_tag(&subject), index.clone()));
                out.manifests.push(index);
            }
        }
    }
    Ok(out)
}

/// Writes the referrers tag schema index of `subject`: the index already under the tag
/// (its other entries and fields kept, in order) plus an entry for each artifact it does
/// not list yet. Nothing is written when it lists them all. Returns the index's digest.
async fn merge_referrers_index(
    registry: &Registry,
    repo: &str,
    subject: &Digest,
    artifacts: &[RawManifest],
) -> Result<Digest, String> {
    let tag = fallback_tag(subject);
    let existing = registry
        .get_manifest_if_exists(repo, &tag)
        .await
        .map_err(|e| e.to_string())?;
    let mut value: serde_json::Value = match &existing {
        Some(m) if m.media_type == media_type::OCI_INDEX => serde_json::from_slice(&m.bytes)
            .map_err(|e| format!("`{repo}:{tag}` is not JSON: {e}"))?,
        Some(m) => {
            return Err(format!(
                "`{repo}:{tag}` holds a `{}`, not a referrers index; it was left as it is, and the referrers of {subject} are not listed there",
                crate::output::sanitize(&m.media_type)
            ));
        }
        None => serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_INDEX,
            "manifests": [],
        }),
    };
    if !value["manifests"].is_array() {
        value["manifests"] = serde_json::json!([]);
    }
    let list = value["manifests"]
        .as_array_mut()
        .expect("manifests was just made an array");
    let mut added = false;
    for a in artifacts {
        if !list
            .iter()
            .any(|e| e["digest"].as_str() == Some(a.digest.as_str()))
        {
            list.push(referrers_index_entry(a));
            added = true;
        }
    }
    if let (false, Some(m)) = (added, &existing) {
        return Ok(m.digest.clone());
    }
    let bytes = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
    let index =
        RawManifest::new(bytes.into(), Some(media_type::OCI_INDEX)).map_err(|e| e.to_string())?;
    registry
        .put_manifest(repo, &tag, &index)
        .await
        .map_err(|e| format!("writing referrers index `{repo}:{tag}`: {e}"))?;
    Ok(index.digest)
}
