//! Opens the private key files `cosign generate-key-pair` writes: a PEM block
//! (`ENCRYPTED SIGSTORE PRIVATE KEY`, or `ENCRYPTED COSIGN PRIVATE KEY` before cosign 2)
//! holding JSON that names the key derivation (scrypt, with its salt and cost) and the
//! cipher (NaCl secretbox, with its nonce), and the ciphertext of the PKCS#8 DER key. The
//! format is go-securesystemslib's `encrypted` package; RustCrypto's `scrypt` and
//! `crypto_secretbox` do the work.

use anyhow::{Context, bail};
use base64::Engine;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Nonce, XSalsa20Poly1305};
use serde::Deserialize;

const LABELS: [&str; 2] = [
    "ENCRYPTED SIGSTORE PRIVATE KEY",
    "ENCRYPTED COSIGN PRIVATE KEY",
];

/// scrypt memory is 128·r·N bytes; refuse costs beyond 1 GiB rather than exhaust memory.
const MAX_SCRYPT_BYTES: u128 = 1 << 30;

#[derive(Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct KdfParams {
    N: u64,
    r: u32,
    p: u32,
}

#[derive(Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// Whether `pem` is a cosign encrypted key file.
pub fn is_cosign_key(pem: &str) -> bool {
    LABELS
        .iter()
        .any(|l| pem.contains(&format!("-----BEGIN {l}-----")))
}

/// Decrypts a cosign key file with `password`, giving the PKCS#8 DER private key.
pub fn decrypt(pem: &str, password: &[u8]) -> anyhow::Result<Vec<u8>> {
    let (label, json) = p256::pkcs8::der::pem::decode_vec(pem.trim().as_bytes())
        .map_err(|e| anyhow::anyhow!("not a PEM block: {e}"))?;
    if !LABELS.contains(&label) {
        bail!("a `{label}` PEM block, not a cosign key");
    }
    let envelope: Envelope =
        serde_json::from_slice(&json).context("the key's JSON envelope is not cosign's")?;
    if envelope.kdf.name != "scrypt" || envelope.cipher.name != "nacl/secretbox" {
        bail!(
            "key derivation `{}` and cipher `{}`: only cosign's scrypt and nacl/secretbox are known",
            envelope.kdf.name,
            envelope.cipher.name
        );
    }
    let b64 = |field: &str, text: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .with_context(|| format!("the key's {field} is not base64"))
    };
    let salt = b64("salt", &envelope.kdf.salt)?;
    let nonce = b64("nonce", &envelope.cipher.nonce)?;
    let ciphertext = b64("ciphertext", &envelope.ciphertext)?;
    let KdfParams { N: n, r, p } = envelope.kdf.params;
    if !n.is_power_of_two() || n < 2 || 128 * u128::from(r) * u128::from(n) > MAX_SCRYPT_BYTES {
        bail!("scrypt cost N={n} r={r} is not a power of two or needs more than 1 GiB");
    }
    let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p)
        .map_err(|_| anyhow::anyhow!("scrypt parameters N={n} r={r} p={p} are invalid"))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password, &salt, &params, &mut key)
        .map_err(|_| anyhow::anyhow!("scrypt failed"))?;
    if nonce.len() != 24 {
        bail!("the key's nonce is {} bytes, not 24", nonce.len());
    }
    let cipher = XSalsa20Poly1305::new(&key.into());
    cipher
        .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
        .map_err(|_| {
            anyhow::anyhow!("wrong password (COSIGN_PASSWORD), or the key file is damaged")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::DecodePrivateKey;

    // Both from sigstore-rs's test data (Apache-2.0, see fixtures/README.md).
    const ENCRYPTED: &str = include_str!("../../fixtures/cosign/sigstore-rs-encrypted.key");
    const EMPTY_PASSWORD: &str =
        include_str!("../../fixtures/cosign/sigstore-rs-empty-password.key");

    #[test]
    fn opens_keys_cosign_and_sigstore_wrote() {
        for (pem, password) in [(ENCRYPTED, &b"123"[..]), (EMPTY_PASSWORD, &b""[..])] {
            assert!(is_cosign_key(pem));
            let der = decrypt(pem, password).expect("decrypts");
            p256::ecdsa::SigningKey::from_pkcs8_der(&der).expect("a P-256 key");
        }
    }

    #[test]
    fn a_wrong_password_is_named() {
        let e = decrypt(ENCRYPTED, b"1234").expect_err("refused");
        assert!(e.to_string().contains("wrong password"), "{e}");
    }
}
