//! Keyless signatures, verified offline: a Fulcio certificate instead of a key, proven by a
//! Sigstore trusted root carried across the gap. Nothing here touches the network.
//!
//! - [`trusted_root`]: `trusted_root.json` (CAs, Rekor logs, CT logs, TSAs, validity);
//! - [`policy`]: who may sign (identity and OIDC issuer, exact or regexp; any one policy);
//! - [`certificate`]: the chain at signing time, the leaf's use, SAN and issuer extension;
//! - [`sct`]: the certificate's embedded SCT against the CT log keys;
//! - [`tlog`] and [`checkpoint`]: Rekor v1 signed entry timestamps, inclusion proofs and
//!   signed checkpoints (Rekor v2), and that the entry records this signature;
//! - [`tsa`]: RFC 3161 timestamps;
//! - [`bundle`]: Sigstore bundles v0.1–v0.3, tying the checks together into a [`Verdict`]
//!   or a [`KeylessError`] naming the check that failed.

pub mod bundle;
pub mod certificate;
pub mod checkpoint;
pub mod content;
pub mod error;
pub mod images;
pub mod policy;
pub mod public_key;
pub mod sct;
pub mod time;
pub mod tlog;
pub mod trusted_root;
pub mod tsa;

#[cfg(test)]
mod conformance;

pub use bundle::{Trust, Verdict, verify};
pub use error::KeylessError;
pub use policy::{Matcher, Policies, Policy};
pub use trusted_root::TrustedRoot;
