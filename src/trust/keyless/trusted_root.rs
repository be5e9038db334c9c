//! Sigstore's `trusted_root.json` (media type
//! `application/vnd.dev.sigstore.trustedroot+json;version=0.1`): the certificate
//! authorities (Fulcio), transparency logs (Rekor), CT logs and timestamp authorities a
//! site trusts, each with its validity window. It is what `cosign verify --trusted-root`
//! reads and what a site carries across the gap; nothing here fetches it.

use super::error::{KeylessError, Result};
use super::public_key::PublicKey;
use super::time::{TimeRange, parse_rfc3339};
use base64::Engine;
use der::Decode;
use serde::Deserialize;
use x509_cert::Certificate;

/// Largest trusted root read: the public-good one is a few KiB.
pub const MAX_TRUSTED_ROOT_BYTES: usize = 1 << 20;

/// A transparency log or CT log key.
#[derive(Clone, Debug)]
pub struct LogKey {
    /// The log's id (SHA-256 of its key for Rekor v1 and CT logs).
    pub key_id: Vec<u8>,
    /// The key.
    pub key: PublicKey,
    /// When the key was valid.
    pub valid: TimeRange,
    /// The log's URL (its host names its checkpoints).
    pub base_url: String,
}

impl LogKey {
    /// The log's name in checkpoints: its URL's host (and port).
    pub fn origin(&self) -> &str {
        let rest = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }
}

/// A certificate authority (Fulcio) or timestamp authority with its chain.
#[derive(Clone, Debug)]
pub struct Authority {
    /// Where it is (for messages).
    pub uri: String,
    /// Its certificates, as the trusted root lists them.
    pub certs: Vec<Certificate>,
    /// When it was trusted.
    pub valid: TimeRange,
}

/// A parsed trusted root.
#[derive(Clone, Debug, Default)]
pub struct TrustedRoot {
    /// Rekor logs.
    pub tlogs: Vec<LogKey>,
    /// Fulcio certificate authorities.
    pub cas: Vec<Authority>,
    /// Certificate-transparency logs.
    pub ctlogs: Vec<LogKey>,
    /// RFC 3161 timestamp authorities.
    pub tsas: Vec<Authority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawAuthority>,
    #[serde(default)]
    ctlogs: Vec<RawLog>,
    #[serde(default)]
    timestamp_authorities: Vec<RawAuthority>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    #[serde(default)]
    base_url: String,
    public_key: RawKey,
    log_id: RawLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKey {
    raw_bytes: Option<String>,
    #[serde(default)]
    key_details: String,
    valid_for: Option<RawRange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct RawRange {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAuthority {
    #[serde(default)]
    uri: String,
    cert_chain: RawChain,
    valid_for: Option<RawRange>,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

fn bad(text: String) -> KeylessError {
    KeylessError::TrustedRoot(text)
}

/// Decodes standard base64 (protobuf's JSON form of bytes); line breaks are ignored, as
/// Go's decoder (which wrote most bundles) ignores them.
pub fn b64(text: &str) -> std::result::Result<Vec<u8>, String> {
    let compact: String = text.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.trim())
        .map_err(|e| format!("not base64: {e}"))
}

fn range(raw: Option<&RawRange>, what: &str) -> Result<TimeRange> {
    let raw = raw.ok_or_else(|| bad(format!("{what} has no validFor")))?;
    let start = raw
        .start
        .as_deref()
        .ok_or_else(|| bad(format!("{what}'s validFor has no start")))?;
    Ok(TimeRange {
        start: parse_rfc3339(start).map_err(bad)?,
        end: raw
            .end
            .as_deref()
            .map(parse_rfc3339)
            .transpose()
            .map_err(bad)?,
    })
}

fn log(raw: &RawLog, kind: &str) -> Result<LogKey> {
    let what = format!("{kind} `{}`", raw.base_url);
    let key_id = b64(&raw.log_id.key_id).map_err(|e| bad(format!("{what} log id: {e}")))?;
    let bytes = raw
        .public_key
        .raw_bytes
        .as_deref()
        .ok_or_else(|| bad(format!("{what} has no key")))?;
    let bytes = b64(bytes).map_err(|e| bad(format!("{what} key: {e}")))?;
    // `PKCS1_RSA_*` keys may be PKCS#1 or (as most roots write them) SPKI DER.
    let key = PublicKey::from_spki_der(&bytes)
        .or_else(|e| {
            if raw.public_key.key_details.starts_with("PKCS1_") {
                PublicKey::from_pkcs1_der(&bytes)
            } else {
                Err(e)
            }
        })
        .map_err(|e| bad(format!("{what}: {e}")))?;
    Ok(LogKey {
        key_id,
        key,
        valid: range(raw.public_key.valid_for.as_ref(), &what)?,
        base_url: raw.base_url.clone(),
    })
}

fn authority(raw: &RawAuthority, kind: &str) -> Result<Authority> {
    let what = format!("{kind} `{}`", raw.uri);
    let certs = raw
        .cert_chain
        .certificates
        .iter()
        .map(|c| {
            let der = b64(&c.raw_bytes).map_err(|e| bad(format!("{what}: {e}")))?;
            Certificate::from_der(&der).map_err(|e| bad(format!("{what}: not a certificate: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    if certs.is_empty() {
        return Err(bad(format!("{what} has no certificate")));
    }
    Ok(Authority {
        uri: raw.uri.clone(),
        certs,
        valid: range(raw.valid_for.as_ref(), &what)?,
    })
}

impl TrustedRoot {
    /// Parses the JSON of a trusted root.
    pub fn from_json(bytes: &[u8]) -> Result<TrustedRoot> {
        if bytes.len() > MAX_TRUSTED_ROOT_BYTES {
            return Err(bad(format!(
                "{} bytes; a trusted root is a few KiB",
                bytes.len()
            )));
        }
        let raw: RawRoot =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not a trusted root: {e}")))?;
        if !raw
            .media_type
            .starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(bad(format!(
                "media type `{}` is not a Sigstore trusted root",
                crate::output::sanitize(&raw.media_type)
            )));
        }
        Ok(TrustedRoot {
            tlogs: raw
                .tlogs
                .iter()
                .map(|l| log(l, "transparency log"))
                .collect::<Result<_>>()?,
            cas: raw
                .certificate_authorities
                .iter()
                .map(|a| authority(a, "certificate authority"))
                .collect::<Result<_>>()?,
            ctlogs: raw
                .ctlogs
                .iter()
                .map(|l| log(l, "CT log"))
                .collect::<Result<_>>()?,
            tsas: raw
                .timestamp_authorities
                .iter()
                .map(|a| authority(a, "timestamp authority"))
                .collect::<Result<_>>()?,
        })
    }

    /// The transparency log with this id.
    pub fn tlog(&self, key_id: &[u8]) -> Option<&LogKey> {
        self.tlogs.iter().find(|l| l.key_id == key_id)
    }

    /// The CT log with this id.
    pub fn ctlog(&self, key_id: &[u8]) -> Option<&LogKey> {
        self.ctlogs.iter().find(|l| l.key_id == key_id)
    }
}
