//! Registry connection arguments and the parsers of registry names and push targets.

use clap::Args;
use std::path::PathBuf;

/// How to reach registries: TLS, plain HTTP, mirrors, credentials, retries.
#[derive(Args, Debug, Clone)]
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
    #[arg(long, value_name = "REGISTRY=MIRROR")]
    pub mirror: Vec<String>,
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
    /// Retries for connection errors, 429 and 5xx answers.
    #[arg(long, default_value_t = 4)]
    pub retries: u32,
    /// Seconds a transfer may stay silent before it counts as stalled and is retried
    /// (a blob download resumes where it stopped).
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout: u64,
}

/// A registry as `host[:port]`, checked when the arguments are parsed (exit 2).
pub fn parse_registry(text: &str) -> Result<String, String> {
    if crate::oci::reference::valid_registry(text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a registry (expected host[:port], e.g. localhost:5000)"
        ))
    }
}

/// A repository prefix: components the distribution spec allows, joined by `/`; slashes
/// at either end are dropped. Checked when the arguments are parsed (exit 2).
pub fn parse_prefix(text: &str) -> Result<String, String> {
    let trimmed = text.trim_matches('/');
    if crate::oci::reference::valid_repository(trimmed) {
        Ok(trimmed.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a repository prefix (lowercase letters, digits and single `.`, `_`, `-` separators, components joined by `/`; no `..`)"
        ))
    }
}

/// Where `--push` sends images, as the user wrote it, taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushTarget {
    /// `host[:port]`.
    pub host: String,
    /// `http://` was written: plain HTTP.
    pub plain_http: bool,
    /// A path after the host: the repository prefix.
    pub prefix: Option<String>,
}

/// A push location as users write it: `HOST[:PORT][/PATH]`, with an optional `https://`,
/// `docker://` or `http://` (plain HTTP) in front. Anything else is refused at parse time
/// (exit 2) with the forms that work.
pub fn parse_push_target(text: &str) -> Result<PushTarget, String> {
    let forms = "use HOST[:PORT][/PATH], https://HOST[:PORT], http://HOST[:PORT] (plain HTTP) or docker://HOST[:PORT]";
    let (rest, plain_http) = if let Some(r) = text.strip_prefix("https://") {
        (r, false)
    } else if let Some(r) = text.strip_prefix("http://") {
        (r, true)
    } else if let Some(r) = text.strip_prefix("docker://") {
        (r, false)
    } else if let Some((scheme, _)) = text.split_once("://") {
        return Err(format!(
            "`{text}`: outrider does not push over `{scheme}://`; {forms}"
        ));
    } else {
        (text, false)
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains(['?', '#']) {
        return Err(format!("`{text}` has a query or fragment; {forms}"));
    }
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    if host.contains('@') {
        return Err(format!(
            "the location holds credentials (`…@{}`), which do not belong there (and are not repeated here); use --username and --password-stdin, or docker/podman login",
            host.rsplit('@').next().unwrap_or_default()
        ));
    }
    if !crate::oci::reference::valid_registry(host) {
        return Err(format!("`{host}` is not a registry host[:port]; {forms}"));
    }
    let prefix = path.map(parse_prefix).transpose()?;
    Ok(PushTarget {
        host: host.to_owned(),
        plain_http,
        prefix,
    })
}
