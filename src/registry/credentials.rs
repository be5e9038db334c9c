//! Where registry credentials come from, in order: the command line / environment, then
//! the docker client config (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`):
//! `credHelpers`, `credsStore`, then `auths`. Helpers are the `docker-credential-*`
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
    #[error("reading docker config `{path}`: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// Parser error.
        source: serde_json::Error,
    },
    /// The `auth` field is not base64 of `user:password`.
    #[error("docker config `{0}`: the `auth` entry for `{1}` is not base64 of user:password")]
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
}

/// The docker config file path honouring `DOCKER_CONFIG`.
fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json"))
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
    if let Some(c) = explicit.by_host.get(registry) {
        return Ok(Some(c.clone()));
    }
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let text = match fs_err::read(&path) {
        Ok(t) => t,
        Err(_) => return Ok(None),
    };
    let config: DockerConfig =
        serde_json::from_slice(&text).map_err(|source| CredentialError::Config {
            path: path.clone(),
            source,
        })?;
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
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| CredentialError::BadAuth(path.clone(), registry.into()))?;
        let (u, p) = decoded
            .split_once(':')
            .ok_or_else(|| CredentialError::BadAuth(path.clone(), registry.into()))?;
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
