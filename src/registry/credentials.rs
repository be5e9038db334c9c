//! Where registry credentials come from, in order: the command line / environment; then
//! an auth file named with `--authfile` or `REGISTRY_AUTH_FILE` (only that file, as podman
//! does); else the docker client config (`$DOCKER_CONFIG/config.json` or
//! `~/.docker/config.json`), then podman's and skopeo's `auth.json`
//! (`$XDG_RUNTIME_DIR/containers/auth.json`, `~/.config/containers/auth.json`). In each
//! file: `credHelpers`, `credsStore`, then `auths`. Helpers are the `docker-credential-*`
//! programs, run with the registry host on stdin.

use crate::secret::Secret;
use base64::Engine as _;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;

/// Credentials for one registry.
#[derive(Clone, Debug)]
pub enum Credential {
    /// Username and password (or a personal access token used as one).
    Basic {
        /// User name.
        username: String,
        /// Password or token.
        password: Secret<String>,
    },
    /// An OAuth2 refresh token (`identitytoken` in the docker config).
    IdentityToken(Secret<String>),
}

/// Why credentials could not be read. A missing config file is not an error.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The config file exists but does not parse.
    #[error("reading credentials file `{path}`: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Parser error.
        source: serde_json::Error,
    },
    /// The auth file named with `--authfile` or `REGISTRY_AUTH_FILE` cannot be read.
    #[error("auth file `{path}` (from --authfile or REGISTRY_AUTH_FILE): {source}")]
    AuthFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The `auth` field is not base64 of `user:password`.
    #[error("credentials file `{0}`: the `auth` entry for `{1}` is not base64 of user:password")]
    BadAuth(PathBuf, String),
    /// A credential helper failed.
    #[error("credential helper `docker-credential-{helper}` for `{registry}` failed: {reason}")]
    Helper {
        /// Helper suffix.
        helper: String,
        /// Registry asked for.
        registry: String,
        /// What went wrong (never the secret).
        reason: String,
    },
}

#[derive(Deserialize, Default)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// Explicit credentials from flags or environment, and the hosts they apply to.
#[derive(Clone, Debug, Default)]
pub struct ExplicitCredentials {
    /// Registry host → credential.
    pub by_host: HashMap<String, Credential>,
    /// `--authfile` / `REGISTRY_AUTH_FILE`: the one auth file to read.
    pub auth_file: Option<PathBuf>,
}

/// The files credentials are looked up in, in order. An explicit auth file is the only
/// one; otherwise docker's config comes first (honouring `DOCKER_CONFIG`), then podman's
/// per-session and per-user `auth.json`.
fn auth_files(explicit: &ExplicitCredentials) -> Vec<PathBuf> {
    if let Some(f) = &explicit.auth_file {
        return vec![f.clone()];
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut files = Vec::new();
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => files.push(PathBuf::from(dir).join("config.json")),
        None => files.extend(home.as_ref().map(|h| h.join(".docker/config.json"))),
    }
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR") {
        files.push(PathBuf::from(run).join("containers/auth.json"));
    }
    files.extend(home.map(|h| h.join(".config/containers/auth.json")));
    files
}

/// The keys the docker config may use for `registry` (Docker Hub has a legacy URL key).
fn config_keys(registry: &str) -> Vec<String> {
    if registry == "docker.io" {
        vec![
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "docker.io".into(),
            "registry-1.docker.io".into(),
        ]
    } else {
        vec![
            registry.into(),
            format!("https://{registry}"),
            format!("http://{registry}"),
        ]
    }
}

/// Finds credentials for `registry` (a reference's registry, e.g. `docker.io`).
pub async fn lookup(
    registry: &str,
    explicit: &ExplicitCredentials,
) -> Result<Option<Credential>, CredentialError> {
    match given(registry, explicit) {
        Some(c) => Ok(Some(c)),
        None => in_files(registry, explicit).await,
    }
}

/// Credentials for `registry` read through `mirror`. The mirror is the registry the user
/// configured it for, so it gets that registry's credentials; its own, when the user gave
/// some (`--auth-for MIRROR`, `docker login MIRROR`), come first. Given ones before files:
/// the mirror's, the registry's, then the files' for the mirror, for the registry.
pub async fn lookup_mirrored(
    registry: &str,
    mirror: &str,
    explicit: &ExplicitCredentials,
) -> Result<Option<Credential>, CredentialError> {
    if let Some(c) = given(mirror, explicit).or_else(|| given(registry, explicit)) {
        return Ok(Some(c));
    }
    match in_files(mirror, explicit).await? {
        Some(c) => Ok(Some(c)),
        None => in_files(registry, explicit).await,
    }
}

/// Credentials given on the command line or in a config for `registry`.
fn given(registry: &str, explicit: &ExplicitCredentials) -> Option<Credential> {
    explicit
        .by_host
        .iter()
        .find(|(host, _)| super::http::same_host(host, registry, 443))
        .map(|(_, c)| c.clone())
}

/// Credentials for `registry` in the login files, the first that holds some.
async fn in_files(
    registry: &str,
    explicit: &ExplicitCredentials,
) -> Result<Option<Credential>, CredentialError> {
    for path in auth_files(explicit) {
        let text = match fs_err::read(&path) {
            Ok(t) => t,
            // A file named explicitly must be there; the usual places may well not be.
            Err(e) if explicit.auth_file.is_some() => {
                return Err(CredentialError::AuthFile { path, source: e });
            }
            Err(_) => continue,
        };
        let config: DockerConfig =
            serde_json::from_slice(&text).map_err(|source| CredentialError::Config {
                path: path.clone(),
                source,
            })?;
        if let Some(found) = lookup_in(&config, &path, registry).await? {
            tracing::debug!(%registry, file = %path.display(), "credentials found");
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Credentials for `registry` in one docker-config-shaped file.
async fn lookup_in(
    config: &DockerConfig,
    path: &std::path::Path,
    registry: &str,
) -> Result<Option<Credential>, CredentialError> {
    let keys = config_keys(registry);
    let normalise = |k: &str| {
        k.trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    };
    let helper = keys
        .iter()
        .find_map(|k| {
            config
                .cred_helpers
                .get(k)
                .or_else(|| config.cred_helpers.get(&normalise(k)))
        })
        .or(config.creds_store.as_ref());
    if let Some(helper) = helper
        && let Some(c) = run_helper(helper, &keys[0], registry).await?
    {
        return Ok(Some(c));
    }
    let entry = keys.iter().find_map(|k| config.auths.get(k)).or_else(|| {
        config
            .auths
            .iter()
            .find(|(k, _)| normalise(k) == normalise(&keys[0]) || normalise(k) == registry)
            .map(|(_, v)| v)
    });
    let Some(entry) = entry else { return Ok(None) };
    if let Some(token) = &entry.identitytoken
        && !token.is_empty()
    {
        return Ok(Some(Credential::IdentityToken(Secret::new(token.clone()))));
    }
    if let Some(auth) = &entry.auth
        && !auth.is_empty()
    {
        let bad = || CredentialError::BadAuth(path.to_owned(), registry.into());
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let (u, p) = decoded.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credential::Basic {
            username: u.into(),
            password: Secret::new(p.into()),
        }));
    }
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Ok(Some(Credential::Basic {
            username: u.clone(),
            password: Secret::new(p.clone()),
        }));
    }
    Ok(None)
}

async fn run_helper(
    helper: &str,
    server: &str,
    registry: &str,
) -> Result<Option<Credential>, CredentialError> {
    use tokio::io::AsyncWriteExt;
    let fail = |reason: String| CredentialError::Helper {
        helper: helper.into(),
        registry: registry.into(),
        reason,
    };
    let mut child = tokio::process::Command::new(format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .await
            .map_err(|e| fail(e.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        // Helpers answer "credentials not found in native keychain" when they have none.
        if msg.to_lowercase().contains("not found") {
            return Ok(None);
        }
        return Err(fail(format!(
            "exit status {}: {}",
            out.status,
            crate::output::sanitize(&msg)
        )));
    }
    let reply: HelperReply =
        serde_json::from_slice(&out.stdout).map_err(|e| fail(format!("unreadable reply: {e}")))?;
    if reply.username == "<token>" {
        return Ok(Some(Credential::IdentityToken(Secret::new(reply.secret))));
    }
    Ok(Some(Credential::Basic {
        username: reply.username,
        password: Secret::new(reply.secret),
    }))
}
