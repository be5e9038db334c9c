//! `docker-archive:FILE[:REF]`: a `docker save` / `podman save` tar. Docker 25 and later
//! write an OCI layout inside, read as [`super::oci_layout`] reads one so digests are
//! kept. Older tars (and `podman save --format docker-archive`) hold a `manifest.json`
//! naming each image's config file and layer tars, and no registry manifest: outrider
//! builds an OCI image manifest over the files as they are, so the config keeps its
//! digest (the image ID) and every layer goes byte-for-byte: nothing is recompressed. An
//! uncompressed layer's digest is its `diff_id` from the config (checked as the bytes
//! stream into the bundle); a compressed one is hashed here.
//!
//! Docker 25's `docker save <image-id>` writes an OCI layout whose index.json lists
//! nothing (`"manifests": null`) and names the image in manifest.json only: its manifest
//! is among the blobs, found by its config and layers and kept as it is.
//!
//! Images are named from their `RepoTags`, each a whole reference as docker writes it
//! (`busybox:1.36` is `docker.io/library/busybox:1.36`, `test_image_1` is
//! `docker.io/library/test_image_1:latest`); one without (`docker save <image-id>`) is
//! `localhost/<file name>:<first 12 hex digits of its image ID>`, and a note says so.

use super::local_error::LocalError;
use super::local_files::{Compression, LocalFiles};
use super::local_names::{name_of, pick, repo_tag_names};
use super::oci_layout::{Layout, blob_name, local_stream, parse_manifest, read_manifest};
use super::source::{BlobStream, Held, Known, Resolved, Source, SourceError};
use crate::oci::manifest::MAX_MANIFEST_BYTES;
use crate::oci::{Descriptor, Digest, ImageRef, RawManifest, media_type};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// The prefix users write: `docker-archive:FILE[:REF]`.
pub const PREFIX: &str = "docker-archive";

/// Opens `docker-archive:FILE`: a tar holding an OCI layout (Docker 25 and later) or a
/// `manifest.json`, scanned once.
pub fn open(path: &Path) -> Result<Arc<dyn Source>, SourceError> {
    let files = LocalFiles::open_tar(path)?;
    let layout = if files.exists("oci-layout") {
        Some(Layout::open(files.clone(), PREFIX)?)
    } else if files.exists("manifest.json") {
        None
    } else {
        return Err(LocalError::Invalid {
            path: path.to_owned(),
            reason: "neither `manifest.json` nor `oci-layout` is in it; a `docker save` tar has one of them".into(),
        }
        .into());
    };
    Ok(Arc::new(DockerArchive {
        describe: format!("{PREFIX}:{}", path.display()),
        files,
        layout,
        made: RwLock::default(),
    }))
}

/// Manifests made here (from a legacy `docker save` tar) and where their blobs are.
#[derive(Debug, Default)]
struct Made {
    /// Manifest bytes by digest.
    manifests: HashMap<Digest, Bytes>,
    /// Entry names of blobs stored under other names than `blobs/sha256/<hex>`.
    entries: HashMap<Digest, String>,
}

/// A `docker save` tar opened as a source.
pub struct DockerArchive {
    files: LocalFiles,
    describe: String,
    /// The OCI layout inside (Docker 25 and later).
    layout: Option<Layout>,
    /// What was built for its legacy images, shared by every image read from it.
    made: RwLock<Made>,
}

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
fn image_id(files: &LocalFiles, config: &str) -> Result<Digest, LocalError> {
    let hex = config
        .strip_prefix("blobs/sha256/")
        .or_else(|| config.strip_suffix(".json"))
        .unwrap_or(config);
    match format!("sha256:{hex}").parse() {
        Ok(d) => Ok(d),
        Err(_) => Ok(files.digest(config)?.0),
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
    files: &LocalFiles,
    image: &SavedImage,
    id: &Digest,
) -> Result<Option<Descriptor>, LocalError> {
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

impl DockerArchive {
    /// The images `manifest.json` lists, with their names and IDs.
    fn saved(&self) -> Result<(Vec<SavedImage>, Vec<Held>), LocalError> {
        let path = self.files.path();
        let invalid = |reason: String| LocalError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let text = self.files.read("manifest.json", MAX_MANIFEST_BYTES)?;
        let saved: Option<Vec<SavedImage>> =
            serde_json::from_slice(&text).map_err(|e| invalid(format!("manifest.json: {e}")))?;
        let saved = saved
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("its manifest.json lists no images".into()))?;
        let held = saved
            .iter()
            .map(|s| {
                Ok(Held {
                    names: s
                        .repo_tags
                        .iter()
                        .flatten()
                        .flat_map(|t| repo_tag_names(t))
                        .collect(),
                    id: image_id(&self.files, &s.config)?,
                })
            })
            .collect::<Result<Vec<_>, LocalError>>()?;
        Ok((saved, held))
    }

    /// Finds the image `reference` names in `manifest.json` (matched against `RepoTags`,
    /// or its image ID), names it, and finds (Docker 25) or builds its manifest; with
    /// the note that says which.
    fn resolve_saved(
        &self,
        reference: Option<&str>,
    ) -> Result<(ImageRef, Descriptor, String), LocalError> {
        let files = &self.files;
        let path = files.path().to_owned();
        let invalid = |reason: String| LocalError::Invalid {
            path: path.clone(),
            reason,
        };
        let (saved, named) = self.saved()?;
        let i = pick(&path, &self.describe, &named, reference)?;
        let image = &saved[i];
        let (name, by_id) = name_of(&path, &named, i, reference, true)?;
        let named_how = if by_id {
            " It has no RepoTags: named by its image ID (`… as REGISTRY/REPO:TAG` names it otherwise)."
                .to_owned()
        } else {
            String::new()
        };
        if let Some(descriptor) = stored_manifest(files, image, &named[i].id)? {
            let note = format!(
                "`{}` lists `{name}` in its manifest.json only (its index.json lists nothing, as Docker 25's `docker save <image-id>` writes): its manifest {} is kept.{named_how}",
                path.display(),
                descriptor.digest
            );
            return Ok((name, descriptor, note));
        }
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
        let mut made = self.made.write().unwrap_or_else(|e| e.into_inner());
        made.manifests.insert(descriptor.digest.clone(), bytes);
        made.entries.extend(entries);
        let note = format!(
            "`{}` is a `docker save` tar without registry manifests: built one for `{name}` over its {} layers as they are ({}), so it arrives as {}.{named_how}",
            path.display(),
            layers.len(),
            if rehashed == 0 {
                "uncompressed, nothing recompressed".to_owned()
            } else {
                format!("{rehashed} compressed layers hashed, nothing recompressed")
            },
            descriptor.digest
        );
        Ok((name, descriptor, note))
    }

    /// The entry name of blob `digest`: where a legacy image keeps it, else the layout's.
    fn entry_of(&self, digest: &Digest) -> String {
        let made = self.made.read().unwrap_or_else(|e| e.into_inner());
        match made.entries.get(digest) {
            Some(name) => name.clone(),
            None => blob_name(digest),
        }
    }

    fn read_manifest(&self, desc: &Descriptor) -> Result<RawManifest, LocalError> {
        let made = self
            .made
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .manifests
            .get(&desc.digest)
            .cloned();
        match made {
            Some(bytes) => parse_manifest(self.files.path(), bytes, desc),
            None => read_manifest(&self.files, &self.entry_of(&desc.digest), desc),
        }
    }
}

impl Source for DockerArchive {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn list(&self) -> Result<Vec<Held>, SourceError> {
        if let Some(listed) = self
            .layout
            .as_ref()
            .map(Layout::list)
            .transpose()?
            .flatten()
        {
            return Ok(listed);
        }
        Ok(self.saved()?.1)
    }

    fn resolve<'a>(
        &'a self,
        reference: Option<&'a str>,
        _known: &'a Known,
    ) -> BoxFuture<'a, Result<Resolved, SourceError>> {
        Box::pin(async move {
            let found = match &self.layout {
                Some(layout) => layout.find(reference)?,
                None => None,
            };
            let (name, desc, notes) = match (found, &self.layout) {
                (Some((name, desc)), _) => (name, desc, Vec::new()),
                // Docker 25's `docker save <image-id>` lists the image in manifest.json only.
                (None, Some(layout)) if !self.files.exists("manifest.json") => {
                    return Err(layout.lists_nothing().into());
                }
                (None, _) => {
                    let (name, desc, note) = self.resolve_saved(reference)?;
                    (name, desc, vec![note])
                }
            };
            let top = self.read_manifest(&desc)?;
            Ok(Resolved {
                name,
                top,
                pinned: false,
                notes,
            })
        })
    }

    fn manifest<'a>(
        &'a self,
        _repo: &'a str,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<RawManifest, SourceError>> {
        Box::pin(async move { Ok(self.read_manifest(desc)?) })
    }

    fn blob<'a>(
        &'a self,
        _repo: &'a str,
        desc: &'a Descriptor,
        _offset: u64,
    ) -> BoxFuture<'a, Result<(BlobStream, u64), SourceError>> {
        Box::pin(async move {
            Ok(local_stream(
                self.files.stream(&self.entry_of(&desc.digest)),
            ))
        })
    }
}
