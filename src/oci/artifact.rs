//! Artifacts that describe a manifest, and the two ways registries attach them: cosign's
//! tag scheme (`sha256-<hex>.sig`, `.att`, `.sbom` beside the image) and OCI 1.1 referrers
//! (the artifact's manifest names the image in `subject`; a registry without the referrers
//! API is given an index of them under the tag `sha256-<hex>`, the distribution spec's
//! "referrers tag schema").

use super::digest::{Descriptor, Digest};
use super::manifest::RawManifest;
use super::media_type;
use serde::Deserialize;

/// cosign's tag suffixes, with what each holds.
pub const COSIGN_SUFFIXES: [(&str, &str); 3] = [
    ("sig", "signature"),
    ("att", "attestation"),
    ("sbom", "sbom"),
];

/// The tag cosign gives an artifact of `subject`: `sha256-<hex>.<suffix>`.
pub fn cosign_tag(subject: &Digest, suffix: &str) -> String {
    format!("sha256-{}.{suffix}", subject.hex())
}

/// The referrers tag schema's tag for `subject`'s referrers index: `sha256-<hex>`.
pub fn fallback_tag(subject: &Digest) -> String {
    format!("sha256-{}", subject.hex())
}

/// What an artifact found under `tag` for `subject` is (`signature`, `attestation`,
/// `sbom`), or `None` when the tag is not one of cosign's for that subject.
pub fn cosign_kind(subject: &Digest, tag: &str) -> Option<&'static str> {
    COSIGN_SUFFIXES
        .iter()
        .find(|(suffix, _)| tag == cosign_tag(subject, suffix))
        .map(|(_, kind)| *kind)
}

/// One entry of a referrers index (the API's answer, or the tag schema's index).
#[derive(Clone, Debug, Deserialize)]
pub struct Referrer {
    /// The artifact's manifest.
    #[serde(flatten)]
    pub descriptor: Descriptor,
    /// Its artifact type, as the index states it.
    #[serde(rename = "artifactType", default)]
    pub artifact_type: Option<String>,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "artifactType")]
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    subject: Option<Descriptor>,
}

fn probe(raw: &RawManifest) -> Option<Probe> {
    serde_json::from_slice(&raw.bytes).ok()
}

/// The artifact type of manifest bytes, as `oras` and `cosign tree` show it: the
/// manifest's `artifactType`; else its config's media type; else, when the config is a
/// generic image config (cosign's `.sig` manifests carry one), its first layer's media
/// type (`application/vnd.dev.cosign.simplesigning.v1+json`); else the manifest's own.
pub fn artifact_type(raw: &RawManifest) -> String {
    let Some(p) = probe(raw) else {
        return raw.media_type.clone();
    };
    if let Some(t) = p.artifact_type.filter(|t| !t.is_empty()) {
        return t;
    }
    match p.config {
        Some(c) if !media_type::is_image_config(&c.media_type) && !c.media_type.is_empty() => {
            c.media_type
        }
        _ => p
            .layers
            .first()
            .map(|l| l.media_type.clone())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| raw.media_type.clone()),
    }
}

/// Whether a layer media type is a filesystem layer (OCI or Docker, any compression,
/// non-distributable or foreign).
fn is_layer(media_type: &str) -> bool {
    media_type.contains(".image.layer.") || media_type.contains(".image.rootfs.")
}

/// For an image manifest that is no image (a Helm chart, an SBOM, a signature, WASM,
/// model weights: an `artifactType`, a config that is not an image config, or layers
/// that are not filesystem layers): its artifact type. `None` for a runnable image.
pub fn not_an_image(raw: &RawManifest) -> Option<String> {
    let p = probe(raw)?;
    let artifact = p.artifact_type.as_deref().is_some_and(|t| !t.is_empty())
        || p.config
            .as_ref()
            .is_some_and(|c| !media_type::is_image_config(&c.media_type))
        || p.layers.iter().any(|l| !is_layer(&l.media_type));
    artifact.then(|| artifact_type(raw))
}

/// The `artifactType` a manifest or index declares, when it declares one.
pub fn declared_type(raw: &RawManifest) -> Option<String> {
    probe(raw)?.artifact_type.filter(|t| !t.is_empty())
}

/// The digest a manifest's `subject` names, when it has one.
pub fn subject_of(raw: &RawManifest) -> Option<Digest> {
    probe(raw).and_then(|p| p.subject).map(|s| s.digest)
}

/// The entry a referrers index holds for this artifact: its descriptor with
/// `artifactType` and the manifest's annotations, as the distribution spec prescribes.
pub fn referrers_index_entry(raw: &RawManifest) -> serde_json::Value {
    let mut entry = serde_json::json!({
        "mediaType": raw.media_type,
        "digest": raw.digest,
        "size": raw.bytes.len(),
        "artifactType": artifact_type(raw),
    });
    let annotations = serde_json::from_slice::<serde_json::Value>(&raw.bytes)
        .ok()
        .and_then(|v| v.get("annotations").cloned())
        .filter(|a| a.as_object().is_some_and(|o| !o.is_empty()));
    if let Some(a) = annotations {
        entry["annotations"] = a;
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn raw(json: &str) -> RawManifest {
        RawManifest::new(Bytes::from(json.to_owned()), None).unwrap()
    }

    #[test]
    fn artifact_types_as_clients_show_them() {
        let d = format!("sha256:{}", "a".repeat(64));
        let sig = raw(&format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{d}","size":1}},"layers":[{{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"{d}","size":1}}]}}"#
        ));
        assert_eq!(
            artifact_type(&sig),
            "application/vnd.dev.cosign.simplesigning.v1+json"
        );
        assert_eq!(subject_of(&sig), None);
        let sbom = raw(&format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/spdx+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{d}","size":2}},"layers":[],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d}","size":9}},"annotations":{{"a":"b"}}}}"#
        ));
        assert_eq!(artifact_type(&sbom), "application/spdx+json");
        assert_eq!(
            not_an_image(&sbom).as_deref(),
            Some("application/spdx+json")
        );
        assert!(not_an_image(&sig).is_some());
        let chart = raw(&format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"{d}","size":1}},"layers":[{{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":"{d}","size":1}}]}}"#
        ));
        assert_eq!(
            not_an_image(&chart).as_deref(),
            Some("application/vnd.cncf.helm.config.v1+json")
        );
        let image = raw(&format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{d}","size":1}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{d}","size":1}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"{d}","size":1}}]}}"#
        ));
        assert_eq!(not_an_image(&image), None);
        assert_eq!(subject_of(&sbom).unwrap().as_str(), d);
        let entry = referrers_index_entry(&sbom);
        assert_eq!(entry["artifactType"], "application/spdx+json");
        assert_eq!(entry["annotations"]["a"], "b");
        let subject: Digest = d.parse().unwrap();
        assert_eq!(
            cosign_kind(&subject, &format!("sha256-{}.sig", "a".repeat(64))),
            Some("signature")
        );
        assert_eq!(cosign_kind(&subject, "sha256-bb.sig"), None);
        assert_eq!(fallback_tag(&subject), format!("sha256-{}", "a".repeat(64)));
    }
}
