//! How to reach registries, defined once and flattened into every command that talks to
//! one (`pack`, `plan`, `unpack`, `deploy`, `receipt`): the connection (plain HTTP, TLS,
//! mirrors, retries, stall timeout) under one help heading, the credentials under another.

use super::address::parse_mirror;
use super::heading;
use clap::Args;
use std::path::PathBuf;

/// How to reach registries: TLS, plain HTTP, mirrors, retries, and (flattened) credentials.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = heading::CONNECTION)]
pub struct RegistryArgs {
    /// Reach this registry over plain HTTP; repeatable. (Loopback registries fall back
    /// to HTTP by themselves when HTTPS fails, as docker does.)
    #[arg(long, value_name = "HOST[:PORT]")]
    pub plain_http: Vec<String>,
    /// Do not verify this registry's TLS certificate; repeatable.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub insecure_skip_verify: Vec<String>,
    /// Extra CA certificates (PEM) to trust; repeatable.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Vec<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Read images of REGISTRY from MIRROR, passing `?ns=REGISTRY`; repeatable.
    #[arg(long, value_name = "REGISTRY=MIRROR", value_parser = parse_mirror)]
    pub mirror: Vec<String>,
    /// Retries for connection errors, 429 and 5xx answers.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub retries: u32,
    /// How long a transfer may stay silent before it counts as stalled and is retried
    /// (`90s`, `5m`; a plain number is seconds; at most a day): no byte received
    /// (downloads resume where they stopped) or sent (uploads ask the registry where they
    /// stand); a transfer that keeps moving is never cut.
    #[arg(long, value_name = "DURATION", default_value = "60", value_parser = super::units::timeout_seconds)]
    pub timeout: u64,
    /// Credentials.
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// Credentials for registries, beside those `docker login` and `podman login` keep.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = heading::AUTH)]
pub struct AuthArgs {
    /// User name for registry authentication (see --auth-for).
    #[arg(long, env = "OUTRIDER_USERNAME")]
    pub username: Option<String>,
    /// Password or token (prefer OUTRIDER_PASSWORD or --password-stdin: argv is visible to other users).
    #[arg(long, env = "OUTRIDER_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long, conflicts_with = "password")]
    pub password_stdin: bool,
    /// The auth file to read credentials from (podman/skopeo `auth.json` or docker
    /// `config.json` format), instead of docker's config and podman's auth.json.
    #[arg(long, value_name = "FILE", env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// Registries the --username credentials are sent to; repeatable. Default: the push
    /// destination for unpack, the images' registry for pack when they share one.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub auth_for: Vec<String>,
}
