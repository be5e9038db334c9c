//! What an incremental bundle expects the destination to hold already: every external
//! blob and manifest is found there before anything is written (in the image's
//! repository, else in the one the bundle names, to mount or copy from), and a manifest the
//! bundle does not carry is read from where it was found and checked against the index.

use super::push_plan::{ImagePush, Presence};
use crate::bundle::reader::BundleReader;
use crate::oci::{Digest, RawManifest};
use crate::registry::Registry;

/// Finds every external blob and manifest of an image at the destination, and notes
/// carried ones whose volume is missing.
pub(super) async fn check_external(
    reader: &BundleReader,
    registry: &Registry,
    plan: &mut ImagePush<'_>,
) {
    let index = &reader.index;
    for d in plan.manifests.iter().chain(plan.blobs.iter()) {
        if index.carries(d) && !reader.has(d) {
            let volumes: Vec<String> = reader
                .volumes_of(d)
                .iter()
                .map(ToString::to_string)
                .collect();
            plan.missing.push(format!(
                "`{}`: {d} is in volume {} of the bundle, which is missing",
                plan.image.reference,
                volumes.join(", ")
            ));
        }
    }
    let externals: Vec<(Digest, bool, Option<String>)> = plan
        .blobs
        .iter()
        .filter(|d| !index.carries(d))
        .map(|d| {
            (
                d.clone(),
                true,
                index.blob(d).and_then(|b| b.destination_repository.clone()),
            )
        })
        .chain(
            plan.manifests
                .iter()
                .filter(|d| !index.carries(d))
                .map(|d| {
                    (
                        d.clone(),
                        false,
                        index
                            .manifest(d)
                            .and_then(|m| m.destination_repository.clone()),
                    )
                }),
        )
        .collect();
    for (digest, is_blob, hint) in externals {
        let exists = |repo: String| {
            let digest = digest.clone();
            async move {
                if is_blob {
                    registry.has_blob(&repo, &digest).await.unwrap_or(false)
                } else {
                    registry
                        .head_manifest(&repo, digest.as_str())
                        .await
                        .ok()
                        .flatten()
                        .is_some()
                }
            }
        };
        let presence = if exists(plan.repo.clone()).await {
            Presence::Here
        } else if let Some(h) = hint.filter(|h| h != &plan.repo)
            && exists(h.clone()).await
        {
            Presence::In(h)
        } else {
            Presence::Missing
        };
        if presence == Presence::Missing {
            let what = if is_blob { "blob" } else { "manifest" };
            plan.missing.push(format!(
                "`{}`: {what} {digest} is neither in `{}` nor carried",
                plan.image.reference, plan.repo
            ));
        }
        plan.external.insert(digest, presence);
    }
}

/// A manifest's bytes: from the bundle when carried, else from the destination (the
/// image's repository, or the one the external check found it in).
pub(super) async fn manifest_bytes(
    reader: &BundleReader,
    registry: &Registry,
    plan: &ImagePush<'_>,
    digest: &Digest,
) -> Result<RawManifest, String> {
    if reader.index.carries(digest) {
        return reader.manifest(digest).map_err(|e| e.to_string());
    }
    let repo = match plan.external.get(digest) {
        Some(Presence::In(other)) => other.clone(),
        _ => plan.repo.clone(),
    };
    let raw = registry
        .get_manifest(&repo, digest.as_str())
        .await
        .map_err(|e| e.to_string())?;
    crate::bundle::agreement::check_fetched(&reader.index, &raw)
        .map_err(|f| crate::bundle::agreement::refusal(&[f]))?;
    Ok(raw)
}
