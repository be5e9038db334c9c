//! The public keys keyless verification meets: ECDSA P-256 and P-384 (Fulcio leaves and
//! CAs, CT logs, Rekor v1, the TSA) and Ed25519 (Rekor v2), read from DER
//! SubjectPublicKeyInfo, and RSA PKCS#1 v1.5 (private Fulcio instances, old CT logs),
//! verified with the `rsa` crate. RUSTSEC-2023-0071 (Marvin) concerns RSA private-key
//! operations; only public keys are used here.

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912::{ID_EC_PUBLIC_KEY, RSA_ENCRYPTION, SECP_256_R_1, SECP_384_R_1};
use der::Decode;
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use spki::SubjectPublicKeyInfoRef;

/// Ed25519's algorithm identifier (RFC 8410).
pub const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// The hash an ECDSA signature is made over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// The digest of `message`.
    pub fn digest(self, message: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(message).to_vec(),
            Hash::Sha384 => Sha384::digest(message).to_vec(),
            Hash::Sha512 => Sha512::digest(message).to_vec(),
        }
    }

    /// The hash an X.509 / CMS algorithm identifier names (digest or ECDSA signature OIDs).
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Hash> {
        use const_oid::db::rfc5912::{
            ECDSA_WITH_SHA_256, ECDSA_WITH_SHA_384, ECDSA_WITH_SHA_512, ID_SHA_256, ID_SHA_384,
            ID_SHA_512, SHA_256_WITH_RSA_ENCRYPTION, SHA_384_WITH_RSA_ENCRYPTION,
            SHA_512_WITH_RSA_ENCRYPTION,
        };
        match *oid {
            o if o == ID_SHA_256 || o == ECDSA_WITH_SHA_256 || o == SHA_256_WITH_RSA_ENCRYPTION => {
                Some(Hash::Sha256)
            }
            o if o == ID_SHA_384 || o == ECDSA_WITH_SHA_384 || o == SHA_384_WITH_RSA_ENCRYPTION => {
                Some(Hash::Sha384)
            }
            o if o == ID_SHA_512 || o == ECDSA_WITH_SHA_512 || o == SHA_512_WITH_RSA_ENCRYPTION => {
                Some(Hash::Sha512)
            }
            _ => None,
        }
    }
}

/// A verification key.
#[derive(Clone, Debug)]
pub enum PublicKey {
    /// ECDSA on P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA on P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// RSA, PKCS#1 v1.5 signatures.
    Rsa(rsa::RsaPublicKey),
    /// A key of another kind, named; it verifies nothing.
    Unsupported(String),
}

impl PublicKey {
    /// Reads a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, String> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| format!("not a DER public key: {e}"))?;
        let bits = spki.subject_public_key.raw_bytes();
        let oid = spki.algorithm.oid;
        if oid == ID_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            return match curve {
                Some(c) if c == SECP_256_R_1 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P256)
                    .map_err(|e| format!("bad P-256 key: {e}")),
                Some(c) if c == SECP_384_R_1 => p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map(PublicKey::P384)
                    .map_err(|e| format!("bad P-384 key: {e}")),
                other => Ok(PublicKey::Unsupported(format!(
                    "an EC key on curve {}",
                    other.map_or("(none)".into(), |c| c.to_string())
                ))),
            };
        }
        if oid == ID_ED25519 {
            let raw: [u8; 32] = bits
                .try_into()
                .map_err(|_| "an Ed25519 key is 32 bytes".to_owned())?;
            return ed25519_dalek::VerifyingKey::from_bytes(&raw)
                .map(PublicKey::Ed25519)
                .map_err(|e| format!("bad Ed25519 key: {e}"));
        }
        if oid == RSA_ENCRYPTION {
            use rsa::pkcs8::DecodePublicKey;
            return rsa::RsaPublicKey::from_public_key_der(der)
                .map(PublicKey::Rsa)
                .map_err(|e| format!("bad RSA key: {e}"));
        }
        Ok(PublicKey::Unsupported(format!("a key of algorithm {oid}")))
    }

    /// Reads a DER PKCS#1 RSA public key (the trusted root's `PKCS1_RSA_*` entries).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<PublicKey, String> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        rsa::RsaPublicKey::from_pkcs1_der(der)
            .map(PublicKey::Rsa)
            .map_err(|e| format!("bad PKCS#1 RSA key: {e}"))
    }

    /// Verifies `signature` over `message`: ECDSA signatures are DER and made over the
    /// `hash` of the message; Ed25519 signs the message itself.
    pub fn verify(&self, message: &[u8], signature: &[u8], hash: Hash) -> Result<(), String> {
        self.verify_prehashed(&hash.digest(message), message, signature)
    }

    /// Verifies an ECDSA `signature` over a message whose digest is `prehash` (Ed25519 has
    /// no prehash form and is refused).
    pub fn verify_digest(&self, prehash: &[u8], signature: &[u8]) -> Result<(), String> {
        if let PublicKey::Ed25519(_) = self {
            return Err("an Ed25519 key cannot verify a signature over a digest".into());
        }
        self.verify_prehashed(prehash, &[], signature)
    }

    fn verify_prehashed(&self, prehash: &[u8], message: &[u8], sig: &[u8]) -> Result<(), String> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let bad = || "the signature does not verify".to_owned();
        match self {
            PublicKey::P256(k) => {
                let s = p256::ecdsa::DerSignature::try_from(sig)
                    .ok()
                    .and_then(|d| p256::ecdsa::Signature::try_from(d).ok())
                    .ok_or_else(|| "not a DER ECDSA P-256 signature".to_owned())?;
                k.verify_prehash(prehash, &s).map_err(|_| bad())
            }
            PublicKey::P384(k) => {
                let s = p384::ecdsa::DerSignature::try_from(sig)
                    .ok()
                    .and_then(|d| p384::ecdsa::Signature::try_from(d).ok())
                    .ok_or_else(|| "not a DER ECDSA P-384 signature".to_owned())?;
                k.verify_prehash(prehash, &s).map_err(|_| bad())
            }
            PublicKey::Ed25519(k) => {
                let s = ed25519_dalek::Signature::from_slice(sig)
                    .map_err(|_| "not an Ed25519 signature".to_owned())?;
                k.verify_strict(message, &s).map_err(|_| bad())
            }
            PublicKey::Rsa(k) => {
                let scheme = match prehash.len() {
                    32 => rsa::Pkcs1v15Sign::new::<Sha256>(),
                    48 => rsa::Pkcs1v15Sign::new::<Sha384>(),
                    64 => rsa::Pkcs1v15Sign::new::<Sha512>(),
                    _ => return Err("no RSA scheme for this digest".into()),
                };
                k.verify(scheme, prehash, sig).map_err(|_| bad())
            }
            PublicKey::Unsupported(what) => Err(format!("{what} is not supported")),
        }
    }
}

/// The SHA-256 of a DER SubjectPublicKeyInfo: a CT log's or Rekor v1's key id.
pub fn key_id(spki_der: &[u8]) -> Vec<u8> {
    Sha256::digest(spki_der).to_vec()
}
