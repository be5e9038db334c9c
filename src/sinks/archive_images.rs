//! Which images go into a docker-archive, and how: the step every tar sink shares
//! (`--docker-save`, `--k3s`, `--docker`, `-c`). Each image is checked against its
//! manifests first; an artifact is left out with a note; any image that cannot go in
//! fails the whole call, so no tar is written without it. What no bundle stores can be
//! looked up in a registry first ([`find_in_registry`]).

use crate::blob_store::BlobStore;
use crate::bundle::reader::BundleReader;
use crate::copy::to_archive;
use crate::docker_archive::ArchiveImage;
use crate::oci::Platform;
use crate::output;

/// The bundle's images cannot all go into a tar; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Blobs or manifests are in no bundle given and no registry read.
    #[error(
        "{} blobs and manifests are external to `{bundle}` and in no --base bundle or --from-registry registry; nothing written:\n{}\n{}hint: add the earlier bundles with --base, or read them from a registry with --from-registry",
        missing.len(),
        missing.join("\n"),
        needs.as_deref().map(|n| format!("{n}\n")).unwrap_or_default()
    )]
    External {
        /// The bundle, as shown.
        bundle: String,
        /// The digests missing.
        missing: Vec<String>,
        /// The parent bundle its lineage names, when it records one.
        needs: Option<String>,
    },
    /// Some images disagree with their manifests or lack the platform asked for.
    #[error("{} of {total} images cannot go into a tar; nothing written:\n{}", reasons.len(), reasons.join("\n"))]
    Images {
        /// Images in the bundle (as selected).
        total: usize,
        /// One line per image that cannot go in.
        reasons: Vec<String>,
    },
    /// The bundle holds artifacts only.
    #[error(
        "`{bundle}` holds only artifacts ({}), and a tar holds images; nothing written\nhint: push them to a registry with --push, or serve the bundle",
        artifacts.join(", ")
    )]
    OnlyArtifacts {
        /// The bundle, as shown.
        bundle: String,
        /// The artifacts' references, made safe to print.
        artifacts: Vec<String>,
    },
}

/// Finds, in the registry `store` reads from, what no bundle stores: in the repository the
/// bundle names for it, else the image's own under `naming`.
pub async fn find_in_registry(
    store: &mut BlobStore<'_>,
    reader: &BundleReader,
    naming: &crate::destination::Naming,
) {
    let index = &reader.index;
    for image in &index.images {
        let own = naming.repository(image);
        for desc in to_archive::needed(index, image) {
            if store.has(&desc.digest) {
                continue;
            }
            let manifest = index.manifest(&desc.digest);
            let hint = manifest
                .and_then(|m| m.destination_repository.clone())
                .or_else(|| {
                    index
                        .blob(&desc.digest)
                        .and_then(|b| b.destination_repository.clone())
                });
            let repos: Vec<String> = hint
                .into_iter()
                .chain(std::iter::once(own.clone()))
                .collect();
            store
                .find_remote(&desc.digest, manifest.is_some(), &repos)
                .await;
        }
    }
}

/// Decides how every image goes into a tar, after checking each against its manifests;
/// any image that cannot go in fails the whole call, so no tar is written without it.
pub fn archive_images(
    store: &BlobStore<'_>,
    reader: &BundleReader,
    platform: &Platform,
) -> Result<Vec<ArchiveImage>, Refused> {
    // First, everything every image needs must be stored here or in a --base bundle.
    let missing: std::collections::BTreeSet<String> = reader
        .index
        .images
        .iter()
        .flat_map(|i| to_archive::needed(&reader.index, i))
        .filter(|d| !store.has(&d.digest))
        .map(|d| d.digest.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Refused::External {
            bundle: reader.path().display().to_string(),
            missing: missing.into_iter().collect(),
            needs: crate::lineage::needs(&reader.index),
        });
    }
    let mut images = Vec::new();
    let mut errors = Vec::new();
    let mut artifacts = Vec::new();
    // The manifests decide: an image whose manifests disagree with the index is refused.
    let mut checked = crate::bundle::agreement::Checked::default();
    for (position, image) in reader.index.images.iter().enumerate() {
        let faults = checked.image_faults(&reader.index, image, store);
        if !faults.is_empty() {
            errors.push(format!(
                "`{}`: {}",
                output::sanitize(&image.reference),
                crate::bundle::agreement::refusal(&faults)
            ));
            continue;
        }
        match crate::bundle::image_kind::artifact_kind(&reader.index, image, |d| store.manifest(d))
        {
            Ok(Some(kind)) => {
                output::note(&format!(
                    "`{}` is an artifact ({}), not an image: left out of the tar (--push and serve carry it byte-exact)",
                    output::sanitize(&image.reference),
                    output::sanitize(&kind)
                ));
                artifacts.push(image.reference.clone());
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                errors.push(format!("`{}`: {e}", output::sanitize(&image.reference)));
                continue;
            }
        }
        match to_archive::archive_image(store, &reader.index, image, platform) {
            Ok((mut a, notes)) => {
                for n in notes {
                    output::note(&n);
                }
                a.position = position;
                images.push(a);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Refused::Images {
            total: reader.index.images.len(),
            reasons: errors,
        });
    }
    if images.is_empty() && !artifacts.is_empty() {
        return Err(Refused::OnlyArtifacts {
            bundle: reader.path().display().to_string(),
            artifacts: artifacts.iter().map(|a| output::sanitize(a)).collect(),
        });
    }
    Ok(images)
}
