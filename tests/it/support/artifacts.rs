//! Artifacts made the way cosign and oras make them, from bytes the tests generate: a
//! cosign simple-signing signature under `sha256-<hex>.sig`, an SBOM referrer with
//! `artifactType` and `subject`, and the referrers tag schema index a client writes for a
//! registry without the referrers API.

use super::images::{Blob, push_blob, push_manifest};
use super::keys::openssl_sign;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SPDX: &str = "application/spdx+json";

/// An artifact: its manifest and the blobs it names.
#[derive(Clone, Debug)]
pub struct Artifact {
    pub manifest: Blob,
    pub blobs: Vec<Blob>,
}

impl Artifact {
    /// Pushes the blobs, then the manifest under `reference` (a tag or its digest).
    pub fn push(&self, host: &str, repo: &str, reference: &str) {
        for b in &self.blobs {
            push_blob(host, repo, b);
        }
        push_manifest(host, repo, reference, &self.manifest);
    }
}

/// `sha256-<hex>` of a digest, with a suffix (`.sig`) or without (the referrers tag).
pub fn tag_of(digest: &str, suffix: &str) -> String {
    format!("sha256-{}{suffix}", digest.trim_start_matches("sha256:"))
}

/// The simple-signing payload `cosign sign` writes for `subject` (a manifest digest).
pub fn simple_signing_payload(host_repo: &str, subject: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "critical": {
            "identity": { "docker-reference": host_repo },
            "image": { "docker-manifest-digest": subject },
            "type": "cosign container image signature"
        },
        "optional": null
    }))
    .expect("json")
}

/// A cosign signature of `subject` (a manifest digest) as `cosign sign` stores it: an OCI
/// manifest whose config is a generic image config and whose one layer is the
/// simple-signing payload, annotated with the base64 signature. `seed` varies the
/// signature, as a second signer would; the signature itself is not valid.
pub fn cosign_signature(host_repo: &str, subject: &str, seed: u8) -> Artifact {
    let signature = format!("MEUCIQ{}test-signature-{seed}==", "A".repeat(40));
    simple_signing(simple_signing_payload(host_repo, subject), &signature)
}

/// A simple-signing `.sig` manifest holding `payload` and its base64 `signature`.
pub fn simple_signing(payload: Vec<u8>, signature: &str) -> Artifact {
    let payload = Blob::new(payload, SIMPLE_SIGNING);
    let config = Blob::new(
        serde_json::to_vec(&serde_json::json!({
            "architecture": "", "os": "", "config": {},
            "rootfs": { "type": "layers", "diff_ids": [payload.digest] }
        }))
        .expect("json"),
        "application/vnd.oci.image.config.v1+json",
    );
    let mut layer = payload.descriptor();
    layer["annotations"] = serde_json::json!({ "dev.cosignproject.cosign/signature": signature });
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer],
    }))
    .expect("json");
    Artifact {
        manifest: Blob::new(manifest, OCI_MANIFEST),
        blobs: vec![config, payload],
    }
}

/// A cosign simple-signing signature of `subject` made with `key` by openssl.
pub fn signed_by(key: &std::path::Path, host_repo: &str, subject: &str) -> Artifact {
    let payload = simple_signing_payload(host_repo, subject);
    let signature = openssl_sign(key, &payload);
    simple_signing(payload, &signature)
}

pub const SIGSTORE_BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// A cosign 3 signature of `subject` in the sigstore bundle form, made with `key`: an OCI
/// referrer whose one layer is a sigstore bundle holding a DSSE envelope of an in-toto
/// statement (predicate `https://sigstore.dev/cosign/sign/v1`) naming the image, signed
/// over DSSE's pre-authentication encoding.
pub fn sigstore_bundle_signed_by(key: &std::path::Path, subject: &Blob) -> Artifact {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let statement = serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": "app", "digest": { "sha256": subject.digest.trim_start_matches("sha256:") } }],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {}
    }))
    .expect("json");
    let payload_type = "application/vnd.in-toto+json";
    let mut pae = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        statement.len()
    )
    .into_bytes();
    pae.extend_from_slice(&statement);
    let bundle = serde_json::to_vec(&serde_json::json!({
        "mediaType": SIGSTORE_BUNDLE,
        "verificationMaterial": { "publicKey": { "hint": "test-key" }, "tlogEntries": [] },
        "dsseEnvelope": {
            "payload": b64(&statement),
            "payloadType": payload_type,
            "signatures": [{ "sig": openssl_sign(key, &pae), "keyid": "" }]
        }
    }))
    .expect("json");
    let layer = Blob::new(bundle, SIGSTORE_BUNDLE);
    let empty = Blob::new(b"{}".to_vec(), "application/vnd.oci.empty.v1+json");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": SIGSTORE_BUNDLE,
        "config": empty.descriptor(),
        "layers": [layer.descriptor()],
        "subject": subject.descriptor(),
    }))
    .expect("json");
    Artifact {
        manifest: Blob::new(manifest, OCI_MANIFEST),
        blobs: vec![empty, layer],
    }
}

/// An SBOM attached to `subject` (a manifest's descriptor) as `oras attach` makes it:
/// `artifactType`, the empty config, one SPDX layer, `subject`, annotations.
pub fn sbom(subject: &Blob, name: &str) -> Artifact {
    let empty = Blob::new(b"{}".to_vec(), "application/vnd.oci.empty.v1+json");
    let doc = Blob::new(
        serde_json::to_vec(&serde_json::json!({
            "spdxVersion": "SPDX-2.3", "name": name, "packages": []
        }))
        .expect("json"),
        SPDX,
    );
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": SPDX,
        "config": empty.descriptor(),
        "layers": [doc.descriptor()],
        "subject": subject.descriptor(),
        "annotations": { "org.opencontainers.image.created": "2026-01-01T00:00:00Z" },
    }))
    .expect("json");
    Artifact {
        manifest: Blob::new(manifest, OCI_MANIFEST),
        blobs: vec![empty, doc],
    }
}

/// The referrers tag schema index listing `artifacts`, as a client writes it.
pub fn referrers_index(artifacts: &[(&Artifact, &str)]) -> Blob {
    let manifests: Vec<serde_json::Value> = artifacts
        .iter()
        .map(|(a, artifact_type)| {
            let mut d = a.manifest.descriptor();
            d["artifactType"] = serde_json::json!(artifact_type);
            d
        })
        .collect();
    Blob::new(
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests
        }))
        .expect("json"),
        OCI_INDEX,
    )
}

/// A Helm chart as `helm push` stores it (OCI): the chart's metadata as the config
/// (`application/vnd.cncf.helm.config.v1+json`) and the packaged chart as one gzipped tar
/// layer (`application/vnd.cncf.helm.chart.content.v1.tar+gzip`).
pub fn helm_chart(name: &str, version: &str) -> Artifact {
    let config = Blob::new(
        serde_json::to_vec(&serde_json::json!({
            "apiVersion": "v2", "name": name, "version": version, "type": "application"
        }))
        .expect("json"),
        "application/vnd.cncf.helm.config.v1+json",
    );
    let chart_yaml = format!("apiVersion: v2\nname: {name}\nversion: {version}\n");
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(chart_yaml.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, format!("{name}/Chart.yaml"), chart_yaml.as_bytes())
        .expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar.into_inner().expect("tar")).expect("gzip");
    let content = Blob::new(
        gz.finish().expect("gzip"),
        "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
    );
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": config.descriptor(),
        "layers": [content.descriptor()],
        "annotations": { "org.opencontainers.image.title": name, "org.opencontainers.image.version": version },
    }))
    .expect("json");
    Artifact {
        manifest: Blob::new(manifest, OCI_MANIFEST),
        blobs: vec![config, content],
    }
}
