//! Why a keyless signature was refused: one variant per check, so every message names the
//! check that failed (the chain, the time, the log proof, the SCT, the identity, the digest).

/// A keyless verification that failed, naming the check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeylessError {
    /// The bundle (or a field in it) could not be read.
    #[error("malformed bundle: {0}")]
    Malformed(String),
    /// A form or algorithm outside what outrider verifies.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The trusted root could not be read.
    #[error("trusted root: {0}")]
    TrustedRoot(String),
    /// The certificate does not chain to a certificate authority of the trusted root.
    #[error("certificate chain: {0}")]
    Chain(String),
    /// A verified signing time lies outside the signing certificate's validity.
    #[error("time outside certificate: {0}")]
    TimeOutsideCertificate(String),
    /// The certificate's embedded SCT does not verify against a CT log of the trusted root.
    #[error("SCT: {0}")]
    Sct(String),
    /// A transparency-log entry, its signed entry timestamp, inclusion proof or checkpoint.
    #[error("log proof: {0}")]
    LogProof(String),
    /// An RFC 3161 timestamp that does not verify.
    #[error("timestamp: {0}")]
    Timestamp(String),
    /// No verified time to check the certificate at.
    #[error("missing timestamp: {0}")]
    MissingTimestamp(String),
    /// The certificate's identity or issuer matches no policy.
    #[error(
        "identity mismatch: the certificate names `{identity}` from issuer `{issuer}`; expected {expected}"
    )]
    IdentityMismatch {
        /// The SAN found.
        identity: String,
        /// The Fulcio OIDC issuer found.
        issuer: String,
        /// The policies, for people.
        expected: String,
    },
    /// The signature covers another artifact.
    #[error("digest mismatch: {0}")]
    DigestMismatch(String),
    /// The signature does not verify with the certificate's (or the key's) public key.
    #[error("signature: {0}")]
    Signature(String),
}

/// Shorthand for this module's results.
pub type Result<T> = std::result::Result<T, KeylessError>;
