//! Transparency-log entries (Rekor): the entry is the log's record of this signature, and
//! it is proven offline by the log's signed entry timestamp (Rekor v1, over the entry and
//! its integrated time) and/or an RFC 6962 inclusion proof whose root a signed checkpoint
//! commits to (Rekor v2 has only the latter, and no integrated time). The entry's body must
//! record this bundle's signature, certificate and digest (hashedrekord 0.0.1 / 0.0.2,
//! dsse 0.0.1, intoto 0.0.2).

use super::checkpoint;
use super::content::Content;
use super::error::{KeylessError, Result};
use super::public_key::Hash;
use super::time::{UnixTime, show};
use super::trusted_root::{LogKey, TrustedRoot, b64};
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// One log entry as a bundle carries it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Its index in the log.
    pub log_index: i64,
    /// The log's id.
    pub log_id: Vec<u8>,
    /// `hashedrekord`, `dsse`, `intoto`.
    pub kind: String,
    /// The kind's version.
    pub version: String,
    /// Rekor v1's time of inclusion (absent or zero for Rekor v2).
    pub integrated_time: Option<i64>,
    /// Rekor v1's signed entry timestamp.
    pub set: Option<Vec<u8>>,
    /// The inclusion proof.
    pub proof: Option<Proof>,
    /// The canonicalized entry body.
    pub body: Vec<u8>,
}

/// An inclusion proof with its checkpoint.
#[derive(Clone, Debug)]
pub struct Proof {
    /// The leaf's index in the tree the proof is for.
    pub log_index: i64,
    /// The tree's root hash.
    pub root_hash: Vec<u8>,
    /// The tree's size.
    pub tree_size: i64,
    /// The audit path.
    pub hashes: Vec<Vec<u8>>,
    /// The signed checkpoint's text.
    pub checkpoint: Option<String>,
}

fn proof_err(text: impl Into<String>) -> KeylessError {
    KeylessError::LogProof(text.into())
}

/// What an entry proved.
#[derive(Clone, Debug)]
pub struct Logged {
    /// The verified integrated time (Rekor v1 with a valid signed entry timestamp).
    pub time: Option<UnixTime>,
    /// The log's URL.
    pub log: String,
    /// The entry's index.
    pub index: i64,
    /// When the log's key was trusted (a Rekor v2 entry is checked against it at the
    /// timestamps' times, having none of its own).
    pub valid: super::time::TimeRange,
}

/// Verifies `entry` against `root`: it comes from a trusted log, records `content` signed
/// by `signer` (a DER certificate or SPKI), and is proven by a signed entry timestamp or an
/// inclusion proof with a signed checkpoint (`need_proof`: bundles v0.2 and later).
pub fn verify(
    entry: &Entry,
    content: &Content,
    signer: &[u8],
    root: &TrustedRoot,
    need_proof: bool,
    now: UnixTime,
) -> Result<Logged> {
    if entry.log_index < 0 {
        return Err(proof_err(format!("negative log index {}", entry.log_index)));
    }
    let log = root.tlog(&entry.log_id).ok_or_else(|| {
        proof_err(format!(
            "the entry is from log {}, not a transparency log of the trusted root",
            hex::encode(&entry.log_id)
        ))
    })?;
    body_matches(entry, content, signer)?;
    let integrated = entry.integrated_time.filter(|&t| t > 0);
    let mut time = None;
    if let Some(set) = &entry.set {
        let t = integrated.ok_or_else(|| proof_err("a signed entry timestamp without a time"))?;
        verify_set(entry, log, set, t)?;
        time = Some(t);
    }
    match &entry.proof {
        Some(proof) => verify_inclusion(entry, proof, log)?,
        None if need_proof => {
            return Err(proof_err(
                "the entry has no inclusion proof (required from bundle v0.2 on)",
            ));
        }
        None if entry.set.is_none() => {
            return Err(proof_err(
                "the entry has neither a signed entry timestamp nor an inclusion proof",
            ));
        }
        None => {}
    }
    if let Some(t) = integrated {
        if !log.valid.contains(t) {
            return Err(proof_err(format!(
                "integrated at {}, outside log `{}`'s validity in the trusted root",
                show(t),
                log.base_url
            )));
        }
        if t > now + 60 {
            return Err(proof_err(format!(
                "integrated at {}, in the future",
                show(t)
            )));
        }
    }
    Ok(Logged {
        time,
        log: log.base_url.clone(),
        index: entry.log_index,
        valid: log.valid,
    })
}

fn verify_set(entry: &Entry, log: &LogKey, set: &[u8], time: i64) -> Result<()> {
    let body = base64::engine::general_purpose::STANDARD.encode(&entry.body);
    let payload = format!(
        r#"{{"body":"{body}","integratedTime":{time},"logID":"{}","logIndex":{}}}"#,
        hex::encode(&entry.log_id),
        entry.log_index
    );
    log.key
        .verify(payload.as_bytes(), set, Hash::Sha256)
        .map_err(|e| proof_err(format!("signed entry timestamp: {e}")))
}

fn hash_children(left: &[u8], right: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().to_vec()
}

/// RFC 9162 §2.1.3.2: the root an audit path leads to, if it is well formed.
fn root_from_path(index: u64, size: u64, leaf: Vec<u8>, path: &[Vec<u8>]) -> Option<Vec<u8>> {
    if index >= size {
        return None;
    }
    let (mut f, mut s, mut r) = (index, size - 1, leaf);
    for p in path {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            r = hash_children(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = hash_children(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0).then_some(r)
}

fn verify_inclusion(entry: &Entry, proof: &Proof, log: &LogKey) -> Result<()> {
    let (Ok(index), Ok(size)) = (
        u64::try_from(proof.log_index),
        u64::try_from(proof.tree_size),
    ) else {
        return Err(proof_err("negative index or size in the inclusion proof"));
    };
    let mut leaf = Sha256::new();
    leaf.update([0u8]);
    leaf.update(&entry.body);
    let root = root_from_path(index, size, leaf.finalize().to_vec(), &proof.hashes)
        .ok_or_else(|| proof_err("the inclusion proof is malformed"))?;
    if root != proof.root_hash {
        return Err(proof_err(
            "the inclusion proof does not lead to its root hash",
        ));
    }
    let text = proof
        .checkpoint
        .as_deref()
        .ok_or_else(|| proof_err("the inclusion proof has no checkpoint"))?;
    let cp = checkpoint::verify(text, log).map_err(proof_err)?;
    if cp.size != size || cp.root_hash != proof.root_hash {
        return Err(proof_err(
            "the checkpoint commits to another tree than the inclusion proof",
        ));
    }
    Ok(())
}

fn field<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str> {
    field(v, path)
        .and_then(Value::as_str)
        .ok_or_else(|| proof_err(format!("the entry body has no {}", path.join("."))))
}

fn decode(s: &str) -> Result<Vec<u8>> {
    b64(s).map_err(|e| proof_err(format!("entry body: {e}")))
}

/// A PEM certificate or public key in an entry body, as DER.
fn pem_der(pem: &[u8]) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(pem).map_err(|_| proof_err("entry body: PEM is not text"))?;
    let inner: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    decode(&inner)
}

fn mismatch(what: &str) -> KeylessError {
    proof_err(format!(
        "the log entry records another {what} than the bundle"
    ))
}

/// The entry body records this bundle's content and signer.
fn body_matches(entry: &Entry, content: &Content, signer: &[u8]) -> Result<()> {
    let body: Value = serde_json::from_slice(&entry.body)
        .map_err(|e| proof_err(format!("the entry body is not JSON: {e}")))?;
    let kind = (entry.kind.as_str(), entry.version.as_str());
    let body_kind = (text(&body, &["kind"])?, text(&body, &["apiVersion"])?);
    if kind != body_kind {
        return Err(proof_err("the entry's kind differs from its body's"));
    }
    match (kind, content) {
        (("hashedrekord", "0.0.1"), Content::Message { digest, signature }) => {
            if text(&body, &["spec", "data", "hash", "algorithm"])? != "sha256"
                || text(&body, &["spec", "data", "hash", "value"])? != hex::encode(digest)
            {
                return Err(mismatch("artifact digest"));
            }
            if decode(text(&body, &["spec", "signature", "content"])?)? != *signature {
                return Err(mismatch("signature"));
            }
            let key = decode(text(&body, &["spec", "signature", "publicKey", "content"])?)?;
            if pem_der(&key)? != signer {
                return Err(mismatch("certificate or key"));
            }
        }
        (("hashedrekord", "0.0.2"), _) => {
            let spec = field(&body, &["spec", "hashedRekordV002"])
                .ok_or_else(|| proof_err("the entry body has no spec.hashedRekordV002"))?;
            if text(spec, &["data", "algorithm"])? != "SHA2_256"
                || decode(text(spec, &["data", "digest"])?)? != content.signed_digest()
            {
                return Err(mismatch("artifact digest"));
            }
            if decode(text(spec, &["signature", "content"])?)? != content.signature() {
                return Err(mismatch("signature"));
            }
            let verifier = field(spec, &["signature", "verifier"])
                .ok_or_else(|| proof_err("the entry body has no verifier"))?;
            let der = text(verifier, &["x509Certificate", "rawBytes"])
                .or_else(|_| text(verifier, &["publicKey", "rawBytes"]))?;
            if decode(der)? != signer {
                return Err(mismatch("certificate or key"));
            }
        }
        (
            ("dsse", "0.0.1"),
            Content::Dsse {
                payload, signature, ..
            },
        ) => {
            if text(&body, &["spec", "payloadHash", "value"])?
                != hex::encode(Sha256::digest(payload))
            {
                return Err(mismatch("payload"));
            }
            let sigs = field(&body, &["spec", "signatures"])
                .and_then(Value::as_array)
                .ok_or_else(|| proof_err("the entry body has no signatures"))?;
            let found = sigs.iter().any(|s| {
                let sig = text(s, &["signature"]).and_then(decode);
                let key = text(s, &["verifier"])
                    .and_then(decode)
                    .and_then(|p| pem_der(&p));
                matches!((sig, key), (Ok(sig), Ok(key)) if sig == *signature && key == signer)
            });
            if sigs.len() != 1 || !found {
                return Err(mismatch("signature"));
            }
        }
        (
            ("intoto", "0.0.2"),
            Content::Dsse {
                payload, signature, ..
            },
        ) => {
            let spec = field(&body, &["spec", "content"])
                .ok_or_else(|| proof_err("the entry body has no spec.content"))?;
            if text(spec, &["payloadHash", "value"])? != hex::encode(Sha256::digest(payload)) {
                return Err(mismatch("payload"));
            }
            let sigs = field(spec, &["envelope", "signatures"])
                .and_then(Value::as_array)
                .ok_or_else(|| proof_err("the entry body has no signatures"))?;
            let twice =
                |s: &str| decode(s).and_then(|once| decode(&String::from_utf8_lossy(&once)));
            let found = sigs.iter().any(|s| {
                let sig = text(s, &["sig"]).and_then(twice);
                let key = text(s, &["publicKey"])
                    .and_then(decode)
                    .and_then(|p| pem_der(&p));
                matches!((sig, key), (Ok(sig), Ok(key)) if sig == *signature && key == signer)
            });
            if sigs.len() != 1 || !found {
                return Err(mismatch("signature"));
            }
        }
        ((kind, version), _) => {
            return Err(KeylessError::Unsupported(format!(
                "log entries of kind {kind} {version} for this content"
            )));
        }
    }
    Ok(())
}

/// The raw JSON of an entry, as protobuf's JSON mapping writes it (64-bit integers as
/// strings).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawEntry {
    #[serde(deserialize_with = "int")]
    log_index: i64,
    log_id: RawLogId,
    kind_version: RawKindVersion,
    #[serde(default, deserialize_with = "opt_int")]
    integrated_time: Option<i64>,
    inclusion_promise: Option<RawPromise>,
    inclusion_proof: Option<RawProof>,
    canonicalized_body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct RawKindVersion {
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPromise {
    signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProof {
    #[serde(deserialize_with = "int")]
    log_index: i64,
    root_hash: String,
    #[serde(deserialize_with = "int")]
    tree_size: i64,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: Option<RawCheckpoint>,
}

#[derive(Deserialize)]
struct RawCheckpoint {
    envelope: String,
}

fn int<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        N(i64),
        S(String),
    }
    match Int::deserialize(d)? {
        Int::N(n) => Ok(n),
        Int::S(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

fn opt_int<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    int(d).map(Some)
}

impl RawEntry {
    /// The entry, its base64 fields decoded.
    pub fn decode(&self) -> Result<Entry> {
        let bad = |what: &str, e: String| KeylessError::Malformed(format!("log entry {what}: {e}"));
        Ok(Entry {
            log_index: self.log_index,
            log_id: b64(&self.log_id.key_id).map_err(|e| bad("log id", e))?,
            kind: self.kind_version.kind.clone(),
            version: self.kind_version.version.clone(),
            integrated_time: self.integrated_time,
            set: self
                .inclusion_promise
                .as_ref()
                .map(|p| b64(&p.signed_entry_timestamp))
                .transpose()
                .map_err(|e| bad("signed entry timestamp", e))?,
            proof: self
                .inclusion_proof
                .as_ref()
                .map(|p| -> Result<Proof> {
                    Ok(Proof {
                        log_index: p.log_index,
                        root_hash: b64(&p.root_hash).map_err(|e| bad("root hash", e))?,
                        tree_size: p.tree_size,
                        hashes: p
                            .hashes
                            .iter()
                            .map(|h| b64(h))
                            .collect::<std::result::Result<_, _>>()
                            .map_err(|e| bad("proof hash", e))?,
                        checkpoint: p.checkpoint.as_ref().map(|c| c.envelope.clone()),
                    })
                })
                .transpose()?,
            body: b64(&self.canonicalized_body).map_err(|e| bad("body", e))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_leaf_tree_is_its_leaf() {
        assert_eq!(root_from_path(0, 1, vec![7; 32], &[]), Some(vec![7; 32]));
        assert_eq!(root_from_path(1, 1, vec![7; 32], &[]), None);
        let (a, b) = (vec![1u8; 32], vec![2u8; 32]);
        assert_eq!(
            root_from_path(0, 2, a.clone(), std::slice::from_ref(&b)),
            Some(hash_children(&a, &b))
        );
        assert_eq!(
            root_from_path(1, 2, b.clone(), std::slice::from_ref(&a)),
            Some(hash_children(&a, &b))
        );
    }
}
