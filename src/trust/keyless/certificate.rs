//! Fulcio certificates: the chain to a certificate authority of the trusted root (each
//! certificate and the authority valid at every verified signing time), the leaf's use
//! (code signing, not a CA), and who it names: the SAN and Fulcio's OIDC issuer extension
//! (`1.3.6.1.4.1.57264.1.8`, or the older `.1.1`).

use super::error::{KeylessError, Result};
use super::public_key::{Hash, ID_ED25519, PublicKey};
use super::time::{UnixTime, from_x509, show};
use super::trusted_root::TrustedRoot;
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280::ID_KP_CODE_SIGNING;

use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};

/// Fulcio's OIDC issuer extension (DER UTF8String).
pub const FULCIO_ISSUER_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Fulcio's original OIDC issuer extension (the raw string).
pub const FULCIO_ISSUER_V1: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
/// Fulcio's username SAN (an otherName).
const FULCIO_USERNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");

/// Parses a DER certificate.
pub fn parse(der: &[u8]) -> Result<Certificate> {
    Certificate::from_der(der)
        .map_err(|e| KeylessError::Malformed(format!("not a certificate: {e}")))
}

/// The certificate's public key.
pub fn public_key(cert: &Certificate) -> std::result::Result<PublicKey, String> {
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| e.to_string())?;
    PublicKey::from_spki_der(&spki)
}

/// Whether `issuer`'s key made `cert`'s signature.
pub fn signed_by(cert: &Certificate, issuer: &Certificate) -> std::result::Result<(), String> {
    if cert.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
        return Err("issuer name differs".into());
    }
    let tbs = cert.tbs_certificate().to_der().map_err(|e| e.to_string())?;
    let signature = cert.signature().raw_bytes();
    let key = public_key(issuer)?;
    let alg = cert.signature_algorithm().oid;
    if alg == ID_ED25519 {
        return key.verify(&tbs, signature, Hash::Sha512);
    }
    let hash = Hash::from_oid(&alg)
        .ok_or_else(|| format!("signature algorithm {alg} is not supported"))?;
    key.verify(&tbs, signature, hash)
}

/// The certificate's validity as Unix seconds.
pub fn validity(cert: &Certificate) -> (UnixTime, UnixTime) {
    let v = cert.tbs_certificate().validity();
    (from_x509(v.not_before), from_x509(v.not_after))
}

fn self_signed(cert: &Certificate) -> bool {
    cert.tbs_certificate().issuer() == cert.tbs_certificate().subject()
        && signed_by(cert, cert).is_ok()
}

fn subject(cert: &Certificate) -> String {
    cert.tbs_certificate().subject().to_string()
}

/// What the chain established.
#[derive(Clone, Debug)]
pub struct Chained {
    /// The certificate that signed the leaf (its key hashes into the SCT).
    pub issuer: Certificate,
    /// The authority's URI.
    pub authority: String,
}

/// Checks that `leaf` chains to a certificate authority of `root`, and that the leaf, every
/// certificate above it and the authority were valid at each of `times`. `carried` are the
/// certificates the bundle gave after the leaf: a root among them is refused (roots come
/// only from the trusted root).
pub fn verify_chain(
    leaf: &Certificate,
    carried: &[Certificate],
    root: &TrustedRoot,
    times: &[UnixTime],
) -> Result<Chained> {
    refuse_carried_roots(carried)?;
    if self_signed(leaf) {
        return Err(KeylessError::Chain(
            "the signing certificate is self-signed".into(),
        ));
    }
    leaf_use(leaf)?;
    let (not_before, not_after) = validity(leaf);
    for &t in times {
        if t < not_before || t > not_after {
            return Err(KeylessError::TimeOutsideCertificate(format!(
                "signed at {} but the certificate is valid from {} to {}",
                show(t),
                show(not_before),
                show(not_after)
            )));
        }
    }
    let mut last = String::from("no certificate authority in the trusted root issued it");
    for ca in &root.cas {
        let Some(path) = path_to_root(leaf, &ca.certs) else {
            continue;
        };
        if let Some(&t) = times.iter().find(|&&t| !ca.valid.contains(t)) {
            last = format!(
                "signed at {}, outside the validity of certificate authority `{}` in the trusted root",
                show(t),
                ca.uri
            );
            continue;
        }
        let expired = path.iter().find_map(|c| {
            let (from, to) = validity(c);
            times.iter().find(|&&t| t < from || t > to).map(|&t| {
                format!(
                    "CA certificate `{}` was not valid at {}",
                    subject(c),
                    show(t)
                )
            })
        });
        if let Some(e) = expired {
            last = e;
            continue;
        }
        return Ok(Chained {
            issuer: path[0].clone(),
            authority: ca.uri.clone(),
        });
    }
    Err(KeylessError::Chain(format!(
        "certificate issued by `{}`: {last}",
        leaf.tbs_certificate().issuer()
    )))
}

/// A bundle must not carry a root: roots come only from the trusted root.
pub fn refuse_carried_roots(carried: &[Certificate]) -> Result<()> {
    match carried.iter().find(|c| self_signed(c)) {
        Some(r) => Err(KeylessError::Chain(format!(
            "the bundle carries a root certificate ({}); roots come only from the trusted root",
            subject(r)
        ))),
        None => Ok(()),
    }
}

/// The certificates from `leaf`'s issuer up to a self-signed root, all from `pool`.
fn path_to_root(leaf: &Certificate, pool: &[Certificate]) -> Option<Vec<Certificate>> {
    let mut path: Vec<Certificate> = Vec::new();
    let mut current = leaf.clone();
    for _ in 0..=pool.len() {
        let issuer = pool
            .iter()
            .find(|c| is_ca(c) && signed_by(&current, c).is_ok())?;
        path.push(issuer.clone());
        if self_signed(issuer) {
            return Some(path);
        }
        current = issuer.clone();
    }
    None
}

fn is_ca(cert: &Certificate) -> bool {
    matches!(
        cert.tbs_certificate().get_extension::<BasicConstraints>(),
        Ok(Some((_, BasicConstraints { ca: true, .. })))
    )
}

/// The leaf is for code signing and is not a CA.
fn leaf_use(leaf: &Certificate) -> Result<()> {
    if is_ca(leaf) {
        return Err(KeylessError::Chain(
            "the signing certificate is a CA".into(),
        ));
    }
    match leaf.tbs_certificate().get_extension::<ExtendedKeyUsage>() {
        Ok(Some((_, eku))) if eku.0.contains(&ID_KP_CODE_SIGNING) => Ok(()),
        _ => Err(KeylessError::Chain(
            "the signing certificate is not for code signing (extended key usage)".into(),
        )),
    }
}

/// The identity (SAN) and OIDC issuer a Fulcio certificate names, as written (policies
/// match these; messages sanitize them).
pub fn identity(leaf: &Certificate) -> Result<(String, String)> {
    let tbs = leaf.tbs_certificate();
    let san = match tbs.get_extension::<SubjectAltName>() {
        Ok(Some((_, san))) => san,
        _ => {
            return Err(KeylessError::Chain(
                "the certificate has no subject alternative name".into(),
            ));
        }
    };
    let identity = san
        .0
        .iter()
        .find_map(|name| match name {
            GeneralName::UniformResourceIdentifier(s)
            | GeneralName::Rfc822Name(s)
            | GeneralName::DnsName(s) => Some(s.to_string()),
            GeneralName::OtherName(o) if o.type_id == FULCIO_USERNAME => o
                .value
                .decode_as::<der::asn1::Utf8StringRef<'_>>()
                .ok()
                .map(|s| s.to_string()),
            _ => None,
        })
        .ok_or_else(|| KeylessError::Chain("the certificate's SAN names no identity".into()))?;
    let extensions = tbs.extensions().map(|e| e.as_slice()).unwrap_or_default();
    let v2 = extensions
        .iter()
        .find(|e| e.extn_id == FULCIO_ISSUER_V2)
        .and_then(|e| {
            der::asn1::Utf8StringRef::from_der(e.extn_value.as_bytes())
                .ok()
                .map(|s| s.to_string())
        });
    let v1 = || {
        extensions
            .iter()
            .find(|e| e.extn_id == FULCIO_ISSUER_V1)
            .and_then(|e| String::from_utf8(e.extn_value.as_bytes().to_vec()).ok())
    };
    let issuer = v2.or_else(v1).ok_or_else(|| {
        KeylessError::Chain("the certificate has no Fulcio OIDC issuer extension".into())
    })?;
    Ok((identity, issuer))
}
