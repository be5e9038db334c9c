//! `docker save` tars from before Docker 25 (and `podman save --format docker-archive`):
//! a `manifest.json` naming each image's config file and layer tars, and no registry
//! manifest. outrider builds an OCI image manifest over the files as they are, so the
//! config keeps its digest (the image ID) and every layer goes byte-for-byte: nothing is
//! recompressed. An uncompressed layer's digest is its `diff_id` from the config (checked
//! as the bytes stream into the bundle); a compressed one is hashed here.
//!
//! Docker 25's `docker save <image-id>` writes an OCI layout whose index.json lists
//! nothing (`"manifests": null`) and names the image in manifest.json only: its manifest
//! is among the blobs, found by its config and layers and kept as it is.
//!
//! Images are named from their `RepoTags`, each a whole reference as docker writes it
//! (`busybox:1.36` is `docker.io/library/busybox:1.36`, `test_image_1` is
//! `docker.io/library/test_image_1:latest`); one without (`docker save <image-id>`) is
//! `localhost/<file name>:<first 12 hex digits of its image ID>`, and a note says so.

use crate::local_files::Compression;
use crate::local_names::{Named, name_of, pick, repo_tag_names};
use crate::oci::manifest::MAX_MANIFEST_BYTES;
use crate::oci::{Descriptor, Digest, ImageRef, media_type};
use crate::oci_layout::{LayoutError, OciLayout};
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

/// The image ID of a config named `<hex>.json` or `blobs/sha256/<hex>`, else its hash.
fn image_id(layout: &OciLayout, config: &str) -> Result<Digest, LayoutError> {
    let hex = config
        .strip_prefix("blobs/sha256/")
        .or_else(|| config.strip_suffix(".json"))
        .unwrap_or(config);
    match format!("sha256:{hex}").parse() {
        Ok(d) => Ok(d),
        Err(_) => Ok(layout.files.digest(config)?.0),
    }
}

#[derive(Deserialize)]
struct Probe {
    digest: Digest,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredManifest {
    media_type: Option<String>,
    config: Probe,
    layers: Vec<Probe>,
}

/// The manifest Docker 25 stored for `image` among the blobs (its index.json lists none
/// when saved by image ID): a manifest over exactly its config and layer files.
fn stored_manifest(
    layout: &OciLayout,
    image: &SavedImage,
    id: &Digest,
) -> Result<Option<Descriptor>, LayoutError> {
    let blob = |name: &str| -> Option<Digest> {
        format!("sha256:{}", name.strip_prefix("blobs/sha256/")?)
            .parse()
            .ok()
    };
    let Some(layers) = image
        .layers
        .iter()
        .map(|l| blob(l))
        .collect::<Option<Vec<Digest>>>()
    else {
        return Ok(None);
    };
    let files = &layout.files;
    for name in files.list("blobs/sha256") {
        if name == image.config
            || image.layers.contains(&name)
            || files.size(&name)? > MAX_MANIFEST_BYTES
        {
            continue;
        }
        let bytes = files.read(&name, MAX_MANIFEST_BYTES)?;
        let digest = Digest::of(&bytes);
        let Ok(m) = serde_json::from_slice::<StoredManifest>(&bytes) else {
            continue;
        };
        let media_type = m.media_type.as_deref().unwrap_or(media_type::OCI_MANIFEST);
        let fits = blob(&name) == Some(digest.clone())
            && [media_type::OCI_MANIFEST, media_type::DOCKER_MANIFEST].contains(&media_type)
            && &m.config.digest == id
            && m.layers.iter().map(|l| &l.digest).eq(layers.iter());
        if fits {
            return Ok(Some(Descriptor {
                media_type: media_type.to_owned(),
                digest,
                size: bytes.len() as u64,
            }));
        }
    }
    Ok(None)
}

/// Finds the image `reference` names in `manifest.json` (matched against `RepoTags`, or
/// its image ID), names it, and finds (Docker 25) or builds its manifest.
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
    let named = saved
        .iter()
        .map(|s| {
            Ok(Named {
                names: s
                    .repo_tags
                    .iter()
                    .flatten()
                    .flat_map(|t| repo_tag_names(t))
                    .collect(),
                id: image_id(layout, &s.config)?,
            })
        })
        .collect::<Result<Vec<_>, LayoutError>>()?;
    let i = pick(&path, &layout.describe(), &named, reference)?;
    let image = &saved[i];
    let (name, by_id) = name_of(&path, &named, i, reference, true)?;
    let named_how = if by_id {
        " It has no RepoTags: named by its image ID (`… as REGISTRY/REPO:TAG` names it otherwise)."
            .to_owned()
    } else {
        String::new()
    };
    if let Some(descriptor) = stored_manifest(layout, image, &named[i].id)? {
        let mut made = layout.made.write().unwrap_or_else(|e| e.into_inner());
        made.notes.push(format!(
            "`{}` lists `{name}` in its manifest.json only (its index.json lists nothing, as Docker 25's `docker save <image-id>` writes): its manifest {} is kept.{named_how}",
            path.display(),
            descriptor.digest
        ));
        return Ok((name, descriptor));
    }
    let files = &layout.files;
    let config_bytes = files.read(&image.config, MAX_CONFIG_BYTES)?;
    let config = Descriptor {
        media_type: media_type::OCI_CONFIG.to_owned(),
        digest: Digest::of(&config_bytes),
        size: config_bytes.len() as u64,
    };
    if config.digest != named[i].id {
        return Err(invalid(format!(
            "config `{}` is {}, not the image ID its name says",
            image.config, config.digest
        )));
    }
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
    let mut made = layout.made.write().unwrap_or_else(|e| e.into_inner());
    made.manifests.insert(descriptor.digest.clone(), bytes);
    made.entries.extend(entries);
    made.notes.push(format!(
        "`{}` is a `docker save` tar without registry manifests: built one for `{name}` over its {} layers as they are ({}), so it arrives as {}.{named_how}",
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
