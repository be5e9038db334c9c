//! The russh client handler for one connection. Host keys fail closed: a key is accepted
//! only when known_hosts lists it (hashed entries included); an unknown host is refused
//! unless `accept_new_host_keys` (then learned), and a changed key is always refused. Each
//! refusal shows the fingerprint and how to accept it. The handler also records why the
//! connection ended, so a command waiting on a dead connection can stop and say why
//! (russh's own channel writes wait forever for window space a dead peer never grants).

use super::ssh_error::SshError;
use russh::client;
use russh::keys::HashAlg;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Keepalives sent without any answer before the connection is given up on.
pub(super) const KEEPALIVE_MAX: usize = 3;

pub(super) struct Checker {
    pub(super) target: String,
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) known_hosts: PathBuf,
    pub(super) accept_new: bool,
    pub(super) refusal: Arc<Mutex<Option<SshError>>>,
    /// Why the connection ended, once it has. Dropped with the handler when the session
    /// task ends, which receivers also see as an end.
    pub(super) ended: watch::Sender<Option<String>>,
    /// The silence that counts as a dead target, and the setting it comes from, for the
    /// message when russh gives up on it.
    pub(super) idle: (std::time::Duration, &'static str),
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some(SshError::Connect { target: self.target.clone(), reason: "host offered a certificate; outrider checks plain host keys against known_hosts".into() });
            return Ok(false);
        };
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let refuse = |e: SshError| {
            *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
            Ok(false)
        };
        let known = if self.known_hosts.exists() {
            russh::keys::check_known_hosts_path(&self.host, self.port, key, &self.known_hosts)
        } else {
            Ok(false)
        };
        match known {
            Ok(true) => Ok(true),
            Err(russh::keys::Error::KeyChanged { line }) => refuse(SshError::HostKeyChanged {
                target: self.target.clone(),
                fingerprint,
                known_hosts: self.known_hosts.clone(),
                line,
            }),
            Ok(false) if self.accept_new => {
                if let Some(dir) = self.known_hosts.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                match russh::keys::known_hosts::learn_known_hosts_path(
                    &self.host,
                    self.port,
                    key,
                    &self.known_hosts,
                ) {
                    Ok(()) => {
                        tracing::warn!(target = %self.target, %fingerprint, "learned a new host key");
                        Ok(true)
                    }
                    Err(e) => refuse(SshError::Connect {
                        target: self.target.clone(),
                        reason: format!(
                            "cannot record the host key in `{}`: {e}",
                            self.known_hosts.display()
                        ),
                    }),
                }
            }
            Ok(false) => refuse(SshError::UnknownHostKey {
                target: self.target.clone(),
                host: self.host.clone(),
                port: self.port,
                fingerprint,
                known_hosts: self.known_hosts.clone(),
            }),
            Err(e) => refuse(SshError::Connect {
                target: self.target.clone(),
                reason: format!("reading `{}`: {e}", self.known_hosts.display()),
            }),
        }
    }

    /// Records why the connection ended, naming the timeout when one fired.
    async fn disconnected(
        &mut self,
        reason: client::DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        let (idle, setting) = self.idle;
        let why = match &reason {
            client::DisconnectReason::ReceivedDisconnect(_) => {
                "the target closed the connection".to_owned()
            }
            client::DisconnectReason::Error(russh::Error::KeepaliveTimeout) => format!(
                "the target answered none of {KEEPALIVE_MAX} keepalives within {}s (`{setting}`)",
                idle.as_secs()
            ),
            client::DisconnectReason::Error(russh::Error::InactivityTimeout) => format!(
                "nothing came from the target for {}s (`{setting}`)",
                idle.as_secs()
            ),
            client::DisconnectReason::Error(e) => format!("the connection failed: {e}"),
        };
        self.ended.send_replace(Some(why));
        match reason {
            client::DisconnectReason::ReceivedDisconnect(_) => Ok(()),
            client::DisconnectReason::Error(e) => Err(e),
        }
    }
}
