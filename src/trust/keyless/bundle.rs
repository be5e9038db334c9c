//! Sigstore bundles v0.1–v0.3 (`application/vnd.dev.sigstore.bundle+json;version=0.x`,
//! `application/vnd.dev.sigstore.bundle.v0.3+json`), verified offline against a trusted
//! root: the signature over the artifact's digest (a message signature, or a DSSE envelope
//! whose in-toto subject names the digest), the log entries, the RFC 3161 timestamps, then
//! the certificate's chain at every verified time, its SCT and its identity.

use super::certificate::{self, Chained};
use super::content::{Content, pae};
use super::error::{KeylessError, Result};
use super::policy::Policies;
use super::public_key::{Hash, PublicKey};
use super::time::{UnixTime, show};
use super::tlog::{self, RawEntry};
use super::trusted_root::{TrustedRoot, b64};
use super::{sct, tsa};
use serde::Deserialize;
use std::collections::BTreeMap;
use x509_cert::Certificate;

/// Largest bundle read: a bundle is a few KiB.
pub const MAX_BUNDLE_BYTES: usize = 1 << 20;

/// What admits a signer.
#[derive(Clone, Copy, Debug)]
pub enum Trust<'a> {
    /// A Fulcio certificate whose identity one of these policies admits.
    Identities(&'a Policies),
    /// A bundle signed with one of these keys (no certificate).
    Keys(&'a [PublicKey]),
}

/// A keyless signature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The certificate's identity (SAN), or `key` for a key-signed bundle.
    pub identity: String,
    /// The Fulcio OIDC issuer (empty for a key).
    pub issuer: String,
    /// The earliest verified signing time.
    pub signed_at: UnixTime,
    /// How the time was proven, for people: `log …` or `timestamp`.
    pub proof: String,
}

impl Verdict {
    /// One line for people.
    pub fn describe(&self) -> String {
        format!(
            "signed by `{}` (issuer `{}`) at {} ({})",
            crate::output::sanitize(&self.identity),
            crate::output::sanitize(&self.issuer),
            show(self.signed_at),
            self.proof
        )
    }
}

/// A bundle's parts, decoded.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// 1, 2 or 3 (minor version of 0.x).
    pub minor: u8,
    /// The leaf certificate and what follows it, or none for a key.
    pub certificates: Vec<Vec<u8>>,
    /// The log entries.
    pub entries: Vec<tlog::Entry>,
    /// DER RFC 3161 responses.
    pub timestamps: Vec<Vec<u8>>,
    /// What is signed.
    pub content: Content,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBundle {
    media_type: String,
    verification_material: RawMaterial,
    message_signature: Option<RawMessage>,
    dsse_envelope: Option<RawEnvelope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMaterial {
    certificate: Option<RawBytes>,
    x509_certificate_chain: Option<RawChain>,
    public_key: Option<serde_json::Value>,
    #[serde(default)]
    tlog_entries: Vec<RawEntry>,
    timestamp_verification_data: Option<RawTimestamps>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTimestamps {
    #[serde(default)]
    rfc3161_timestamps: Vec<RawTimestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTimestamp {
    signed_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMessage {
    message_digest: RawDigest,
    signature: String,
}

#[derive(Deserialize)]
struct RawDigest {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload: String,
    payload_type: String,
    signatures: Vec<RawEnvelopeSignature>,
}

#[derive(Deserialize)]
struct RawEnvelopeSignature {
    sig: String,
}

fn malformed(text: impl Into<String>) -> KeylessError {
    KeylessError::Malformed(text.into())
}

fn minor_version(media_type: &str) -> Result<u8> {
    match media_type {
        "application/vnd.dev.sigstore.bundle+json;version=0.1" => Ok(1),
        "application/vnd.dev.sigstore.bundle+json;version=0.2" => Ok(2),
        "application/vnd.dev.sigstore.bundle+json;version=0.3"
        | "application/vnd.dev.sigstore.bundle.v0.3+json" => Ok(3),
        other => Err(KeylessError::Unsupported(format!(
            "bundle media type `{}` (v0.1 to v0.3 are)",
            crate::output::sanitize(other)
        ))),
    }
}

/// Decodes a bundle's JSON.
pub fn parse(bytes: &[u8]) -> Result<Parsed> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(malformed(format!(
            "{} bytes; a bundle is a few KiB",
            bytes.len()
        )));
    }
    let raw: RawBundle = serde_json::from_slice(bytes)
        .map_err(|e| malformed(format!("not a Sigstore bundle: {e}")))?;
    let minor = minor_version(&raw.media_type)?;
    let m = &raw.verification_material;
    let certificates = match (&m.certificate, &m.x509_certificate_chain, &m.public_key) {
        (Some(c), None, None) => vec![b64(&c.raw_bytes).map_err(malformed)?],
        (None, Some(chain), None) => {
            if chain.certificates.is_empty() {
                return Err(malformed("the certificate chain is empty"));
            }
            chain
                .certificates
                .iter()
                .map(|c| b64(&c.raw_bytes).map_err(malformed))
                .collect::<Result<_>>()?
        }
        (None, None, Some(_)) => Vec::new(),
        _ => {
            return Err(malformed(
                "the verification material is not one certificate, chain or key",
            ));
        }
    };
    let content = match (raw.message_signature, raw.dsse_envelope) {
        (Some(m), None) => {
            if m.message_digest.algorithm != "SHA2_256" {
                return Err(KeylessError::Unsupported(format!(
                    "message digests in {}",
                    crate::output::sanitize(&m.message_digest.algorithm)
                )));
            }
            Content::Message {
                digest: b64(&m.message_digest.digest).map_err(malformed)?,
                signature: b64(&m.signature).map_err(|e| malformed(format!("signature: {e}")))?,
            }
        }
        (None, Some(e)) => {
            let [sig] = e.signatures.as_slice() else {
                return Err(malformed(
                    "a DSSE envelope must carry exactly one signature",
                ));
            };
            Content::Dsse {
                payload: b64(&e.payload).map_err(malformed)?,
                payload_type: e.payload_type,
                signature: b64(&sig.sig).map_err(|e| malformed(format!("signature: {e}")))?,
            }
        }
        _ => {
            return Err(malformed(
                "a bundle holds one message signature or one DSSE envelope",
            ));
        }
    };
    Ok(Parsed {
        minor,
        certificates,
        entries: m
            .tlog_entries
            .iter()
            .map(RawEntry::decode)
            .collect::<Result<_>>()?,
        timestamps: m
            .timestamp_verification_data
            .as_ref()
            .map(|t| {
                t.rfc3161_timestamps
                    .iter()
                    .map(|s| b64(&s.signed_timestamp).map_err(malformed))
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?
            .unwrap_or_default(),
        content,
    })
}

/// The in-toto statement's subjects' SHA-256 digests.
pub fn statement_subjects(payload: &[u8]) -> Result<Vec<Vec<u8>>> {
    #[derive(Deserialize)]
    struct Statement {
        subject: Vec<Subject>,
    }
    #[derive(Deserialize)]
    struct Subject {
        digest: BTreeMap<String, String>,
    }
    let s: Statement = serde_json::from_slice(payload)
        .map_err(|e| malformed(format!("the DSSE payload is not an in-toto statement: {e}")))?;
    Ok(s.subject
        .iter()
        .filter_map(|x| x.digest.get("sha256").and_then(|h| hex::decode(h).ok()))
        .collect())
}

/// Verifies a bundle for the artifact whose SHA-256 is `artifact`, at `now`.
pub fn verify(
    bytes: &[u8],
    artifact: &[u8],
    root: &TrustedRoot,
    trust: Trust<'_>,
    now: UnixTime,
) -> Result<Verdict> {
    verify_parsed(&parse(bytes)?, artifact, root, trust, now)
}

/// [`verify`] for a bundle already decoded (cosign's legacy `.sig` annotations become one).
pub fn verify_parsed(
    bundle: &Parsed,
    artifact: &[u8],
    root: &TrustedRoot,
    trust: Trust<'_>,
    now: UnixTime,
) -> Result<Verdict> {
    // What is signed is this artifact.
    match &bundle.content {
        Content::Message { digest, .. } => {
            if digest != artifact {
                return Err(KeylessError::DigestMismatch(format!(
                    "the bundle signs sha256:{}, not sha256:{}",
                    hex::encode(digest),
                    hex::encode(artifact)
                )));
            }
        }
        Content::Dsse {
            payload,
            payload_type,
            ..
        } => {
            if payload_type != "application/vnd.in-toto+json" {
                return Err(KeylessError::Unsupported(format!(
                    "DSSE payloads of type `{}`",
                    crate::output::sanitize(payload_type)
                )));
            }
            let subjects = statement_subjects(payload)?;
            if !subjects.iter().any(|s| s == artifact) {
                return Err(KeylessError::DigestMismatch(format!(
                    "the statement's subjects are {}, not sha256:{}",
                    subjects
                        .iter()
                        .map(|s| format!("sha256:{}", hex::encode(s)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    hex::encode(artifact)
                )));
            }
        }
    }
    // The signature, by the certificate's key or a trusted key.
    // Who signed: a certificate for identity policies, a key for trusted keys.
    let leaf = match (bundle.certificates.first(), trust) {
        (Some(der), Trust::Identities(policies)) => {
            Some((certificate::parse(der)?, der.clone(), policies))
        }
        (None, Trust::Keys(_)) => None,
        (Some(_), Trust::Keys(_)) => {
            return Err(KeylessError::Unsupported(
                "the bundle is signed with a certificate; a trusted key does not admit it (give identity policies)".into(),
            ));
        }
        (None, Trust::Identities(_)) => {
            return Err(KeylessError::Unsupported(
                "the bundle is signed with a key, not a certificate; an identity policy does not admit it (give the key)".into(),
            ));
        }
    };
    let check = |key: &PublicKey| -> std::result::Result<(), String> {
        match &bundle.content {
            Content::Message { signature, .. } => key.verify_digest(artifact, signature),
            Content::Dsse {
                payload_type,
                payload,
                signature,
            } => key.verify(&pae(payload_type, payload), signature, Hash::Sha256),
        }
    };
    let signer_der = match (&leaf, trust) {
        (Some((cert, der, _)), _) => {
            let key = certificate::public_key(cert).map_err(KeylessError::Chain)?;
            check(&key)
                .map_err(|e| KeylessError::Signature(format!("by the certificate's key: {e}")))?;
            der.clone()
        }
        (None, Trust::Keys(keys)) => {
            let key = keys
                .iter()
                .find(|k| check(k).is_ok())
                .ok_or_else(|| KeylessError::Signature("not made by a trusted key".into()))?;
            key_der(key)?
        }
        (None, Trust::Identities(_)) => {
            return Err(KeylessError::Unsupported(
                "no signer for this bundle".into(),
            ));
        }
    };
    let carried = bundle.certificates[1.min(bundle.certificates.len())..]
        .iter()
        .map(|d| certificate::parse(d))
        .collect::<Result<Vec<Certificate>>>()?;
    certificate::refuse_carried_roots(&carried)?;
    // The log entries and timestamps: the verified signing times.
    if bundle.entries.is_empty() {
        return Err(KeylessError::LogProof(
            "the bundle has no transparency-log entry".into(),
        ));
    }
    let mut times = Vec::new();
    let mut proof = String::new();
    let mut untimed = Vec::new();
    for entry in &bundle.entries {
        let logged = tlog::verify(
            entry,
            &bundle.content,
            &signer_der,
            root,
            bundle.minor >= 2,
            now,
        )?;
        proof = format!("log {} entry {}", logged.log, logged.index);
        match logged.time {
            Some(t) => times.push(t),
            None => untimed.push(logged),
        }
    }
    for stamp in &bundle.timestamps {
        times.push(tsa::verify(stamp, bundle.content.signature(), root, now)?);
        proof.push_str(", RFC 3161 timestamp");
    }
    for logged in &untimed {
        if let Some(&t) = times.iter().find(|&&t| !logged.valid.contains(t)) {
            return Err(KeylessError::LogProof(format!(
                "signed at {}, outside log `{}`'s validity in the trusted root",
                show(t),
                logged.log
            )));
        }
    }
    if times.is_empty() {
        return Err(KeylessError::MissingTimestamp(
            "neither a signed entry timestamp nor an RFC 3161 timestamp proves when it was signed"
                .into(),
        ));
    }
    let signed_at = times.iter().copied().min().unwrap_or_default();
    let Some((leaf, _, policies)) = leaf else {
        return Ok(Verdict {
            identity: "key".into(),
            issuer: String::new(),
            signed_at,
            proof,
        });
    };
    // The certificate: chain at every time, SCT, identity.
    let Chained { issuer, .. } = certificate::verify_chain(&leaf, &carried, root, &times)?;
    sct::verify(&leaf, &issuer, root)?;
    let (identity, oidc_issuer) = certificate::identity(&leaf)?;
    if !policies.admits(&identity, &oidc_issuer) {
        return Err(KeylessError::IdentityMismatch {
            identity: crate::output::sanitize(&identity),
            issuer: crate::output::sanitize(&oidc_issuer),
            expected: policies.describe(),
        });
    }
    Ok(Verdict {
        identity,
        issuer: oidc_issuer,
        signed_at,
        proof,
    })
}

fn key_der(key: &PublicKey) -> Result<Vec<u8>> {
    use p256::pkcs8::EncodePublicKey;
    match key {
        PublicKey::P256(k) => k
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| KeylessError::Signature(e.to_string())),
        PublicKey::P384(k) => k
            .to_public_key_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| KeylessError::Signature(e.to_string())),
        _ => Err(KeylessError::Unsupported("keys other than ECDSA".into())),
    }
}
