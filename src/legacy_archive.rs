//! `docker save` tars from before Docker 25 (and `podman save --format docker-archive`):
//! a `manifest.json` naming each image's config file and layer tars, and no registry
//! manifest. outrider builds an OCI image manifest over the files as they are, so the
//! config keeps its digest (the image ID) and every layer goes byte-for-byte: nothing is
//! recompressed. An uncompressed layer's digest is its `diff_id` from the config (checked
//! as the bytes stream into the bundle); a compressed one is hashed here.

use crate::local_files::Compression;
use crate::oci::manifest::MAX_MANIFEST_BYTES;
use crate::oci::{Descriptor, Digest, ImageRef, media_type};
use crate::oci_layout::{
    LayoutError, OciLayout, fallback_name, full_reference, listing, matching, no_match, ref_matches,
};
use bytes::Bytes;
use serde::Deserialize;

/// Largest image config read: configs with long histories exceed a manifest's 4 MiB.
const MAX_CONFIG_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SavedImage {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct Rootfs {
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

#[derive(Deserialize)]
struct ConfigProbe {
    rootfs: Option<Rootfs>,
}

/// The OCI media type for a layer file, from its first bytes.
fn layer_media_type(head: &[u8]) -> &'static str {
    match Compression::sniff(head) {
        Some(Compression::Gzip) => "application/vnd.oci.image.layer.v1.tar+gzip",
        Some(Compression::Zstd) => "application/vnd.oci.image.layer.v1.tar+zstd",
        _ => "application/vnd.oci.image.layer.v1.tar",
    }
}

/// Finds the image `reference` names in `manifest.json` (matched against `RepoTags`),
/// builds its manifest, records it in the layout and names the image.
pub fn resolve(
    layout: &OciLayout,
    reference: Option<&str>,
) -> Result<(ImageRef, Descriptor), LayoutError> {
    let path = layout.files.path().to_owned();
    let invalid = |reason: String| LayoutError::Invalid {
        path: path.clone(),
        reason,
    };
    let text = layout.files.read("manifest.json", MAX_MANIFEST_BYTES)?;
    let saved: Option<Vec<SavedImage>> =
        serde_json::from_slice(&text).map_err(|e| invalid(format!("manifest.json: {e}")))?;
    let saved = saved
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("its manifest.json lists no images".into()))?;
    let tags = |s: &SavedImage| s.repo_tags.clone().unwrap_or_default();
    let found = matching(&saved, reference, tags);
    let [image] = found.as_slice() else {
        let available = listing(&saved, tags, |s| s.config.clone());
        return Err(no_match(&path, reference, found.len(), available));
    };
    let files = &layout.files;
    let config_bytes = files.read(&image.config, MAX_CONFIG_BYTES)?;
    let config = Descriptor {
        media_type: media_type::OCI_CONFIG.to_owned(),
        digest: Digest::of(&config_bytes),
        size: config_bytes.len() as u64,
    };
    let probe: ConfigProbe = serde_json::from_slice(&config_bytes)
        .map_err(|e| invalid(format!("config `{}`: {e}", image.config)))?;
    let diff_ids = probe.rootfs.map(|r| r.diff_ids).unwrap_or_default();
    if diff_ids.len() != image.layers.len() {
        return Err(invalid(format!(
            "config `{}` lists {} layers, manifest.json {}",
            image.config,
            diff_ids.len(),
            image.layers.len()
        )));
    }
    let mut entries = vec![(config.digest.clone(), image.config.clone())];
    let mut layers = Vec::new();
    let mut rehashed = 0;
    for (name, diff_id) in image.layers.iter().zip(&diff_ids) {
        let kind = layer_media_type(&files.head(name, 4)?);
        let (digest, size) = if kind == "application/vnd.oci.image.layer.v1.tar" {
            // The diff_id is the sha256 of the uncompressed tar: this file. The copy
            // into the bundle verifies it.
            (diff_id.clone(), files.size(name)?)
        } else {
            rehashed += 1;
            files.digest(name)?
        };
        entries.push((digest.clone(), name.clone()));
        layers.push(Descriptor {
            media_type: kind.to_owned(),
            digest,
            size,
        });
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": config,
        "layers": layers,
    });
    let bytes = Bytes::from(serde_json::to_vec(&manifest).map_err(|e| invalid(e.to_string()))?);
    let descriptor = Descriptor {
        media_type: media_type::OCI_MANIFEST.to_owned(),
        digest: Digest::of(&bytes),
        size: bytes.len() as u64,
    };
    let all_tags = tags(image);
    let chosen_tag = match reference {
        Some(r) => all_tags.iter().find(|t| ref_matches(t, r)),
        None => all_tags.first(),
    };
    let name = match chosen_tag.and_then(|t| full_reference(t)) {
        Some(r) => r,
        None => fallback_name(&path, None)?,
    };
    let mut made = layout.made.write().unwrap_or_else(|e| e.into_inner());
    made.manifests.insert(descriptor.digest.clone(), bytes);
    made.entries.extend(entries);
    made.notes.push(format!(
        "`{}` is a `docker save` tar without registry manifests: built one for `{name}` over its {} layers as they are ({}), so it arrives as {}",
        path.display(),
        layers.len(),
        if rehashed == 0 {
            "uncompressed, nothing recompressed".to_owned()
        } else {
            format!("{rehashed} compressed layers hashed, nothing recompressed")
        },
        descriptor.digest
    ));
    Ok((name, descriptor))
}
