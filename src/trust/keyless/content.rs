//! What a Sigstore bundle signs, once read: a message signature over an artifact's digest,
//! or a DSSE envelope (whose signature is over DSSE's pre-authentication encoding). The
//! log entry and the timestamps are checked against this.

use sha2::{Digest as _, Sha256};

/// The signed content of a bundle.
#[derive(Clone, Debug)]
pub enum Content {
    /// A signature over an artifact whose SHA-256 is `digest`.
    Message {
        /// The artifact's SHA-256 (the bundle's hint, checked against the expected one).
        digest: Vec<u8>,
        /// The raw DER signature.
        signature: Vec<u8>,
    },
    /// A DSSE envelope.
    Dsse {
        /// `application/vnd.in-toto+json` for an in-toto statement.
        payload_type: String,
        /// The payload's bytes.
        payload: Vec<u8>,
        /// The envelope's one signature, raw.
        signature: Vec<u8>,
    },
}

impl Content {
    /// The signature bytes (what an RFC 3161 timestamp is over).
    pub fn signature(&self) -> &[u8] {
        match self {
            Content::Message { signature, .. } | Content::Dsse { signature, .. } => signature,
        }
    }

    /// The SHA-256 of what the signature is made over: the artifact, or DSSE's PAE.
    pub fn signed_digest(&self) -> Vec<u8> {
        match self {
            Content::Message { digest, .. } => digest.clone(),
            Content::Dsse {
                payload_type,
                payload,
                ..
            } => Sha256::digest(pae(payload_type, payload)).to_vec(),
        }
    }
}

/// DSSE's pre-authentication encoding: what a DSSE signature is made over.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}
