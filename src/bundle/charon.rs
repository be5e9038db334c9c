//! docker-charon payloads, read as bundles so a site can unpack its old payloads with
//! outrider and keep their digests. A payload is a zip of stored entries:
//! `payload_descriptor.json` (`manifests_paths`: image name → `manifests/<name with / as
//! _>` or null for an image already transferred; `blobs_paths`: digest → `{"zip_path":
//! "blobs/sha256:<hex>"}` or `{"repository": R}` for a blob the registry already holds),
//! one entry per manifest and per blob.
//!
//! The payload names no digest for its manifests: each is hashed from its bytes, and
//! everything else follows from the manifests, never from the descriptor's word alone. The
//! result is an ordinary [`BundleIndex`] over the payload's entries (under the names an
//! outrider bundle would give them), checked by [`validate::check_index`] like any other,
//! so every reader path (verify, every unpack mode, serve) treats a payload as a bundle.
//! Images are named `localhost/<name>` so their repository at the destination is the one
//! docker-charon pushes to (`ubuntu:22.04` → `REGISTRY/ubuntu:22.04`).

use super::blob_reader::EntrySpan;
use super::entry_name::blob_entry;
use super::index::{BlobEntry, BundleIndex, ImageEntry, ManifestEntry};
use super::index_entry::read_entry;
use super::read_error::ReadError;
use super::validate;
use crate::oci::manifest::MAX_MANIFEST_BYTES;
use crate::oci::{Digest, ImageRef, ParsedManifest, RawManifest};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// The descriptor entry that marks a docker-charon payload.
pub const DESCRIPTOR_ENTRY: &str = "payload_descriptor.json";

/// The `tool` of the index built for a payload, which is how a reader of the index tells a
/// payload from an outrider bundle (whose tool names outrider).
pub const PAYLOAD_TOOL: &str = "docker-charon payload";

/// What [`valid_entry_name`] allows, for the refusal.
pub const NAMING_RULE: &str = "only `payload_descriptor.json`, `manifests/<name>` and `blobs/sha256:<hex>` belong in a docker-charon payload";

/// Whether `name` is an entry name a payload may hold.
pub fn valid_entry_name(name: &str) -> bool {
    name == DESCRIPTOR_ENTRY
        || name
            .strip_prefix("manifests/")
            .is_some_and(|n| !n.is_empty() && !n.contains('/'))
        || name
            .strip_prefix("blobs/")
            .is_some_and(|d| d.parse::<Digest>().is_ok())
}

/// Largest descriptor read (one line per image and per blob).
const MAX_DESCRIPTOR_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Deserialize)]
struct PayloadDescriptor {
    manifests_paths: BTreeMap<String, Option<String>>,
    blobs_paths: BTreeMap<String, BlobPath>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum BlobPath {
    Zip { zip_path: String },
    Registry { repository: String },
}

/// A payload opened: the spans under outrider's entry names, its index, and the images it
/// lists as already transferred (not in it).
pub struct Payload {
    /// Entry spans keyed by the names an outrider bundle would use.
    pub entries: HashMap<String, EntrySpan>,
    /// The index built from the manifests.
    pub index: BundleIndex,
    /// Images the payload says the far side already has.
    pub already_transferred: Vec<String>,
}

/// `ubuntu:22.04` → (`ubuntu`, `22.04`), split as docker-charon splits it.
fn repo_and_tag(name: &str) -> (&str, &str) {
    name.split_once(':').unwrap_or((name, "latest"))
}

/// Builds the index of a payload from its raw entries (all checked stored by the caller).
pub fn open(
    path: &Path,
    file: &std::fs::File,
    raw: &HashMap<String, EntrySpan>,
) -> Result<Payload, ReadError> {
    let bad = |reason: String| ReadError::Index {
        path: path.to_owned(),
        reason: format!("docker-charon payload: {reason}"),
    };
    let span = raw[DESCRIPTOR_ENTRY];
    let text = read_entry(path, file, span, DESCRIPTOR_ENTRY, MAX_DESCRIPTOR_BYTES)?;
    // The same bound as an index's: serde_json would skip a deep unknown field unbounded.
    if let Some(at) = super::index_entry::too_deep(&text) {
        return Err(bad(format!(
            "{DESCRIPTOR_ENTRY}: arrays and objects nest deeper than {} levels (at byte {at})",
            super::index_entry::MAX_JSON_DEPTH
        )));
    }
    let descriptor: PayloadDescriptor =
        serde_json::from_slice(&text).map_err(|e| bad(format!("{DESCRIPTOR_ENTRY}: {e}")))?;
    let shown = crate::output::sanitize;
    let mut images = Vec::new();
    let mut manifests: Vec<ManifestEntry> = Vec::new();
    let mut blobs: Vec<BlobEntry> = Vec::new();
    let mut entries = HashMap::new();
    let mut used: HashSet<&str> = HashSet::from([DESCRIPTOR_ENTRY]);
    let mut seen_blobs: HashMap<Digest, usize> = HashMap::new();
    let mut already_transferred = Vec::new();
    for (name, manifest_path) in &descriptor.manifests_paths {
        let Some(manifest_path) = manifest_path else {
            already_transferred.push(name.clone());
            continue;
        };
        let span = *raw.get(manifest_path.as_str()).ok_or_else(|| {
            bad(format!(
                "`{}` names `{}`, which the zip does not hold",
                shown(name),
                shown(manifest_path)
            ))
        })?;
        used.insert(manifest_path.as_str());
        let bytes = read_entry(path, file, span, manifest_path, MAX_MANIFEST_BYTES)?;
        let manifest = RawManifest::new(bytes.into(), None)
            .map_err(|e| bad(format!("`{}`: {e}", shown(manifest_path))))?;
        let ParsedManifest::Image { config, layers } = manifest
            .parse()
            .map_err(|e| bad(format!("`{}`: {e}", shown(manifest_path))))?
        else {
            return Err(bad(format!(
                "`{}` is an index; docker-charon carries image manifests only",
                shown(manifest_path)
            )));
        };
        let (repo, tag) = repo_and_tag(name);
        let reference = format!("localhost/{repo}:{tag}");
        let parsed: Option<ImageRef> = reference.parse().ok();
        if parsed.as_ref().is_none_or(|p| p.repository != repo) {
            return Err(bad(format!(
                "image name `{}` is not REPOSITORY:TAG",
                shown(name)
            )));
        }
        images.push(ImageEntry {
            requested: name.clone(),
            reference,
            source: format!("docker-charon:{}", path.display()),
            repository: repo.to_owned(),
            tag: Some(tag.to_owned()),
            digest: manifest.digest.clone(),
            media_type: manifest.media_type.clone(),
            platforms: Vec::new(),
        });
        if manifests.iter().any(|m| m.digest == manifest.digest) {
            continue;
        }
        entries.insert(blob_entry(&manifest.digest), span);
        let mut own = Vec::new();
        for desc in std::iter::once(&config).chain(&layers) {
            own.push(desc.digest.clone());
            if let Some(&i) = seen_blobs.get(&desc.digest) {
                if !blobs[i].repositories.iter().any(|r| r == repo) {
                    blobs[i].repositories.push(repo.to_owned());
                }
                continue;
            }
            let (entry, destination_repository) =
                match descriptor.blobs_paths.get(desc.digest.as_str()) {
                    Some(BlobPath::Zip { zip_path }) => {
                        if *zip_path != format!("blobs/{}", desc.digest) {
                            return Err(bad(format!(
                                "blob {} is said to be at `{}`; a payload keeps it at `blobs/{}`",
                                desc.digest,
                                shown(zip_path),
                                desc.digest
                            )));
                        }
                        let span = *raw.get(zip_path.as_str()).ok_or_else(|| {
                            bad(format!("blob {} is listed but not in the zip", desc.digest))
                        })?;
                        used.insert(zip_path.as_str());
                        entries.insert(blob_entry(&desc.digest), span);
                        (Some(blob_entry(&desc.digest)), None)
                    }
                    Some(BlobPath::Registry { repository }) => (None, Some(repository.clone())),
                    None => {
                        return Err(bad(format!(
                            "`{}` needs blob {}, which {DESCRIPTOR_ENTRY} does not list",
                            shown(name),
                            desc.digest
                        )));
                    }
                };
            seen_blobs.insert(desc.digest.clone(), blobs.len());
            blobs.push(BlobEntry {
                digest: desc.digest.clone(),
                size: desc.size,
                media_type: desc.media_type.clone(),
                repositories: vec![repo.to_owned()],
                entry,
                destination_repository,
            });
        }
        manifests.push(ManifestEntry {
            digest: manifest.digest.clone(),
            media_type: manifest.media_type.clone(),
            size: manifest.bytes.len() as u64,
            platform: None,
            children: Vec::new(),
            complete: None,
            blobs: own,
            entry: Some(blob_entry(&manifest.digest)),
            destination_repository: None,
        });
    }
    if let Some(name) = raw.keys().find(|n| !used.contains(n.as_str())) {
        return Err(ReadError::BadEntry {
            path: path.to_owned(),
            name: shown(name),
            reason: "the payload descriptor does not list it",
        });
    }
    let index = BundleIndex::new(
        PAYLOAD_TOOL.to_owned(),
        images,
        manifests,
        blobs,
        Vec::new(),
    );
    validate::check_index(&index).map_err(|e| bad(e.to_string()))?;
    Ok(Payload {
        entries,
        index,
        already_transferred,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_names_as_docker_charon_does() {
        assert_eq!(super::repo_and_tag("ubuntu:22.04"), ("ubuntu", "22.04"));
        assert_eq!(super::repo_and_tag("team/app:1"), ("team/app", "1"));
        assert_eq!(super::repo_and_tag("app"), ("app", "latest"));
    }
}
