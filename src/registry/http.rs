//! HTTP for registries: one `reqwest::Client` per TLS setting, the scheme decision
//! (HTTPS, plain HTTP when asked, Docker's loopback fallback), and retry with backoff.

use std::path::PathBuf;
use std::time::Duration;

/// TLS and transport settings shared by every registry a command talks to; per-host
/// exceptions are named by host.
#[derive(Clone, Debug, Default)]
pub struct TransportOptions {
    /// Hosts reached over plain HTTP.
    pub plain_http: Vec<String>,
    /// Hosts whose TLS certificate is not verified.
    pub skip_verify: Vec<String>,
    /// Extra CA certificates (PEM) trusted besides the system's.
    pub ca_files: Vec<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// `registry=mirror` pairs: requests for `registry` go to `mirror` with `?ns=registry`.
    pub mirrors: Vec<(String, String)>,
    /// Attempts after the first for connection errors, 429 and 5xx.
    pub retries: u32,
    /// Silence after which a read counts as stalled (`--timeout`).
    pub stall_timeout: Duration,
    /// Roots of `certs.d` trees: `ROOT/HOST[:PORT]/` holds `*.crt` CAs and `*.cert` +
    /// `*.key` client pairs for that registry, as podman and docker keep them.
    pub certs_d: Vec<PathBuf>,
    /// Per-host flags as given on the command line (`--plain-http`, host), checked
    /// against the registries reached so one that matches nothing is pointed out.
    pub flags: Vec<(String, String)>,
}

impl TransportOptions {
    /// The `certs.d` roots podman and docker read, most personal first; the variable
    /// `OUTRIDER_CERTS_D` (colon-separated) replaces them, for tests and unusual layouts.
    pub fn default_certs_d() -> Vec<PathBuf> {
        if let Some(list) = std::env::var_os("OUTRIDER_CERTS_D") {
            return std::env::split_paths(&list).collect();
        }
        let mut roots = Vec::new();
        if let Some(home) = std::env::var_os("HOME") {
            roots.push(PathBuf::from(home).join(".config/containers/certs.d"));
        }
        roots.push(PathBuf::from("/etc/containers/certs.d"));
        roots.push(PathBuf::from("/etc/docker/certs.d"));
        roots
    }
}

/// Whether a host named in a per-host flag means the registry `host`, with or without
/// its default port (`registry.example` is `registry.example:443`; for plain HTTP, `:80`).
pub fn same_host(flag: &str, host: &str, default_port: u16) -> bool {
    let strip = |h: &str| {
        h.strip_suffix(&format!(":{default_port}"))
            .unwrap_or(h)
            .to_ascii_lowercase()
    };
    strip(flag) == strip(host)
}

/// The CA files and the client pair a `certs.d` tree holds for `host`: `*.crt` are CAs,
/// `NAME.cert` with `NAME.key` a client certificate. Missing folders are normal.
fn certs_d_files(roots: &[PathBuf], host: &str) -> (Vec<PathBuf>, Option<(PathBuf, PathBuf)>) {
    let mut cas = Vec::new();
    let mut client = None;
    let mut names = vec![host.to_owned()];
    if let Some(bare) = host.strip_suffix(":443") {
        names.push(bare.to_owned());
    }
    for root in roots {
        for name in &names {
            let Ok(entries) = std::fs::read_dir(root.join(name)) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            files.sort();
            for f in &files {
                match f.extension().and_then(|e| e.to_str()) {
                    Some("crt") => cas.push(f.clone()),
                    Some("cert") if client.is_none() => {
                        let key = f.with_extension("key");
                        if key.is_file() {
                            client = Some((f.clone(), key));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    (cas, client)
}

/// A client could not be built from the TLS files given.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A file could not be read.
    #[error("reading `{0}`: {1}")]
    Read(PathBuf, std::io::Error),
    /// A file is not the PEM expected.
    #[error("`{0}` is not a usable PEM certificate or key: {1}")]
    Pem(PathBuf, String),
}

/// Builds the HTTP client for one host.
/// `read_timeout`: whether silence from the registry for `--timeout` fails a request
/// (downloads); uploads are watched by what they send instead (`stall`).
pub fn build_client(
    options: &TransportOptions,
    host: &str,
    read_timeout: bool,
) -> Result<reqwest::Client, TlsSetupError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("outrider/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(16);
    if read_timeout {
        builder = builder.read_timeout(options.stall_timeout);
    } else {
        // An upload's client speaks HTTP/1.1 only: a stalled request dropped there closes
        // its connection, where HTTP/2 would reset one stream and hand the same silent
        // connection to the retry.
        builder = builder.http1_only();
    }
    // A proxy from the environment must never see traffic meant for this machine.
    if is_loopback(host) {
        builder = builder.no_proxy();
    }
    let (found_cas, found_client) = certs_d_files(&options.certs_d, host);
    if !found_cas.is_empty() || found_client.is_some() {
        tracing::debug!(%host, cas = ?found_cas, client = ?found_client.as_ref().map(|c| &c.0), "certs.d");
    }
    for path in options.ca_files.iter().chain(&found_cas) {
        let pem = fs_err::read(path).map_err(|e| TlsSetupError::Read(path.clone(), e))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| TlsSetupError::Pem(path.clone(), e.to_string()))?;
        // A file with no certificate in it would widen nothing and hide the mistake.
        if certs.is_empty() {
            return Err(TlsSetupError::Pem(
                path.clone(),
                "it holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)".into(),
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    if let Some((cert, key)) = options.client_cert.as_ref().or(found_client.as_ref()) {
        let mut pem = fs_err::read(cert).map_err(|e| TlsSetupError::Read(cert.clone(), e))?;
        pem.push(b'\n');
        pem.extend(fs_err::read(key).map_err(|e| TlsSetupError::Read(key.clone(), e))?);
        let identity = reqwest::Identity::from_pem(&pem)
            .map_err(|e| TlsSetupError::Pem(cert.clone(), e.to_string()))?;
        builder = builder.identity(identity);
    }
    if options.skip_verify.iter().any(|h| same_host(h, host, 443)) {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|e| TlsSetupError::Pem(PathBuf::from("(tls)"), e.to_string()))
}

/// Whether `host[:port]` names this machine: `localhost`, 127.0.0.0/8 or `::1`. Docker
/// treats these as insecure registries by default and falls back to plain HTTP.
pub fn is_loopback(host_port: &str) -> bool {
    if host_port
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
    {
        return true;
    }
    let host = if let Some(inner) = host_port.strip_prefix('[') {
        inner.split(']').next().unwrap_or("")
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a response status is worth another attempt.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// A response's `Retry-After`, kept before its body is read.
pub fn retry_after(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Delay before attempt `attempt` (1-based): `Retry-After` seconds when given (capped at
/// 60 s), else 250 ms doubling up to 8 s.
pub fn backoff(attempt: u32, retry_after: Option<&str>) -> Duration {
    if let Some(secs) = retry_after.and_then(|v| v.trim().parse::<u64>().ok()) {
        return Duration::from_secs(secs.min(60));
    }
    Duration::from_millis((250u64 << attempt.min(5)).min(8000))
}

/// One line for a transport error, with its causes: reqwest's own `Display` hides them.
pub fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.3.4.5",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "example.com",
            "10.0.0.1:5000",
            "[fe80::1]:5000",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn backoff_honours_retry_after() {
        assert_eq!(backoff(1, Some("3")), Duration::from_secs(3));
        assert_eq!(backoff(1, None), Duration::from_millis(500));
        assert_eq!(backoff(9, None), Duration::from_secs(8));
    }
}
