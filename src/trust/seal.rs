//! The bundle's signature: `outrider.json.sig`, the base64 of a DER ECDSA P-256 SHA-256
//! signature over the exact bytes of `outrider.json`. The index names every blob and
//! manifest by digest and size, and every read is checked against it, so this one
//! signature covers the whole bundle (each volume of a set carries its own).
//!
//! The check runs on the index's raw bytes, before they are parsed: with trusted keys, a
//! bundle that is unsigned, altered or signed by another key is refused before anything
//! in it is believed. The index also names its signer (`signedBy`, the key's
//! fingerprint), so that a bundle checked without keys can still say who signed it, and
//! a signature stripped from a signed bundle is noticed.

use super::keys::{TrustedKeys, decode_signature};
use crate::oci::Digest;
use serde::Deserialize;

/// Name of the signature entry.
pub const SIGNATURE_ENTRY: &str = "outrider.json.sig";

/// Largest signature entry read (a P-256 DER signature is at most 72 bytes, 96 in base64).
pub const MAX_SIGNATURE_BYTES: u64 = 1024;

/// What is known about a bundle's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seal {
    /// No signature.
    Unsigned,
    /// Signed, and not checked because no key is trusted; the signer is what the index
    /// claims.
    Unchecked {
        /// The fingerprint the index names, if any.
        signer: Option<Digest>,
    },
    /// Signed by a trusted key, and the signature matches the index.
    Checked {
        /// The key's fingerprint.
        signer: Digest,
        /// Where the key came from.
        source: String,
    },
}

impl Seal {
    /// One line for people: `not signed`, `signed by sha256:…, not checked`, or `signed by
    /// sha256:… (`key.pub`), checked`.
    pub fn describe(&self) -> String {
        match self {
            Seal::Unsigned => "not signed".into(),
            Seal::Unchecked { signer: Some(s) } => {
                format!("signed by {s}, not checked (give --trusted-key to check)")
            }
            Seal::Unchecked { signer: None } => {
                "signed by a key it does not name, not checked (give --trusted-key to check)".into()
            }
            Seal::Checked { signer, source } => {
                format!("signed by {signer} (`{source}`), checked")
            }
        }
    }

    /// The same for `--json`: `{signed, signer, checked, trustedKey}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Seal::Unsigned => serde_json::json!({"signed": false, "checked": false}),
            Seal::Unchecked { signer } => {
                serde_json::json!({"signed": true, "signer": signer, "checked": false})
            }
            Seal::Checked { signer, source } => serde_json::json!({
                "signed": true, "signer": signer, "checked": true, "trustedKey": source
            }),
        }
    }
}

/// The signer an index claims, read only to explain a refusal.
#[derive(Deserialize)]
struct Claim {
    #[serde(rename = "signedBy")]
    signed_by: Option<Digest>,
}

fn claimed_signer(index: &[u8]) -> Option<Digest> {
    serde_json::from_slice::<Claim>(index)
        .ok()
        .and_then(|c| c.signed_by)
}

/// Checks the signature over the index's raw bytes. Without trusted keys any signature is
/// accepted unchecked; with them, only one made by a trusted key over exactly these
/// bytes. The error says why the bundle is refused and what to do.
pub fn check(
    index: &[u8],
    signature: Option<&[u8]>,
    trusted: &TrustedKeys,
) -> Result<Seal, String> {
    if trusted.is_empty() {
        return Ok(match signature {
            Some(_) => Seal::Unchecked { signer: None },
            None => Seal::Unsigned,
        });
    }
    let Some(signature) = signature else {
        return Err(format!(
            "it is not signed, and a signature by a trusted key is required ({}); sign it with `outrider pack --sign KEY`",
            trusted.describe()
        ));
    };
    let signature = decode_signature(signature)
        .map_err(|e| format!("its signature `{SIGNATURE_ENTRY}` is unreadable: {e}"))?;
    if let Some(key) = trusted.signer_of(index, &signature) {
        return Ok(Seal::Checked {
            signer: key.fingerprint().clone(),
            source: key.source().to_owned(),
        });
    }
    Err(match claimed_signer(index) {
        Some(claimed) => match trusted.by_fingerprint(&claimed) {
            Some(key) => format!(
                "its signature does not match its index: `outrider.json` was changed after {} (`{}`) signed it; do not use this copy, carry the bundle again",
                key.fingerprint(),
                key.source()
            ),
            None => format!(
                "it says it is signed by {claimed}, which is not a trusted key ({}), and the signature is not by any trusted key",
                trusted.describe()
            ),
        },
        None => format!(
            "its signature is not by a trusted key ({})",
            trusted.describe()
        ),
    })
}

/// Reconciles the signature with the signer the parsed index names: a named signer
/// without a signature means the signature was removed; a checked signature by another
/// key than the one named means the index lies about its signer.
pub fn agree(seal: Seal, named: Option<&Digest>) -> Result<Seal, String> {
    match (seal, named) {
        (Seal::Unsigned, Some(named)) => Err(format!(
            "its index says it was signed by {named}, but it holds no `{SIGNATURE_ENTRY}`: the signature was removed; carry the bundle again"
        )),
        (Seal::Unchecked { .. }, named) => Ok(Seal::Unchecked {
            signer: named.cloned(),
        }),
        (Seal::Checked { signer, .. }, Some(named)) if &signer != named => Err(format!(
            "its index says it was signed by {named}, but the signature is by {signer}"
        )),
        (seal, _) => Ok(seal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::keys::TrustedKey;

    const PUB: &str = include_str!("../../fixtures/cosign/sigstore-rs.pub");
    const PAYLOAD: &[u8] = include_bytes!("../../fixtures/cosign/sigstore-rs-busybox.payload.json");
    const SIG: &[u8] = include_bytes!("../../fixtures/cosign/sigstore-rs-busybox.sig");

    fn trusted() -> TrustedKeys {
        TrustedKeys::of(vec![TrustedKey::from_pem(PUB, "k.pub").expect("key")])
    }

    #[test]
    fn a_real_cosign_signature_checks_and_one_changed_byte_does_not() {
        // The payload stands in for an index: any bytes signed by a trusted key pass.
        let seal = check(PAYLOAD, Some(SIG), &trusted()).expect("checked");
        assert!(matches!(seal, Seal::Checked { .. }), "{seal:?}");
        let mut changed = PAYLOAD.to_vec();
        changed[10] ^= 1;
        let e = check(&changed, Some(SIG), &trusted()).expect_err("refused");
        assert!(e.contains("not by a trusted key"), "{e}");
    }

    #[test]
    fn unsigned_and_unreadable_are_refused_only_when_keys_are_trusted() {
        assert_eq!(
            check(PAYLOAD, None, &TrustedKeys::none()),
            Ok(Seal::Unsigned)
        );
        assert!(check(PAYLOAD, None, &trusted()).is_err_and(|e| e.contains("not signed")));
        assert!(check(PAYLOAD, Some(b"!!"), &trusted()).is_err_and(|e| e.contains("unreadable")));
    }

    #[test]
    fn a_stripped_signature_is_noticed() {
        let named = Digest::of(b"key");
        assert!(agree(Seal::Unsigned, Some(&named)).is_err_and(|e| e.contains("removed")));
        assert_eq!(
            agree(Seal::Unchecked { signer: None }, Some(&named)),
            Ok(Seal::Unchecked {
                signer: Some(named)
            })
        );
    }
}
