//! What can go wrong talking to a registry, as one error type every verb returns.

use super::auth::AuthError;
use super::credentials::CredentialError;
use super::http::TlsSetupError;
use crate::oci::manifest::MAX_MANIFEST_BYTES;

/// Everything that can go wrong talking to a registry. Messages name the registry and
/// the object; secrets never appear.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Could not connect, or the connection broke, after all retries.
    #[error("cannot reach `{registry}`: {reason}")]
    Connect {
        /// Registry host.
        registry: String,
        /// Transport error text.
        reason: String,
    },
    /// Access refused after authenticating.
    #[error("`{registry}` refused access to `{what}` ({status}){hint}")]
    Unauthorized {
        /// Registry host.
        registry: String,
        /// Repository or object.
        what: String,
        /// 401 or 403.
        status: u16,
        /// Hint for the user.
        hint: &'static str,
    },
    /// The object does not exist.
    #[error("`{registry}` has no {what}")]
    NotFound {
        /// Registry host.
        registry: String,
        /// What was asked for.
        what: String,
    },
    /// Any other unexpected status.
    #[error("`{registry}`: {method} {what} answered {status}: {body}")]
    Status {
        /// Registry host.
        registry: String,
        /// HTTP method.
        method: String,
        /// What was asked for.
        what: String,
        /// Status code.
        status: u16,
        /// Start of the response body (sanitised).
        body: String,
    },
    /// The bytes received are not what was promised.
    #[error("`{registry}` sent bad content for {what}: {source}")]
    Content {
        /// Registry host.
        registry: String,
        /// What was fetched.
        what: String,
        /// The failed check.
        source: crate::oci::DigestError,
    },
    /// A manifest that cannot be carried.
    #[error("`{registry}`: {source}")]
    Manifest {
        /// Registry host.
        registry: String,
        /// Why.
        source: crate::oci::ManifestError,
    },
    /// A manifest larger than any registry would store.
    #[error("`{registry}` sent a manifest for {what} larger than {MAX_MANIFEST_BYTES} bytes")]
    ManifestTooLarge {
        /// Registry host.
        registry: String,
        /// What was fetched.
        what: String,
    },
    /// The bytes being sent come from a damaged local file (a bundle): the registry is
    /// not at fault, and sending them again cannot help, so this is never retried.
    #[error(transparent)]
    Damaged(#[from] crate::oci::Damaged),
    /// A repository or reference that is not a valid name (from a bundle, say) was about
    /// to become part of a URL.
    #[error("`{registry}`: refusing {what}: {reason}")]
    InvalidName {
        /// Registry host.
        registry: String,
        /// The request it would have been.
        what: String,
        /// Which name is invalid.
        reason: String,
    },
    /// Token flow failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Credentials could not be read.
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// TLS files unusable.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
}
