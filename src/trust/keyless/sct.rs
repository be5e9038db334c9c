//! The certificate's embedded SCT (RFC 6962 §3.2): Fulcio logs each certificate to a CT log
//! before issuing it, and the log's signed promise rides in the certificate. It is checked
//! against the CT log keys of the trusted root, over the precertificate the log saw: the
//! leaf's TBS without the SCT extension, with the issuer's key hash. The SCT list is parsed
//! by `x509-cert` (its `sct` feature, TLS codec); the TBS is re-encoded by `der`.

use super::error::{KeylessError, Result};
use super::public_key::Hash;
use super::time::show;
use super::trusted_root::TrustedRoot;
use der::{Decode, Encode};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::sct::{
    HashAlgorithm, SignedCertificateTimestamp, SignedCertificateTimestampList,
};

/// The SCT list extension's OID.
const SCT_LIST: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");

/// A TBSCertificate read field by field, so one extension can be left out.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
struct LooseTbs {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    version: Option<der::Any>,
    serial: der::Any,
    signature: der::Any,
    issuer: der::Any,
    validity: der::Any,
    subject: der::Any,
    spki: der::Any,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    issuer_uid: Option<der::asn1::BitString>,
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT", optional = "true")]
    subject_uid: Option<der::asn1::BitString>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    extensions: Option<Vec<Extension>>,
}

fn sct_err(text: impl Into<String>) -> KeylessError {
    KeylessError::Sct(text.into())
}

/// The precertificate TBS: the leaf's TBS without its SCT list.
fn precert_tbs(leaf: &Certificate) -> Result<Vec<u8>> {
    let der = leaf
        .tbs_certificate()
        .to_der()
        .map_err(|e| sct_err(e.to_string()))?;
    let mut tbs = LooseTbs::from_der(&der).map_err(|e| sct_err(e.to_string()))?;
    if let Some(exts) = tbs.extensions.as_mut() {
        exts.retain(|e| e.extn_id != SCT_LIST);
    }
    tbs.to_der().map_err(|e| sct_err(e.to_string()))
}

/// Verifies that at least one SCT embedded in `leaf` was signed by a CT log of `root`.
pub fn verify(leaf: &Certificate, issuer: &Certificate, root: &TrustedRoot) -> Result<()> {
    let list = leaf
        .tbs_certificate()
        .extensions()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == SCT_LIST))
        .ok_or_else(|| sct_err("the certificate carries no SCT"))?;
    let list = SignedCertificateTimestampList::from_der(list.extn_value.as_bytes())
        .map_err(|e| sct_err(format!("unreadable SCT list: {e}")))?;
    let scts = list
        .parse_timestamps()
        .map_err(|e| sct_err(format!("unreadable SCT list: {e:?}")))?;
    let issuer_key = issuer
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| sct_err(e.to_string()))?;
    let issuer_key_hash = Sha256::digest(&issuer_key);
    let tbs = precert_tbs(leaf)?;
    let mut last = "no SCT".to_owned();
    for serialized in scts {
        let sct = serialized
            .parse_timestamp()
            .map_err(|e| sct_err(format!("unreadable SCT: {e:?}")))?;
        match check_one(&sct, &issuer_key_hash, &tbs, root) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(sct_err(last))
}

fn check_one(
    sct: &SignedCertificateTimestamp,
    issuer_key_hash: &[u8],
    tbs: &[u8],
    root: &TrustedRoot,
) -> std::result::Result<(), String> {
    let log = root.ctlog(&sct.log_id.key_id).ok_or_else(|| {
        format!(
            "the SCT's log {} is not a CT log of the trusted root",
            hex::encode(sct.log_id.key_id)
        )
    })?;
    let seconds = i64::try_from(sct.timestamp / 1000).unwrap_or(i64::MAX);
    if !log.valid.contains(seconds) {
        return Err(format!(
            "the SCT is from {}, outside CT log `{}`'s validity in the trusted root",
            show(seconds),
            log.base_url
        ));
    }
    let hash = match sct.signature.algorithm.hash {
        HashAlgorithm::Sha256 => Hash::Sha256,
        HashAlgorithm::Sha384 => Hash::Sha384,
        _ => return Err("the SCT's hash algorithm is not supported".into()),
    };
    let tbs_len = u32::try_from(tbs.len()).map_err(|_| "the TBS is too large".to_owned())?;
    let ext = sct.extensions.as_slice();
    let mut signed = vec![0u8, 0u8];
    signed.extend_from_slice(&sct.timestamp.to_be_bytes());
    signed.extend_from_slice(&1u16.to_be_bytes());
    signed.extend_from_slice(issuer_key_hash);
    signed.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    signed.extend_from_slice(tbs);
    signed.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    signed.extend_from_slice(ext);
    log.key
        .verify(&signed, sct.signature.signature.as_slice(), hash)
        .map_err(|e| format!("CT log `{}`: {e}", log.base_url))
}
