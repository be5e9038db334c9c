//! RFC 3161 timestamps: a timestamp authority of the trusted root signed that this
//! signature existed at `genTime`. The response is a CMS SignedData (RustCrypto `cms`)
//! holding a TSTInfo (declared below with `der`'s derive, as RFC 3161 §2.4.2 writes it);
//! its message imprint must be the hash of the bundle's signature, its signed attributes
//! must hold the TSTInfo's digest, and the signature must verify with the authority's
//! leaf certificate, which (with its chain and the authority) was valid at `genTime`.

use super::certificate::{public_key, signed_by, validity};
use super::error::{KeylessError, Result};
use super::public_key::Hash;
use super::time::{UnixTime, show};
use super::trusted_root::TrustedRoot;
use cms::content_info::ContentInfo;
use cms::signed_data::SignedData;
use const_oid::ObjectIdentifier;
use der::asn1::{GeneralizedTime, Int, OctetString};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extension;

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TSTINFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");

/// RFC 3161 `TimeStampResp`.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    #[asn1(optional = "true")]
    token: Option<ContentInfo>,
}

/// RFC 3161 `PKIStatusInfo`.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
struct PkiStatusInfo {
    status: Int,
    #[asn1(optional = "true")]
    status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    fail_info: Option<der::asn1::BitString>,
}

/// RFC 3161 `TSTInfo`.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
struct TstInfo {
    version: Int,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: GeneralizedTime,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<der::Any>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Vec<Extension>>,
}

#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
struct Accuracy {
    #[asn1(optional = "true")]
    seconds: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<Int>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<Int>,
}

fn ts_err(text: impl Into<String>) -> KeylessError {
    KeylessError::Timestamp(text.into())
}

/// Verifies a DER `TimeStampResp` (or a bare token) over `signature`; the time it proves.
pub fn verify(
    response: &[u8],
    signature: &[u8],
    root: &TrustedRoot,
    now: UnixTime,
) -> Result<UnixTime> {
    let token = match TimeStampResp::from_der(response) {
        Ok(resp) => {
            if resp.status.status.as_bytes() != [0] && resp.status.status.as_bytes() != [1] {
                return Err(ts_err("the timestamp response is not granted"));
            }
            resp.token
                .ok_or_else(|| ts_err("the timestamp response holds no token"))?
        }
        Err(_) => ContentInfo::from_der(response)
            .map_err(|e| ts_err(format!("not an RFC 3161 timestamp: {e}")))?,
    };
    if token.content_type != ID_SIGNED_DATA {
        return Err(ts_err("the timestamp token is not CMS signed data"));
    }
    let signed: SignedData = token
        .content
        .decode_as()
        .map_err(|e| ts_err(format!("unreadable signed data: {e}")))?;
    if signed.encap_content_info.econtent_type != ID_CT_TSTINFO {
        return Err(ts_err("the timestamp token does not hold a TSTInfo"));
    }
    let econtent = signed
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| ts_err("the timestamp token has no content"))?
        .decode_as::<OctetString>()
        .map_err(|e| ts_err(e.to_string()))?;
    let tst = TstInfo::from_der(econtent.as_bytes())
        .map_err(|e| ts_err(format!("unreadable TSTInfo: {e}")))?;
    let imprint_hash = Hash::from_oid(&tst.message_imprint.hash_algorithm.oid)
        .ok_or_else(|| ts_err("the message imprint's hash is not supported"))?;
    if imprint_hash.digest(signature) != tst.message_imprint.hashed_message.as_bytes() {
        return Err(ts_err("the timestamp is over another signature"));
    }
    let time = tst.gen_time.to_unix_duration().as_secs() as UnixTime;
    if time > now + 60 {
        return Err(ts_err(format!("stamped at {}, in the future", show(time))));
    }
    let signer = signed
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or_else(|| ts_err("the timestamp token has no signer"))?;
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| ts_err("the timestamp token has no signed attributes"))?;
    let digest_hash = Hash::from_oid(&signer.digest_alg.oid)
        .ok_or_else(|| ts_err("the signer's digest algorithm is not supported"))?;
    let claimed = attrs
        .iter()
        .find(|a| a.oid == ID_MESSAGE_DIGEST)
        .and_then(|a| a.values.iter().next())
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or_else(|| ts_err("the signed attributes hold no message digest"))?;
    if claimed.as_bytes() != digest_hash.digest(econtent.as_bytes()) {
        return Err(ts_err("the signed attributes are over another TSTInfo"));
    }
    let signed_bytes = attrs.to_der().map_err(|e| ts_err(e.to_string()))?;
    let sig_hash = Hash::from_oid(&signer.signature_algorithm.oid).unwrap_or(digest_hash);
    let mut last = String::from("no timestamp authority in the trusted root signed it");
    for tsa in &root.tsas {
        let leaf = &tsa.certs[0];
        let Ok(key) = public_key(leaf) else { continue };
        if key
            .verify(&signed_bytes, signer.signature.as_bytes(), sig_hash)
            .is_err()
        {
            continue;
        }
        if !tsa.valid.contains(time) {
            last = format!(
                "stamped at {}, outside timestamp authority `{}`'s validity in the trusted root",
                show(time),
                tsa.uri
            );
            continue;
        }
        if let Some(c) = tsa.certs.iter().find(|c| {
            let (from, to) = validity(c);
            time < from || time > to
        }) {
            last = format!(
                "stamped at {}, outside the validity of TSA certificate `{}`",
                show(time),
                c.tbs_certificate().subject()
            );
            continue;
        }
        if tsa
            .certs
            .windows(2)
            .any(|w| signed_by(&w[0], &w[1]).is_err())
        {
            last = format!("timestamp authority `{}`'s chain does not verify", tsa.uri);
            continue;
        }
        return Ok(time);
    }
    Err(ts_err(last))
}
