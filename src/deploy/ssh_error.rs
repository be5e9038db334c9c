//! Why a target could not be served: one error for connecting, the host key, the login
//! and each remote step, below the session, the handler and the login that return it.

use std::path::PathBuf;
use std::time::Duration;

/// Why a target could not be served.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// TCP or SSH connection failed.
    #[error("cannot connect to `{target}`: {reason}")]
    Connect {
        /// The target.
        target: String,
        /// Why.
        reason: String,
    },
    /// The host key is not in known_hosts.
    #[error("host key of `{target}` is unknown ({fingerprint}); hint: verify it, then add it with `ssh-keyscan -p {port} {host} >> {}`, or set `accept_new_host_keys: true`", known_hosts.display())]
    UnknownHostKey {
        /// The target.
        target: String,
        /// Host.
        host: String,
        /// Port.
        port: u16,
        /// SHA256 fingerprint.
        fingerprint: String,
        /// The file checked.
        known_hosts: PathBuf,
    },
    /// The host key differs from the one recorded.
    #[error("host key of `{target}` CHANGED ({fingerprint}) from the one at `{}` line {line}; refusing (a man-in-the-middle, or a reinstalled host); hint: if the host was reinstalled, remove that line", known_hosts.display())]
    HostKeyChanged {
        /// The target.
        target: String,
        /// SHA256 fingerprint of the key offered.
        fingerprint: String,
        /// The file.
        known_hosts: PathBuf,
        /// Line of the recorded key.
        line: usize,
    },
    /// Authentication failed.
    #[error("`{target}` refused authentication as `{user}`: {reason}")]
    Auth {
        /// The target.
        target: String,
        /// User.
        user: String,
        /// Why.
        reason: String,
    },
    /// A remote command failed.
    #[error("on `{target}`: `{what}` exited with {status}: {stderr}")]
    Command {
        /// The target.
        target: String,
        /// Which step.
        what: String,
        /// Exit status.
        status: String,
        /// Tail of stderr.
        stderr: String,
    },
    /// A timeout fired: names the step and the setting that bounds it.
    #[error("on `{target}`: gave up on {doing} after {}s (`{setting}`)", after.as_secs())]
    Timeout {
        /// The target.
        target: String,
        /// What it was doing.
        doing: String,
        /// How long it waited.
        after: Duration,
        /// The config key that set the limit.
        setting: &'static str,
    },
    /// The connection ended while a step was under way.
    #[error("on `{target}`: connection lost during {doing}: {why}")]
    Lost {
        /// The target.
        target: String,
        /// What it was doing.
        doing: String,
        /// Why it ended, with the timeout that fired, if one did.
        why: String,
    },
    /// The channel of a step failed while the connection stayed up.
    #[error("on `{target}`: {doing} failed: {reason}")]
    Channel {
        /// The target.
        target: String,
        /// What it was doing.
        doing: String,
        /// Why.
        reason: String,
    },
    /// A local file could not be read.
    #[error("reading `{0}`: {1}")]
    Local(PathBuf, std::io::Error),
}
