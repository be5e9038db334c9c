//! Keyless signatures of the images a bundle carries: every signature artifact the bundle
//! relates to an image (cosign 3's Sigstore bundle referrers, and legacy `.sig` simple
//! signing layers with `dev.sigstore.cosign/certificate`, `…/chain`, `…/bundle` and
//! `…/rfc3161timestamp` annotations) is verified offline with [`super::bundle`] against
//! the trusted root and identity policies. An image passes when one of them verifies and
//! names its digest. A key-signed signature never counts here.

use super::bundle::{self, Parsed, Trust, Verdict};
use super::content::Content;
use super::error::KeylessError;
use super::policy::Policies;
use super::time::UnixTime;
use super::tlog::Entry;
use super::trusted_root::{TrustedRoot, b64};
use crate::blob_store::BlobStore;
use crate::bundle::index::{BundleIndex, ImageEntry};
use crate::oci::Digest;
use crate::trust::image_signatures::{
    SIGNATURE_ANNOTATION, SIGSTORE_BUNDLE_PREFIX, SIMPLE_SIGNING, SignatureLayer,
    SignatureManifest, Unverified, first_verified, read_layer, simple_signing_digest,
    statement_names,
};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// The certificate annotation of a legacy keyless `.sig` layer (PEM).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// The chain annotation (PEM, intermediates then root).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// The Rekor bundle annotation (signed entry timestamp and entry).
pub const REKOR_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// The RFC 3161 timestamp annotation.
pub const TIMESTAMP_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";

/// What keyless verification needs: the trusted root and who may sign.
#[derive(Clone, Debug)]
pub struct Keyless {
    /// The trusted root.
    pub root: TrustedRoot,
    /// The identity policies (any one).
    pub policies: Policies,
}

/// A keyless signature of an image that verified.
#[derive(Clone, Debug)]
pub struct KeylessVerified {
    /// The signature artifact's manifest.
    pub artifact: Digest,
    /// `sigstore bundle` or `simple signing`.
    pub form: &'static str,
    /// Who signed, when, how proven.
    pub verdict: Verdict,
}

impl KeylessVerified {
    /// One line for people.
    pub fn describe(&self, image: &ImageEntry) -> String {
        format!(
            "image `{}`: keyless signature {} ({}) verified: {}",
            image.reference,
            self.artifact.short(),
            self.form,
            self.verdict.describe()
        )
    }

    /// For `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "signature": self.artifact, "form": self.form,
            "identity": self.verdict.identity, "issuer": self.verdict.issuer,
            "signedAt": super::time::show(self.verdict.signed_at), "proof": self.verdict.proof,
        })
    }
}

fn now() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as UnixTime)
}

/// Checks `image`'s keyless signatures against `keyless`.
pub fn check_image(
    store: &BlobStore,
    index: &BundleIndex,
    image: &ImageEntry,
    keyless: &Keyless,
) -> Result<KeylessVerified, Unverified> {
    first_verified(
        index,
        image,
        "the bundle carries no keyless signature for it",
        |artifact| check_artifact(store, artifact, &image.digest, keyless),
    )
    .map(|(artifact, (form, verdict))| KeylessVerified {
        artifact,
        form,
        verdict,
    })
}

/// Checks every image `index` lists.
pub fn check_images<'a>(
    store: &BlobStore,
    index: &'a BundleIndex,
    keyless: &Keyless,
) -> Vec<(&'a ImageEntry, Result<KeylessVerified, Unverified>)> {
    index
        .images
        .iter()
        .map(|image| (image, check_image(store, index, image, keyless)))
        .collect()
}

type Found = Option<(&'static str, Verdict)>;

fn check_artifact(
    store: &BlobStore,
    artifact: &Digest,
    image: &Digest,
    keyless: &Keyless,
) -> Result<Found, String> {
    if !store.has(artifact) {
        return Err(
            "not carried in this bundle; give the bundle that carried it with --base".into(),
        );
    }
    let raw = store.manifest(artifact)?;
    let manifest: SignatureManifest = serde_json::from_slice(&raw.bytes)
        .map_err(|e| format!("its manifest is not an image manifest: {e}"))?;
    let mut failure = None;
    let mut any = false;
    for layer in &manifest.layers {
        let outcome = if layer.media_type.starts_with(SIGSTORE_BUNDLE_PREFIX) {
            any = true;
            sigstore_bundle(store, layer, image, keyless).map(|v| ("sigstore bundle", v))
        } else if layer.media_type == SIMPLE_SIGNING
            && layer.annotations.contains_key(CERTIFICATE_ANNOTATION)
        {
            any = true;
            legacy(store, layer, image, keyless).map(|v| ("simple signing", v))
        } else {
            continue;
        };
        match outcome {
            Ok(found) => return Ok(Some(found)),
            Err(e) => failure = Some(e),
        }
    }
    match (any, failure) {
        (_, Some(e)) => Err(e),
        (true, None) => Err("no signature in it".into()),
        (false, None) => Ok(None),
    }
}

fn image_bytes(image: &Digest) -> Vec<u8> {
    hex::decode(image.hex()).unwrap_or_default()
}

fn sigstore_bundle(
    store: &BlobStore,
    layer: &SignatureLayer,
    image: &Digest,
    keyless: &Keyless,
) -> Result<Verdict, String> {
    let bytes = read_layer(store, layer)?;
    let parsed = bundle::parse(&bytes).map_err(|e| e.to_string())?;
    if parsed.certificates.is_empty() {
        return Err("signed with a key, not a certificate (give the key with --cosign-key)".into());
    }
    if let Content::Dsse { payload, .. } = &parsed.content {
        statement_names(payload, image)?;
    }
    verify(&parsed, &image_bytes(image), keyless)
}

fn verify(parsed: &Parsed, artifact: &[u8], keyless: &Keyless) -> Result<Verdict, String> {
    bundle::verify_parsed(
        parsed,
        artifact,
        &keyless.root,
        Trust::Identities(&keyless.policies),
        now(),
    )
    .map_err(|e: KeylessError| e.to_string())
}

#[derive(Deserialize)]
struct RekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    set: String,
    #[serde(rename = "Payload")]
    payload: RekorPayload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RekorPayload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

#[derive(Deserialize)]
struct Rfc3161 {
    #[serde(rename = "SignedRFC3161Timestamp")]
    signed: String,
}

fn pem_blocks(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut inside: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with("-----BEGIN") {
            inside = Some(String::new());
        } else if line.starts_with("-----END") {
            if let Some(body) = inside.take() {
                out.push(b64(&body)?);
            }
        } else if let Some(body) = inside.as_mut() {
            body.push_str(line);
        }
    }
    Ok(out)
}

/// A legacy `.sig` layer with a certificate, read as a v0.1 bundle over the payload.
fn legacy(
    store: &BlobStore,
    layer: &SignatureLayer,
    image: &Digest,
    keyless: &Keyless,
) -> Result<Verdict, String> {
    let a = &layer.annotations;
    let signature = a
        .get(SIGNATURE_ANNOTATION)
        .ok_or_else(|| format!("no `{SIGNATURE_ANNOTATION}` annotation"))?;
    let signature = b64(signature)?;
    let mut certificates = pem_blocks(&a[CERTIFICATE_ANNOTATION])?;
    if let Some(chain) = a.get(CHAIN_ANNOTATION) {
        // The chain ends at the root, which comes only from the trusted root.
        let mut chain = pem_blocks(chain)?;
        chain.pop();
        certificates.extend(chain);
    }
    let payload = read_layer(store, layer)?;
    let digest = Sha256::digest(&payload).to_vec();
    let mut entries = Vec::new();
    if let Some(rekor) = a.get(REKOR_BUNDLE_ANNOTATION) {
        let r: RekorBundle = serde_json::from_str(rekor)
            .map_err(|e| format!("its `{REKOR_BUNDLE_ANNOTATION}` is unreadable: {e}"))?;
        let body = b64(&r.payload.body)?;
        let kind: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("its log entry: {e}"))?;
        entries.push(Entry {
            log_index: r.payload.log_index,
            log_id: hex::decode(&r.payload.log_id).map_err(|e| format!("its log id: {e}"))?,
            kind: kind["kind"].as_str().unwrap_or_default().to_owned(),
            version: kind["apiVersion"].as_str().unwrap_or_default().to_owned(),
            integrated_time: Some(r.payload.integrated_time),
            set: Some(b64(&r.set)?),
            proof: None,
            body,
        });
    }
    let timestamps = match a.get(TIMESTAMP_ANNOTATION) {
        Some(t) => {
            let t: Rfc3161 = serde_json::from_str(t)
                .map_err(|e| format!("its `{TIMESTAMP_ANNOTATION}` is unreadable: {e}"))?;
            vec![b64(&t.signed)?]
        }
        None => Vec::new(),
    };
    let parsed = Parsed {
        minor: 1,
        certificates,
        entries,
        timestamps,
        content: Content::Message {
            digest: digest.clone(),
            signature,
        },
    };
    let verdict = verify(&parsed, &digest, keyless)?;
    let named = simple_signing_digest(&payload)?;
    if &named != image {
        return Err(format!("digest mismatch: it signs {named}, not this image"));
    }
    Ok(verdict)
}

/// Leaves out of `reader`'s index every image without a valid keyless signature (with
/// `keyless` given); one line per image, `Ok` verified or `Err` left out with why.
pub fn retain_verified(
    reader: &mut crate::bundle::reader::BundleReader,
    keyless: Option<&Keyless>,
) -> Vec<Result<String, String>> {
    let Some(keyless) = keyless else {
        return Vec::new();
    };
    let (lines, failed): (Vec<_>, Vec<_>) = {
        let store = BlobStore::new(reader, &[]);
        check_images(&store, &reader.index, keyless)
            .into_iter()
            .map(|(image, verdict)| match verdict {
                Ok(v) => (Ok(v.describe(image)), None),
                Err(u) => (
                    Err(format!(
                        "image `{}` ({}) is left out: no valid keyless signature: {u}",
                        image.reference,
                        image.digest.short()
                    )),
                    Some(image.digest.clone()),
                ),
            })
            .unzip()
    };
    let failed: Vec<Digest> = failed.into_iter().flatten().collect();
    reader.index.images.retain(|i| !failed.contains(&i.digest));
    lines
}
