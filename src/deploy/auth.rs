//! Logging in once the host key is trusted: the key file, then ssh-agent, then a password.

use super::ssh_error::SshError;
use super::target::{SshOptions, Target};
use russh::client;
use russh::keys::PrivateKeyWithHashAlg;
use std::sync::Arc;

/// Tries the key file, then every ssh-agent identity, then the password; the first the
/// server accepts wins.
pub(super) async fn authenticate<H: client::Handler>(
    handle: &mut client::Handle<H>,
    target: &Target,
    options: &SshOptions,
) -> Result<(), SshError> {
    let auth_error = |reason: String| SshError::Auth {
        target: target.name.clone(),
        user: target.user.clone(),
        reason,
    };
    let mut tried = Vec::new();
    if let Some(file) = &options.key_file {
        let key = russh::keys::load_secret_key(
            file,
            options.passphrase.as_ref().map(|p| p.expose().as_str()),
        )
        .map_err(|e| auth_error(format!("cannot load key `{}`: {e}", file.display())))?;
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .map_err(|e| auth_error(e.to_string()))?
            .flatten();
        let result = handle
            .authenticate_publickey(
                &target.user,
                PrivateKeyWithHashAlg::new(Arc::new(key), hash),
            )
            .await
            .map_err(|e| auth_error(e.to_string()))?;
        if result.success() {
            return Ok(());
        }
        tried.push("key");
    }
    // ssh-agent, when SSH_AUTH_SOCK names one: each identity it holds, in order.
    if std::env::var_os("SSH_AUTH_SOCK").is_some()
        && let Ok(mut agent) = russh::keys::agent::client::AgentClient::connect_env().await
    {
        let identities = agent.request_identities().await.unwrap_or_default();
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten();
        for identity in identities {
            let key = identity.public_key().into_owned();
            if let Ok(result) = handle
                .authenticate_publickey_with(&target.user, key, hash, &mut agent)
                .await
                && result.success()
            {
                return Ok(());
            }
        }
        tried.push("ssh-agent");
    }
    if let Some(password) = &options.password {
        let result = handle
            .authenticate_password(&target.user, password.expose().as_str())
            .await
            .map_err(|e| auth_error(e.to_string()))?;
        if result.success() {
            return Ok(());
        }
        tried.push("password");
    }
    Err(auth_error(if tried.is_empty() {
        "no key_file, ssh-agent or password configured".into()
    } else {
        format!("{} refused", tried.join(", "))
    }))
}
