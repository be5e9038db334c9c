//! What the report says about one artifact (its category and format, read from its type
//! and its manifest's layers) and about one image's signature (checked with the keys
//! given, else "not checked"). Shared by the report and `inspect --extract-artifacts`.

use crate::blob_store::BlobStore;
use crate::bundle::index::{BundleIndex, ImageEntry, ReferrerEntry};
use crate::bundle::reader::BundleReader;
use crate::oci::Digest;
use crate::trust::TrustedKeys;
use serde::{Deserialize, Serialize};

/// The verdict of a signature that checked.
pub const VERIFIED: &str = "verified";
/// The verdict when no key or identity was given.
pub const NOT_CHECKED: &str = "not checked";
/// The verdict of a signature that was checked and failed (or is absent).
pub const FAILED: &str = "failed";

/// How image signatures are checked: with `--cosign-key` public keys, with a keyless
/// trust (`--trusted-root` and the `--certificate-*` identities), or both (an image then
/// passes only when both verify, as `unpack` requires).
#[derive(Clone, Copy, Default)]
pub struct Verifier<'a> {
    /// `--cosign-key` public keys.
    pub keys: Option<&'a TrustedKeys>,
    /// The trusted root and the identities that may sign.
    pub keyless: Option<&'a crate::trust::keyless::images::Keyless>,
}

/// What kind of artifact it is, for the approver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// SPDX or CycloneDX document (or an attestation carrying one).
    Sbom,
    /// An in-toto attestation of another predicate (provenance, vulnerability scan…).
    Attestation,
    /// A signature (cosign simple signing, sigstore bundle).
    Signature,
    /// Anything else (a Helm chart, a custom artifact).
    Other,
}

/// One artifact of an image.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactFacts {
    /// `sbom`, `attestation`, `signature` or `other`.
    pub category: Category,
    /// How it was found: `signature`, `attestation`, `sbom` (cosign tags) or `referrer`.
    pub kind: String,
    /// Its artifact type.
    pub artifact_type: String,
    /// Its format in words: `SPDX JSON`, `CycloneDX JSON`, `in-toto (DSSE)`, …
    pub format: String,
    /// For an in-toto attestation: the predicate type its layer names, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// Its manifest's digest.
    pub digest: Digest,
    /// What it describes.
    pub subject: Digest,
    /// Bytes of its manifest and blobs.
    pub size: u64,
    /// Whether the bundle stores its bytes (else the far side had them).
    pub carried: bool,
}

/// One image's signature verdict.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSignature {
    /// `verified`, `failed` or `not checked`.
    pub verdict: String,
    /// How it was checked: `cosign-key`; absent when not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Who signed: the key's fingerprint (and file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The signature artifact that verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<Digest>,
    /// `simple signing` or `sigstore bundle`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    /// A keyless signer's identity (the certificate's SAN), when one verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The OIDC issuer the certificate names, when a keyless signature verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Signatures the bundle carries for the image.
    pub carried: usize,
}

/// The verdict on `image`'s cosign signature.
pub fn image_signature(
    store: &BlobStore<'_>,
    index: &BundleIndex,
    image: &ImageEntry,
    verifier: &Verifier<'_>,
) -> ImageSignature {
    let origin = image.origin();
    let carried = index
        .referrers_of(&image.digest)
        .filter(|r| r.found_at(&origin))
        .filter(|r| classify(&r.artifact_type, None).0 == Category::Signature)
        .count();
    let mut out = ImageSignature {
        verdict: NOT_CHECKED.into(),
        method: None,
        signer: None,
        signature: None,
        form: None,
        identity: None,
        issuer: None,
        reasons: Vec::new(),
        carried,
    };
    let mut methods = Vec::new();
    let mut signers = Vec::new();
    let mut failed = false;
    if let Some(keys) = verifier.keys {
        methods.push("cosign-key");
        match crate::trust::image_signatures::check_image(store, index, image, keys) {
            Ok(v) => {
                signers.push(format!("{} ({})", v.key, v.source));
                out.signature = Some(v.artifact);
                out.form = Some(v.form.into());
            }
            Err(u) => {
                failed = true;
                out.reasons.extend(u.reasons);
            }
        }
    }
    if let Some(keyless) = verifier.keyless {
        methods.push("keyless");
        match crate::trust::keyless::images::check_image(store, index, image, keyless) {
            Ok(v) => {
                signers.push(v.verdict.identity.clone());
                out.identity = Some(v.verdict.identity.clone());
                out.issuer = Some(v.verdict.issuer.clone());
                out.signature.get_or_insert(v.artifact);
                out.form.get_or_insert(v.form.into());
            }
            Err(u) => {
                failed = true;
                out.reasons.extend(u.reasons);
            }
        }
    }
    if !methods.is_empty() {
        out.method = Some(methods.join(" + "));
        out.verdict = if failed { FAILED } else { VERIFIED }.into();
        if !failed {
            out.signer = Some(signers.join("; "));
        }
    }
    out
}

/// The category and format of an artifact type (with its first layer's media type, when
/// known).
pub fn classify(artifact_type: &str, layer: Option<&str>) -> (Category, String) {
    let t = artifact_type.to_ascii_lowercase();
    let l = layer.unwrap_or_default().to_ascii_lowercase();
    let has = |s: &str| t.contains(s) || l.contains(s);
    if has("simplesigning") {
        (Category::Signature, "cosign simple signing".into())
    } else if has("sigstore.bundle") {
        (Category::Signature, "sigstore bundle".into())
    } else if has("dsse") || has("in-toto") {
        (Category::Attestation, "in-toto (DSSE)".into())
    } else if has("spdx") {
        let json = if has("json") { " JSON" } else { "" };
        (Category::Sbom, format!("SPDX{json}"))
    } else if has("cyclonedx") {
        let json = if has("json") {
            " JSON"
        } else if has("xml") {
            " XML"
        } else {
            ""
        };
        (Category::Sbom, format!("CycloneDX{json}"))
    } else {
        (Category::Other, artifact_type.to_owned())
    }
}

/// Layers of an artifact manifest, as far as the report needs them.
#[derive(Deserialize)]
pub struct ArtifactManifest {
    /// Its layers.
    #[serde(default)]
    pub layers: Vec<ArtifactLayer>,
}

/// One layer of an artifact manifest.
#[derive(Deserialize)]
pub struct ArtifactLayer {
    /// Its media type.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// Its annotations (cosign puts `predicateType` on attestation layers).
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// The artifact's manifest, read and verified from the bundle, when it is carried.
pub fn manifest_of(reader: &BundleReader, digest: &Digest) -> Option<ArtifactManifest> {
    let raw = reader.manifest(digest).ok()?;
    serde_json::from_slice(&raw.bytes).ok()
}

/// The facts of one artifact of `size` bytes.
pub fn artifact(reader: &BundleReader, r: &ReferrerEntry, size: u64) -> ArtifactFacts {
    let manifest = manifest_of(reader, &r.digest);
    let first = manifest.as_ref().and_then(|m| m.layers.first());
    let (mut category, format) = classify(&r.artifact_type, first.map(|l| l.media_type.as_str()));
    let predicate_type = first.and_then(|l| l.annotations.get("predicateType").cloned());
    // An attestation whose predicate is an SBOM is the SBOM, as scanners read it.
    if category == Category::Attestation
        && predicate_type
            .as_deref()
            .is_some_and(|p| classify(p, None).0 == Category::Sbom || p.contains("spdx.dev"))
    {
        category = Category::Sbom;
    }
    ArtifactFacts {
        category,
        kind: crate::bundle::referrers::kind(r).into(),
        artifact_type: r.artifact_type.clone(),
        format,
        predicate_type,
        digest: r.digest.clone(),
        subject: r.subject.clone(),
        size,
        carried: reader.index.carries(&r.digest),
    }
}
