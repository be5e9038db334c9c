//! A host to deploy to and how to reach it, as the config says: the values the SSH
//! session, the host-key handler and the login all read, kept below all three.

use crate::secret::Secret;
use std::path::PathBuf;
use std::time::Duration;

/// A host to deploy to.
#[derive(Clone, Debug)]
pub struct Target {
    /// Host name or address.
    pub host: String,
    /// SSH port.
    pub port: u16,
    /// Login user.
    pub user: String,
    /// Label in output (`user@host:port` by default).
    pub name: String,
}

/// How to authenticate and what to trust.
#[derive(Clone, Debug)]
pub struct SshOptions {
    /// Private key file.
    pub key_file: Option<PathBuf>,
    /// Passphrase for the key.
    pub passphrase: Option<Secret<String>>,
    /// Password, for password auth.
    pub password: Option<Secret<String>>,
    /// known_hosts file.
    pub known_hosts: PathBuf,
    /// Learn unknown host keys instead of refusing them.
    pub accept_new_host_keys: bool,
    /// Bounds connecting, the handshake and logging in.
    pub connect_timeout: Duration,
    /// Bounds each remote command, the upload's included.
    pub command_timeout: Duration,
    /// Silence after which a target counts as dead (with `keepalive`, which makes a live
    /// target answer within it).
    pub idle_timeout: Duration,
    /// Probe the target with keepalives, so a frozen one is given up on after
    /// `idle_timeout` while a healthy command that prints nothing runs on.
    pub keepalive: bool,
}
