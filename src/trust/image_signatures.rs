//! cosign image signatures, checked offline against public keys, from what the bundle
//! carries. cosign signs an image's manifest digest (an index's digest for a
//! multi-platform image) and stores the signature in one of two forms, both carried as
//! artifacts of the image (see `bundle-format.md`, "Referrers"):
//!
//! - **simple signing** (`sha256-<hex>.sig`): each layer is a JSON payload whose
//!   `critical.image.docker-manifest-digest` names the image, signed with the key; the
//!   layer's `dev.cosignproject.cosign/signature` annotation is the base64 DER signature
//!   over the payload's bytes;
//! - **sigstore bundle** (cosign 3, an OCI referrer): the layer is a sigstore bundle whose
//!   DSSE envelope holds an in-toto statement with predicate type
//!   `https://sigstore.dev/cosign/sign/v1` and the image as subject, signed over DSSE's
//!   pre-authentication encoding; or whose message signature is over the manifest's digest.
//!
//! An image passes when one signature is valid for a trusted key and names its digest.
//! Only the key signature is checked here; signatures made with a Fulcio certificate
//! (keyless) are checked against a trusted root and identity policies by
//! `keyless::images`, and never count for a key.

use super::keyless::content::pae;
use super::keys::{TrustedKeys, decode_signature};
use crate::blob_store::BlobStore;
use crate::bundle::index::{BundleIndex, ImageEntry};
use crate::oci::Digest;
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Read;

/// Media type of a simple-signing payload layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding a simple-signing signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Prefix of sigstore bundle media types (`…bundle.v0.3+json`, `…bundle+json;version=0.2`).
pub const SIGSTORE_BUNDLE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
/// The in-toto predicate type cosign 3 uses for an image signature.
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// Largest signature layer read: payloads and sigstore bundles are a few KiB.
const MAX_LAYER_BYTES: u64 = 1 << 20;

/// A signature that checked.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The signature artifact's manifest.
    pub artifact: Digest,
    /// `simple signing` or `sigstore bundle`.
    pub form: &'static str,
    /// The trusted key's fingerprint.
    pub key: Digest,
    /// Where the key came from.
    pub source: String,
}

impl Verified {
    /// One line for people: which signature of `image` verified, in which form, by which key.
    pub fn describe(&self, image: &ImageEntry) -> String {
        format!(
            "image `{}`: cosign signature {} ({}) by {} (`{}`) verified",
            image.reference,
            self.artifact.short(),
            self.form,
            self.key,
            self.source
        )
    }
}

/// Why an image has no valid signature: one reason per signature found, or that none is
/// carried.
#[derive(Clone, Debug)]
pub struct Unverified {
    /// The reasons, for one line.
    pub reasons: Vec<String>,
}

impl std::fmt::Display for Unverified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reasons.join("; "))
    }
}

#[derive(Deserialize)]
pub(crate) struct SignatureManifest {
    #[serde(default)]
    pub(crate) layers: Vec<SignatureLayer>,
}

#[derive(Deserialize)]
pub(crate) struct SignatureLayer {
    #[serde(rename = "mediaType", default)]
    pub(crate) media_type: String,
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) annotations: BTreeMap<String, String>,
}

/// Checks `image` against `keys` using the signatures `index` relates to it, read from
/// `store` (the bundle, and any `--base` bundles that hold what it lists as external).
pub fn check_image(
    store: &BlobStore,
    index: &BundleIndex,
    image: &ImageEntry,
    keys: &TrustedKeys,
) -> Result<Verified, Unverified> {
    first_verified(
        index,
        image,
        "the bundle carries no cosign signature for it (pack it without --no-referrers, after `cosign sign`)",
        |artifact| check_artifact(store, artifact, &image.digest, keys),
    )
    .map(|(artifact, (form, key, source))| Verified {
        artifact,
        form,
        key,
        source,
    })
}

/// The first artifact of `image` (found at its origin) that `check` verifies, with what
/// the check found; else every reason one failed (`none` when no artifact was a
/// signature of the kind checked). Key-based and keyless checks walk the same way.
pub(crate) fn first_verified<T>(
    index: &BundleIndex,
    image: &ImageEntry,
    none: &str,
    mut check: impl FnMut(&Digest) -> Result<Option<T>, String>,
) -> Result<(Digest, T), Unverified> {
    let mut reasons = Vec::new();
    let origin = image.origin();
    for referrer in index
        .referrers_of(&image.digest)
        .filter(|r| r.found_at(&origin))
    {
        match check(&referrer.digest) {
            Ok(Some(found)) => return Ok((referrer.digest.clone(), found)),
            Ok(None) => {}
            Err(reason) => reasons.push(format!("signature {}: {reason}", referrer.digest.short())),
        }
    }
    if reasons.is_empty() {
        reasons.push(none.into());
    }
    Err(Unverified { reasons })
}

/// Checks every image `index` lists (after any `--image` selection).
pub fn check_images<'a>(
    store: &BlobStore,
    index: &'a BundleIndex,
    keys: &TrustedKeys,
) -> Vec<(&'a ImageEntry, Result<Verified, Unverified>)> {
    index
        .images
        .iter()
        .map(|image| (image, check_image(store, index, image, keys)))
        .collect()
}

/// One image's verdict for `--json`.
pub fn verdict_json(
    image: &ImageEntry,
    verdict: &Result<Verified, Unverified>,
) -> serde_json::Value {
    match verdict {
        Ok(v) => serde_json::json!({
            "image": image.reference, "digest": image.digest, "verified": true,
            "form": v.form, "signature": v.artifact, "key": v.key, "keyFile": v.source,
        }),
        Err(u) => serde_json::json!({
            "image": image.reference, "digest": image.digest, "verified": false,
            "reasons": u.reasons,
        }),
    }
}

/// `Ok(None)` when the artifact is not a signature (an SBOM, say).
fn check_artifact(
    store: &BlobStore,
    artifact: &Digest,
    image: &Digest,
    keys: &TrustedKeys,
) -> Result<Option<(&'static str, Digest, String)>, String> {
    if !store.has(artifact) {
        return Err(
            "not carried in this bundle (the far side had it); give the bundle that carried it with --base"
                .into(),
        );
    }
    let raw = store.manifest(artifact)?;
    let manifest: SignatureManifest = serde_json::from_slice(&raw.bytes)
        .map_err(|e| format!("its manifest is not an image manifest: {e}"))?;
    let mut failure = None;
    let mut any = false;
    for layer in &manifest.layers {
        let outcome = if layer.media_type == SIMPLE_SIGNING {
            any = true;
            check_simple_signing(store, layer, image, keys).map(|k| ("simple signing", k))
        } else if layer.media_type.starts_with(SIGSTORE_BUNDLE_PREFIX) {
            any = true;
            check_sigstore_bundle(store, layer, image, keys).map(|k| ("sigstore bundle", k))
        } else {
            continue;
        };
        match outcome {
            Ok((form, (key, source))) => return Ok(Some((form, key, source))),
            Err(e) => failure = Some(e),
        }
    }
    match (any, failure) {
        (_, Some(e)) => Err(e),
        (true, None) => Err("no signature in it".into()),
        (false, None) => Ok(None),
    }
}

pub(crate) fn read_layer(store: &BlobStore, layer: &SignatureLayer) -> Result<Vec<u8>, String> {
    if layer.size > MAX_LAYER_BYTES {
        return Err(format!(
            "its layer is {} bytes; a signature is a few KiB",
            layer.size
        ));
    }
    if !store.has(&layer.digest) {
        return Err(format!("its layer {} is not carried", layer.digest.short()));
    }
    let mut bytes = Vec::with_capacity(layer.size as usize);
    store
        .reader(&layer.digest, layer.size)
        .map_err(|e| e.to_string())?
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading its layer: {e}"))?;
    Ok(bytes)
}

fn not_trusted(keys: &TrustedKeys) -> String {
    format!("not made by a trusted key ({})", keys.describe())
}

fn check_simple_signing(
    store: &BlobStore,
    layer: &SignatureLayer,
    image: &Digest,
    keys: &TrustedKeys,
) -> Result<(Digest, String), String> {
    let signature = layer
        .annotations
        .get(SIGNATURE_ANNOTATION)
        .ok_or_else(|| format!("its payload has no `{SIGNATURE_ANNOTATION}` annotation"))?;
    let signature = decode_signature(signature.as_bytes())?;
    let payload = read_layer(store, layer)?;
    let key = keys
        .signer_of(&payload, &signature)
        .ok_or_else(|| not_trusted(keys))?;
    let named = simple_signing_digest(&payload)?;
    if &named != image {
        return Err(format!("it signs {named}, not this image"));
    }
    Ok((key.fingerprint().clone(), key.source().to_owned()))
}

/// The manifest digest a simple-signing payload names.
pub fn simple_signing_digest(payload: &[u8]) -> Result<Digest, String> {
    #[derive(Deserialize)]
    struct Payload {
        critical: Critical,
    }
    #[derive(Deserialize)]
    struct Critical {
        image: Image,
        #[serde(rename = "type")]
        kind: String,
    }
    #[derive(Deserialize)]
    struct Image {
        #[serde(rename = "docker-manifest-digest")]
        digest: Digest,
    }
    let p: Payload = serde_json::from_slice(payload)
        .map_err(|e| format!("its payload is not a simple-signing document: {e}"))?;
    if p.critical.kind != "cosign container image signature" {
        return Err(format!(
            "its payload's type is `{}`, not a cosign image signature",
            crate::output::sanitize(&p.critical.kind)
        ));
    }
    Ok(p.critical.image.digest)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SigstoreBundle {
    dsse_envelope: Option<Envelope>,
    message_signature: Option<MessageSignature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    payload: String,
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Deserialize)]
struct EnvelopeSignature {
    sig: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageSignature {
    message_digest: MessageDigest,
    signature: String,
}

#[derive(Deserialize)]
struct MessageDigest {
    algorithm: String,
    digest: String,
}

fn check_sigstore_bundle(
    store: &BlobStore,
    layer: &SignatureLayer,
    image: &Digest,
    keys: &TrustedKeys,
) -> Result<(Digest, String), String> {
    let bytes = read_layer(store, layer)?;
    let bundle: SigstoreBundle =
        serde_json::from_slice(&bytes).map_err(|e| format!("not a sigstore bundle: {e}"))?;
    let b64 = |text: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("not base64: {e}"))
    };
    if let Some(envelope) = bundle.dsse_envelope {
        let payload = b64(&envelope.payload)?;
        let signed = pae(&envelope.payload_type, &payload);
        let key = envelope
            .signatures
            .iter()
            .filter_map(|s| decode_signature(s.sig.as_bytes()).ok())
            .find_map(|s| keys.signer_of(&signed, &s))
            .ok_or_else(|| not_trusted(keys))?;
        if envelope.payload_type != "application/vnd.in-toto+json" {
            return Err(format!(
                "its envelope holds `{}`, not an in-toto statement",
                crate::output::sanitize(&envelope.payload_type)
            ));
        }
        statement_names(&payload, image)?;
        return Ok((key.fingerprint().clone(), key.source().to_owned()));
    }
    if let Some(message) = bundle.message_signature {
        let named = b64(&message.message_digest.digest)?;
        if message.message_digest.algorithm != "SHA2_256"
            || named.as_slice() != hex::decode(image.hex()).unwrap_or_default()
        {
            return Err("its message signature is over another digest".into());
        }
        let signature = decode_signature(message.signature.as_bytes())?;
        let key = keys
            .iter()
            .find(|k| k.verifies_digest(image, &signature))
            .ok_or_else(|| not_trusted(keys))?;
        return Ok((key.fingerprint().clone(), key.source().to_owned()));
    }
    Err("the sigstore bundle holds neither a DSSE envelope nor a message signature".into())
}

/// The in-toto statement is cosign's image signature and names `image` as a subject.
pub(crate) fn statement_names(statement: &[u8], image: &Digest) -> Result<(), String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Statement {
        predicate_type: String,
        subject: Vec<Subject>,
    }
    #[derive(Deserialize)]
    struct Subject {
        digest: BTreeMap<String, String>,
    }
    let s: Statement = serde_json::from_slice(statement)
        .map_err(|e| format!("its statement is not in-toto: {e}"))?;
    if s.predicate_type != COSIGN_SIGN_PREDICATE {
        return Err(format!(
            "its statement is a `{}`, not a cosign image signature ({COSIGN_SIGN_PREDICATE})",
            crate::output::sanitize(&s.predicate_type)
        ));
    }
    let names: Vec<&str> = s
        .subject
        .iter()
        .filter_map(|x| x.digest.get("sha256").map(String::as_str))
        .collect();
    if names.contains(&image.hex()) {
        Ok(())
    } else {
        Err(format!(
            "it signs sha256:{}, not this image",
            names.first().map_or("(nothing)", |n| n)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_simple_signing_payload_names_its_image() {
        let payload = include_bytes!("../../fixtures/cosign/sigstore-rs-busybox.payload.json");
        assert_eq!(
            simple_signing_digest(payload).expect("parses").as_str(),
            "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b"
        );
    }

    #[test]
    fn pae_is_dsse_v1() {
        assert_eq!(pae("t", b"ab"), b"DSSEv1 1 t 2 ab".to_vec());
    }

    #[test]
    fn statements_must_be_cosign_signatures_of_the_image() {
        let image = Digest::of(b"image");
        let stmt = |pt: &str, hex: &str| {
            serde_json::json!({"_type": "https://in-toto.io/Statement/v1", "predicateType": pt,
                "subject": [{"name": "x", "digest": {"sha256": hex}}], "predicate": {}})
            .to_string()
        };
        assert!(
            statement_names(stmt(COSIGN_SIGN_PREDICATE, image.hex()).as_bytes(), &image).is_ok()
        );
        let other = Digest::of(b"other");
        assert!(
            statement_names(stmt(COSIGN_SIGN_PREDICATE, other.hex()).as_bytes(), &image)
                .is_err_and(|e| e.contains("not this image"))
        );
        assert!(
            statement_names(
                stmt("https://slsa.dev/provenance/v1", image.hex()).as_bytes(),
                &image
            )
            .is_err_and(|e| e.contains("not a cosign image signature"))
        );
    }
}
