//! What can go wrong talking to a registry, as one error type every verb returns.

use super::auth::AuthError;
use super::credentials::CredentialError;
use super::http::TlsSetupError;
use super::transport::Cause;

/// Everything that can go wrong talking to a registry. Messages name the registry and
/// the object; secrets never appear.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Could not connect, or the connection broke, after the retries a transient cause
    /// earns (none for the others).
    #[error("{}", cause.explain(host))]
    Connect {
        /// Registry as references name it.
        registry: String,
        /// The host actually dialled (a mirror's, say): the one flags must name.
        host: String,
        /// What went wrong.
        cause: Cause,
    },
    /// The credentials sent were refused: wrong user or password, or an expired token.
    #[error(
        "`{registry}` rejected the credentials for `{username}`; hint: check them and log in again: `docker login {registry}`, `podman login {registry}`, or `--username {username} --password-stdin`"
    )]
    Rejected {
        /// Registry host.
        registry: String,
        /// Who the credentials say they are (never the secret).
        username: String,
    },
    /// No credentials were sent and the registry wants some.
    #[error(
        "`{registry}` requires login for {what}; hint: `docker login {registry}`, `podman login {registry}`, or `--username USER --password-stdin`"
    )]
    LoginRequired {
        /// Registry host.
        registry: String,
        /// Repository or object.
        what: String,
    },
    /// The credentials were accepted, but do not grant this.
    #[error(
        "`{registry}` denied `{username}` access to {what} ({status}); hint: the account needs {need} permission there"
    )]
    Denied {
        /// Registry host.
        registry: String,
        /// Who asked.
        username: String,
        /// Repository or object.
        what: String,
        /// 401 or 403.
        status: u16,
        /// `pull` or `push`.
        need: &'static str,
    },
    /// The registry cannot store what it is sent (full, over quota, read-only).
    #[error("`{registry}` {}: it could not store {what}; hint: {}", cause.describe(), cause.hint())]
    Storage {
        /// Registry host.
        registry: String,
        /// What was being written.
        what: String,
        /// Why.
        cause: super::storage::StorageFailure,
    },
    /// The registry refused a write for a rule of its own (an immutable tag, a namespace
    /// that must exist first): said in one line with the fix, never retried.
    #[error("{}", rule.describe(registry, what))]
    WriteRule {
        /// Registry host.
        registry: String,
        /// What was being written.
        what: String,
        /// The rule.
        rule: super::write_rules::WriteRule,
    },
    /// An upload moved no byte, and got no answer after its last one, for `--timeout`.
    #[error(
        "no byte of {what} moved to `{registry}` for {secs} s (stalled); hint: a slow link is fine, a silent one is not: check the network, or raise --timeout"
    )]
    Stalled {
        /// Registry host.
        registry: String,
        /// The blob and repository.
        what: String,
        /// The timeout that passed.
        secs: u64,
    },
    /// `/v2/` does not answer as a registry does.
    #[error(
        "`{registry}` does not serve the registry API (GET /v2/ answered {status}); hint: check the host and port"
    )]
    NotARegistry {
        /// Registry host.
        registry: String,
        /// What `/v2/` answered.
        status: u16,
    },
    /// A failure found once for the registry (by `Registry::ready`) and shared by
    /// every image that needed it, so it is reported once, not once per image or blob.
    #[error(transparent)]
    Shared(std::sync::Arc<RegistryError>),
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
    /// A body larger than its kind may be (a manifest, a page of a listing): reading
    /// stopped at the limit (see `registry::body`).
    #[error("{what} from `{registry}` is over {limit} bytes; refused")]
    TooLarge {
        /// Registry host.
        registry: String,
        /// What was fetched.
        what: String,
        /// The limit it went past.
        limit: u64,
    },
    /// The registry named a URL on another origin where following it makes no sense (an
    /// upload session: the image's bytes go only to the registry the user named).
    #[error(
        "`{registry}` named `{location}` for {what}, which is not on its own origin `{origin}`; refused: outrider sends an image's bytes only to the registry it pushes to; hint: a registry behind a proxy must know its public URL (distribution: `http.host`)"
    )]
    ForeignLocation {
        /// Registry host.
        registry: String,
        /// The request it was for.
        what: String,
        /// The URL it named (query left out).
        location: String,
        /// The registry's own origin.
        origin: String,
    },
    /// The token server is on another origin over plain HTTP, so the credentials were not
    /// sent to it, and it refused an anonymous token.
    #[error(
        "`{registry}` sends logins to the token server `{realm}`, on another origin over plain HTTP; outrider did not send it the credentials for `{username}`, and it gave no token without them; hint: if that token server is yours, allow it with `--plain-http {host}`"
    )]
    CredentialsWithheld {
        /// Registry host.
        registry: String,
        /// The realm URL.
        realm: String,
        /// Who the credentials were for.
        username: String,
        /// The realm's `host:port`, as `--plain-http` takes it.
        host: String,
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

impl RegistryError {
    /// Whether a broken upload may have left part of its bytes in the session: the
    /// registry answered 5xx, or the connection broke (see [`RegistryError::is_transient`]).
    pub fn may_hold_part(&self) -> bool {
        matches!(self, RegistryError::Status { status, .. } if *status >= 500)
    }

    /// Whether the registry asked for a pause (429, 408): the same upload goes on after it.
    pub fn asks_to_wait(&self) -> bool {
        matches!(
            self,
            RegistryError::Status {
                status: 429 | 408,
                ..
            }
        )
    }

    /// Whether trying the same transfer again could help: a connection that broke after
    /// the registry had answered, not a wrong name, certificate or password.
    pub fn is_transient(&self) -> bool {
        matches!(self, RegistryError::Connect { cause, .. } if cause.transient(true))
            || matches!(self, RegistryError::Stalled { .. })
    }
}
