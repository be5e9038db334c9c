//! Trust across the gap. A digest proves bytes were not damaged; a signature proves who
//! made them. This module owns both kinds outrider checks offline:
//!
//! - the bundle's own signature ([`seal`]): `outrider.json.sig` holds the base64 of a DER
//!   ECDSA P-256 SHA-256 signature over the exact bytes of `outrider.json`, which names
//!   every blob by digest and size, so one signature covers the whole bundle and anyone
//!   can check it with `openssl dgst`;
//! - cosign's image signatures carried in the bundle ([`image_signatures`]), checked
//!   against public keys before an image reaches a registry or a node.
//!
//! The keys ([`keys`]) are ECDSA P-256: what `cosign generate-key-pair` and `openssl
//! genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` make. RustCrypto's `p256` does
//! the arithmetic; cosign's encrypted key files are opened by [`cosign_key`].

pub mod cosign_key;
pub mod image_signatures;
pub mod keyless;
pub mod keys;
pub mod seal;

pub use keys::{BundleSigner, TrustedKey, TrustedKeys};
pub use seal::Seal;
