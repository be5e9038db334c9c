//! `unpack --push --dry-run`: what a push would do, asked of the registry with HEAD
//! requests only: per image, the blobs it already has and the bytes still to send, and
//! what the tag points at now. Nothing is written; but each destination repository is
//! asked for an upload session (POST, then cancelled with DELETE), so a push the
//! credentials may not make is named now (a token registry grants scopes per repository:
//! `GET /v2/` alone proves nothing).

use crate::bundle::agreement::Checked;
use crate::bundle::reader::BundleReader;
use crate::destination::reference as destination_reference;
use crate::oci::Digest;
use crate::registry::{Access, Registry, RegistryError};
use futures_util::StreamExt;
use std::collections::HashSet;

/// What pushing one image would do.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushPreview {
    /// Source reference from the bundle.
    pub source: String,
    /// Where it would go.
    pub destination: String,
    /// Blobs the image needs.
    pub blobs: usize,
    /// Of those, already in the destination repository.
    pub blobs_present: usize,
    /// Bytes this image would send (blobs shared with an image listed earlier count once,
    /// there).
    pub bytes_to_send: u64,
    /// What the tag points at now, if anything.
    pub tag_now: Option<Digest>,
    /// What the bundle would make it point at.
    pub tag_after: Digest,
    /// What is tagged instead of the original, when only some platforms travel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Why the image would not be pushed, when it would not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Why the destination repository would refuse the push, when an upload session
    /// could not be opened there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cannot_write: Option<String>,
}

/// Whether the credentials may write `repo`: an upload session opened and cancelled.
/// `None` when they may; the registry's refusal otherwise.
async fn write_refusal(registry: &Registry, repo: &str) -> Option<String> {
    let started = std::time::Instant::now();
    match registry.start_upload(repo).await {
        Ok((location, _)) => {
            if let Err(e) = registry.cancel_upload(repo, &location).await {
                tracing::debug!("push check: `{repo}`: the probe upload stays open: {e}");
            }
            tracing::debug!(
                "push check: `{repo}` is writable (an upload session opened and cancelled in {:.1}s)",
                started.elapsed().as_secs_f64()
            );
            None
        }
        Err(e) => Some(e.to_string()),
    }
}

/// Previews the push of every image of the bundle.
pub async fn preview(
    reader: &BundleReader,
    registry: &Registry,
    naming: &crate::destination::Naming,
) -> Result<Vec<PushPreview>, RegistryError> {
    let index = &reader.index;
    let mut checked = Checked::default();
    let mut counted: HashSet<Digest> = HashSet::new();
    let mut out = Vec::new();
    // Every destination repository probed at once (8 at a time): a round trip each, not
    // one per image in turn.
    let mut repos: Vec<String> = index.images.iter().map(|i| naming.repository(i)).collect();
    repos.sort();
    repos.dedup();
    let writable: std::collections::HashMap<String, Option<String>> =
        futures_util::stream::iter(repos.into_iter().map(|repo| async move {
            let refusal = write_refusal(registry, &repo).await;
            (repo, refusal)
        }))
        .buffer_unordered(8)
        .collect()
        .await;
    for image in &index.images {
        let repo = naming.repository(image);
        let access = Access::Pull(repo.clone());
        // Artifacts go with their image, so their blobs count too.
        let (closure, _) = index.closure_with_artifacts(image);
        let faults = checked.image_faults(index, image, reader);
        let mut present = 0;
        let mut bytes = 0;
        for d in &closure.blobs {
            if registry.blob_exists(&access, &repo, d).await? {
                present += 1;
            } else if counted.insert(d.clone()) {
                bytes += index.blob(d).map_or(0, |b| b.size);
            }
        }
        let tag_now = match &image.tag {
            Some(t) => registry.head_manifest(&repo, t).await?,
            None => None,
        };
        // A partial index arrives under another digest; only then is the top read, and
        // an external top is not read here.
        let arrival = match index.manifest(&image.digest) {
            Some(entry)
                if faults.is_empty()
                    && crate::bundle::partial_index::is_partial(entry)
                    && index.carries(&image.digest) =>
            {
                reader.manifest(&image.digest).ok().and_then(|top| {
                    crate::bundle::partial_index::arrival(entry, &top)
                        .ok()
                        .flatten()
                })
            }
            _ => None,
        };
        out.push(PushPreview {
            source: image.reference.clone(),
            destination: destination_reference(&registry.name, &repo, image),
            blobs: closure.blobs.len(),
            blobs_present: present,
            bytes_to_send: bytes,
            tag_now,
            tag_after: arrival
                .as_ref()
                .map_or_else(|| image.digest.clone(), |a| a.digest.clone()),
            note: arrival.map(|a| a.note),
            refused: (!faults.is_empty()).then(|| crate::bundle::agreement::refusal(&faults)),
            cannot_write: writable.get(&repo).cloned().flatten(),
        });
    }
    Ok(out)
}
