//! Whether a bundle's image is an image at all, decided from its manifests' verified
//! bytes, never from the index's summary: Helm charts, SBOMs, WASM modules and other OCI
//! artifacts travel and push like images, but a tar of them breaks every `docker load`.

use crate::bundle::index::{BundleIndex, ImageEntry};
use crate::oci::artifact::not_an_image;
use crate::oci::{Digest, ParsedManifest, RawManifest};

/// The artifact type of `image` when it is no runnable image: an image manifest that is
/// an artifact, or an index none of whose carried children (attestations aside) is an
/// image. `read` gives a manifest's verified bytes. `Ok(None)` for an image.
pub fn artifact_kind(
    index: &BundleIndex,
    image: &ImageEntry,
    read: impl Fn(&Digest) -> Result<RawManifest, String>,
) -> Result<Option<String>, String> {
    let top = read(&image.digest)?;
    match top.parse().map_err(|e| e.to_string())? {
        ParsedManifest::Image { .. } => Ok(not_an_image(&top)),
        ParsedManifest::Index { manifests } => {
            let carried = index
                .manifest(&image.digest)
                .map(|e| e.children.clone())
                .unwrap_or_default();
            let mut first_kind = None;
            for child in manifests
                .iter()
                .filter(|c| carried.contains(&c.descriptor.digest))
                .filter(|c| !c.platform.as_ref().is_some_and(|p| p.is_unknown()))
            {
                let raw = read(&child.descriptor.digest)?;
                if raw.is_index() {
                    // A nested index (rare): treated as an image, as containerd does.
                    return Ok(None);
                }
                match not_an_image(&raw) {
                    None => return Ok(None),
                    Some(k) => {
                        first_kind.get_or_insert(k);
                    }
                }
            }
            Ok(Some(
                crate::oci::artifact::declared_type(&top)
                    .or(first_kind)
                    .unwrap_or_else(|| top.media_type.clone()),
            ))
        }
    }
}
