//! Keys: the public keys a site trusts, and the private key `pack --sign` signs with.
//!
//! A key is named by its fingerprint, `sha256:` and the SHA-256 of its DER
//! SubjectPublicKeyInfo, which anyone can compute without outrider:
//! `openssl pkey -pubin -in KEY.pub -outform DER | sha256sum`.

use super::cosign_key;
use crate::oci::Digest;
use anyhow::{Context, bail};
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

/// Largest key file read: a PEM key is a few hundred bytes.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// The fingerprint of a public key: SHA-256 of its DER SubjectPublicKeyInfo.
pub fn fingerprint(key: &VerifyingKey) -> Digest {
    match key.to_public_key_der() {
        Ok(der) => Digest::of(der.as_bytes()),
        // A valid P-256 point always encodes; keep the type total anyway.
        Err(_) => Digest::of(key.to_sec1_point(false).as_bytes()),
    }
}

/// Decodes a base64 DER ECDSA signature, as cosign and `outrider.json.sig` store it
/// (ASCII whitespace, such as the line breaks `base64` adds, is ignored).
pub fn decode_signature(text: &[u8]) -> Result<Signature, String> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .map_err(|e| format!("not base64 ({e})"))?;
    let der = DerSignature::try_from(der.as_slice())
        .map_err(|_| "not a DER ECDSA P-256 signature".to_owned())?;
    Signature::try_from(der).map_err(|_| "not a DER ECDSA P-256 signature".to_owned())
}

fn read_key_file(path: &Path, what: &str) -> anyhow::Result<String> {
    let len = fs_err::metadata(path)
        .with_context(|| format!("reading {what}"))?
        .len();
    if len > MAX_KEY_FILE {
        bail!(
            "{what} `{}` is {len} bytes; a PEM key is a few hundred",
            path.display()
        );
    }
    fs_err::read_to_string(path).with_context(|| format!("reading {what}"))
}

/// A public key the far side trusts.
#[derive(Clone, Debug)]
pub struct TrustedKey {
    key: VerifyingKey,
    fingerprint: Digest,
    source: String,
}

impl TrustedKey {
    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) holding a P-256 key; `source`
    /// names where it came from in messages.
    pub fn from_pem(pem: &str, source: &str) -> Result<TrustedKey, String> {
        let key = VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| {
            format!(
                "`{source}` is not a PEM ECDSA P-256 public key (`-----BEGIN PUBLIC KEY-----`): {e}"
            )
        })?;
        Ok(TrustedKey {
            fingerprint: fingerprint(&key),
            key,
            source: source.to_owned(),
        })
    }

    /// Reads a PEM public key file.
    pub fn load(path: &Path) -> anyhow::Result<TrustedKey> {
        let text = read_key_file(path, "public key")?;
        TrustedKey::from_pem(&text, &path.display().to_string()).map_err(anyhow::Error::msg)
    }

    /// The key's fingerprint.
    pub fn fingerprint(&self) -> &Digest {
        &self.fingerprint
    }

    /// Where the key came from (a path).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether `signature` is this key's ECDSA-SHA256 signature over `message`.
    pub fn verifies(&self, message: &[u8], signature: &Signature) -> bool {
        self.verifies_prehash(&Sha256::digest(message), signature)
    }

    /// Whether `signature` is this key's signature over the SHA-256 `digest` of a message
    /// that is not at hand (sigstore's message signatures over an image manifest).
    pub fn verifies_digest(&self, digest: &Digest, signature: &Signature) -> bool {
        hex::decode(digest.hex()).is_ok_and(|prehash| self.verifies_prehash(&prehash, signature))
    }

    /// Whether `signature` is this key's signature over a message whose SHA-256 is
    /// `prehash`.
    fn verifies_prehash(&self, prehash: &[u8], signature: &Signature) -> bool {
        self.key.verify_prehash(prehash, signature).is_ok()
    }
}

/// The set of keys trusted: `--trusted-key` files and the keys of a directory.
#[derive(Clone, Debug, Default)]
pub struct TrustedKeys(Vec<TrustedKey>);

impl TrustedKeys {
    /// Trusts nothing: signatures are shown, not checked.
    pub fn none() -> TrustedKeys {
        TrustedKeys(Vec::new())
    }

    /// Reads every key file given and every `*.pub` / `*.pem` in `dir`. A directory that
    /// holds no key is an error: a site that meant to require signatures must not end up
    /// requiring none because a path was wrong.
    pub fn load(files: &[PathBuf], dir: Option<&Path>) -> anyhow::Result<TrustedKeys> {
        let mut keys = Vec::new();
        for f in files {
            keys.push(TrustedKey::load(f)?);
        }
        if let Some(dir) = dir {
            let mut found: Vec<PathBuf> = fs_err::read_dir(dir)
                .context("reading the trusted keys directory (OUTRIDER_TRUSTED_KEYS)")?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "pub" || e == "pem"))
                .collect();
            found.sort();
            if found.is_empty() {
                bail!(
                    "the trusted keys directory `{}` (OUTRIDER_TRUSTED_KEYS) holds no `*.pub` or `*.pem` file; put the public keys there, or unset it",
                    dir.display()
                );
            }
            for f in found {
                keys.push(TrustedKey::load(&f)?);
            }
        }
        keys.dedup_by(|a, b| a.fingerprint == b.fingerprint);
        Ok(TrustedKeys(keys))
    }

    /// Trusts exactly these keys.
    pub fn of(keys: Vec<TrustedKey>) -> TrustedKeys {
        TrustedKeys(keys)
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The keys.
    pub fn iter(&self) -> impl Iterator<Item = &TrustedKey> {
        self.0.iter()
    }

    /// The key, if any, whose signature over `message` `signature` is. The message (an
    /// index of up to 256 MiB) is hashed once, whatever the number of keys.
    pub fn signer_of(&self, message: &[u8], signature: &Signature) -> Option<&TrustedKey> {
        let prehash = Sha256::digest(message);
        self.0
            .iter()
            .find(|k| k.verifies_prehash(&prehash, signature))
    }

    /// The key with this fingerprint.
    pub fn by_fingerprint(&self, fingerprint: &Digest) -> Option<&TrustedKey> {
        self.0.iter().find(|k| &k.fingerprint == fingerprint)
    }

    /// `sha256:… (`path`), …` for messages.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|k| format!("{} (`{}`)", k.fingerprint, k.source))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The private key `pack --sign` signs bundles with.
pub struct BundleSigner {
    key: SigningKey,
    fingerprint: Digest,
}

impl BundleSigner {
    /// Reads a private key: PKCS#8 PEM (`openssl genpkey`), SEC1 PEM (`openssl ecparam
    /// -genkey`), or a cosign key file, whose password comes from `password` (called only
    /// for an encrypted key).
    pub fn load(
        path: &Path,
        password: impl FnOnce() -> anyhow::Result<String>,
    ) -> anyhow::Result<BundleSigner> {
        let text = read_key_file(path, "signing key")?;
        let shown = path.display();
        let key = if cosign_key::is_cosign_key(&text) {
            let password = password()?;
            let der = cosign_key::decrypt(&text, password.as_bytes())
                .with_context(|| format!("opening the cosign key `{shown}`"))?;
            SigningKey::from_pkcs8_der(&der).map_err(|e| {
                anyhow::anyhow!("the cosign key `{shown}` does not hold an ECDSA P-256 key: {e}")
            })?
        } else if text.contains("-----BEGIN PRIVATE KEY-----") {
            SigningKey::from_pkcs8_pem(text.trim()).map_err(|e| {
                anyhow::anyhow!("`{shown}` is not an ECDSA P-256 PKCS#8 private key: {e}")
            })?
        } else if text.contains("-----BEGIN EC PRIVATE KEY-----") {
            p256::SecretKey::from_sec1_pem(text.trim())
                .map(SigningKey::from)
                .map_err(|e| anyhow::anyhow!("`{shown}` is not an ECDSA P-256 key: {e}"))?
        } else {
            bail!(
                "`{shown}` is not a private key outrider can sign with: give an ECDSA P-256 key in PKCS#8 PEM (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out KEY.pem`) or a cosign key (`cosign generate-key-pair`)"
            );
        };
        Ok(BundleSigner {
            fingerprint: fingerprint(key.verifying_key()),
            key,
        })
    }

    /// Reads a private key, asking for a cosign key's password as cosign does:
    /// `COSIGN_PASSWORD`, else a prompt that does not echo.
    pub fn load_with_cosign_password(path: &Path) -> anyhow::Result<BundleSigner> {
        BundleSigner::load(path, || {
            if let Ok(p) = std::env::var("COSIGN_PASSWORD") {
                return Ok(p);
            }
            rpassword::prompt_password(format!("Password for `{}`: ", path.display()))
                .context("the cosign key is encrypted: set COSIGN_PASSWORD, or run on a terminal to be asked")
        })
    }

    /// The signing key's public fingerprint.
    pub fn fingerprint(&self) -> &Digest {
        &self.fingerprint
    }

    /// The base64 of the DER ECDSA-P256-SHA256 signature over `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        let signature: Signature = self.key.sign(message);
        base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A key pair from sigstore-rs's test data (Apache-2.0, see fixtures/README.md) and a
    // real cosign signature over a simple-signing payload made with it.
    const SIGSTORE_RS_PUB: &str = include_str!("../../fixtures/cosign/sigstore-rs.pub");

    #[test]
    fn signs_and_verifies_and_names_the_key() {
        let key = SigningKey::from_slice(&[7u8; 32]).expect("scalar");
        let signer = BundleSigner {
            fingerprint: fingerprint(key.verifying_key()),
            key,
        };
        let sig = decode_signature(signer.sign(b"index").as_bytes()).expect("decodes");
        let pem = signer
            .key
            .verifying_key()
            .to_public_key_pem(Default::default())
            .expect("pem");
        let trusted = TrustedKey::from_pem(&pem, "k.pub").expect("parses");
        assert_eq!(trusted.fingerprint(), signer.fingerprint());
        assert!(trusted.verifies(b"index", &sig));
        assert!(!trusted.verifies(b"indeX", &sig));
    }

    #[test]
    fn refuses_what_is_not_a_p256_public_key() {
        assert!(TrustedKey::from_pem(SIGSTORE_RS_PUB, "sigstore-rs.pub").is_ok());
        let e = TrustedKey::from_pem(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            "x.pub",
        )
        .expect_err("refused");
        assert!(
            e.contains("`x.pub` is not a PEM ECDSA P-256 public key"),
            "{e}"
        );
        assert!(decode_signature(b"@@").is_err());
        assert!(decode_signature(b"AAAA").is_err());
    }
}
