//! SSH to a target with russh. Host keys fail closed: a key is accepted only when
//! known_hosts lists it (hashed entries included); an unknown host is refused unless
//! `accept_new_host_keys` (then learned), and a changed key is always refused. Each
//! refusal shows the fingerprint and how to accept it.

use super::command::quote;
use crate::secret::Secret;
use russh::client;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
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
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Timeout for each remote command.
    pub command_timeout: Duration,
    /// Send keepalives every 15 s.
    pub keepalive: bool,
}

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
    /// A local file could not be read.
    #[error("reading `{0}`: {1}")]
    Local(PathBuf, std::io::Error),
}

struct Checker {
    target: String,
    host: String,
    port: u16,
    known_hosts: PathBuf,
    accept_new: bool,
    refusal: Arc<Mutex<Option<SshError>>>,
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
}

/// Output of a remote command.
#[derive(Debug, Default)]
pub struct Output {
    /// Exit status (None when the server sent none).
    pub status: Option<u32>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

/// An authenticated SSH session to one target.
pub struct Session {
    handle: client::Handle<Checker>,
    /// The target.
    pub target: Target,
    options: SshOptions,
}

impl Session {
    /// Connects, checks the host key, and authenticates (key, then password).
    pub async fn connect(target: &Target, options: &SshOptions) -> Result<Session, SshError> {
        let refusal = Arc::new(Mutex::new(None));
        let checker = Checker {
            target: target.name.clone(),
            host: target.host.clone(),
            port: target.port,
            known_hosts: options.known_hosts.clone(),
            accept_new: options.accept_new_host_keys,
            refusal: refusal.clone(),
        };
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(options.command_timeout),
            keepalive_interval: Some(Duration::from_secs(15)),
            ..Default::default()
        });
        let connect = client::connect(config, (target.host.as_str(), target.port), checker);
        let connected = tokio::time::timeout(options.connect_timeout, connect).await;
        let mut handle = match connected {
            Err(_) => {
                return Err(SshError::Connect {
                    target: target.name.clone(),
                    reason: format!("no answer within {:?}", options.connect_timeout),
                });
            }
            Ok(Err(e)) => {
                if let Some(r) = refusal.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    return Err(r);
                }
                return Err(SshError::Connect {
                    target: target.name.clone(),
                    reason: e.to_string(),
                });
            }
            Ok(Ok(h)) => h,
        };
        authenticate(&mut handle, target, options).await?;
        Ok(Session {
            handle,
            target: target.clone(),
            options: options.clone(),
        })
    }

    /// Runs `command` (with `stdin` fed in, when given) and captures its output, within
    /// the command timeout.
    pub async fn run(&self, command: &str, stdin: Option<&[u8]>) -> Result<Output, SshError> {
        tokio::time::timeout(self.options.command_timeout, self.exchange(command, stdin))
            .await
            .map_err(|_| SshError::Connect {
                target: self.target.name.clone(),
                reason: format!("a command ran past {:?}", self.options.command_timeout),
            })?
    }

    /// One exec channel: runs `command`, streams `input` to its stdin, and collects its
    /// exit status and output (lines logged as they arrive, prefixed with the target's
    /// name). No timeout of its own: `run` adds the command timeout; an upload is bounded
    /// by the connection's inactivity timeout instead.
    async fn exchange<R: tokio::io::AsyncRead + Unpin>(
        &self,
        command: &str,
        input: Option<R>,
    ) -> Result<Output, SshError> {
        let fail = |e: russh::Error| SshError::Connect {
            target: self.target.name.clone(),
            reason: e.to_string(),
        };
        let mut channel = self.handle.channel_open_session().await.map_err(fail)?;
        channel.exec(true, command).await.map_err(fail)?;
        if let Some(input) = input {
            channel.data(input).await.map_err(fail)?;
        }
        channel.eof().await.map_err(fail)?;
        let mut out = Output::default();
        let (mut shown_out, mut shown_err) = (0, 0);
        while let Some(msg) = channel.wait().await {
            match msg {
                russh::ChannelMsg::Data { data } => {
                    out.stdout.extend_from_slice(&data);
                    shown_out = self.show_lines(&out.stdout, shown_out);
                }
                russh::ChannelMsg::ExtendedData { data, .. } => {
                    out.stderr.extend_from_slice(&data);
                    shown_err = self.show_lines(&out.stderr, shown_err);
                }
                russh::ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Logs the complete lines of `buffer` after byte `from`; returns where it stopped.
    fn show_lines(&self, buffer: &[u8], from: usize) -> usize {
        let Some(end) = buffer[from..]
            .iter()
            .rposition(|b| *b == b'\n')
            .map(|i| from + i + 1)
        else {
            return from;
        };
        for line in String::from_utf8_lossy(&buffer[from..end]).lines() {
            tracing::info!("{}: {}", self.target.name, crate::output::sanitize(line));
        }
        end
    }

    /// Runs `command` and fails unless it exits 0; `what` names the step in errors.
    pub async fn check(
        &self,
        what: &str,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<Output, SshError> {
        let out = self.run(command, stdin).await?;
        self.require_success(what, out)
    }

    /// Passes `out` through when it exited 0; otherwise the error names the step, the
    /// status and the last lines of stderr.
    fn require_success(&self, what: &str, out: Output) -> Result<Output, SshError> {
        if out.status == Some(0) {
            return Ok(out);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        tail.reverse();
        Err(SshError::Command {
            target: self.target.name.clone(),
            what: what.into(),
            status: out.status.map_or("no status".into(), |s| s.to_string()),
            stderr: crate::output::sanitize(&tail.join(" | ")),
        })
    }

    /// sha256 of a remote file, if it exists.
    pub async fn remote_sha256(&self, path: &str) -> Result<Option<String>, SshError> {
        let out = self
            .run(&format!("sha256sum {} 2>/dev/null", quote(path)), None)
            .await?;
        Ok((out.status == Some(0)).then(|| {
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_owned()
        }))
    }

    /// Streams `file` to `remote` over an exec channel (`cat` into `<remote>.partial`, then
    /// `mv`), and checks its sha256 on the target against `sha256`.
    pub async fn upload(
        &self,
        file: &Path,
        remote: &str,
        sha256: &str,
        progress: &crate::progress::ItemProgress,
    ) -> Result<(), SshError> {
        let partial = format!("{remote}.partial");
        let dir = Path::new(remote)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| ".".into());
        let command = format!(
            "mkdir -p {d} && cat > {p} && mv -f {p} {r}",
            d = quote(&dir),
            p = quote(&partial),
            r = quote(remote)
        );
        let local = tokio::fs::File::open(file)
            .await
            .map_err(|e| SshError::Local(file.to_owned(), e))?;
        let out = self
            .exchange(
                &command,
                Some(Counted {
                    inner: local,
                    progress,
                }),
            )
            .await?;
        self.require_success(&format!("upload to {remote}"), out)?;
        match self.remote_sha256(remote).await? {
            Some(s) if s == sha256 => Ok(()),
            other => Err(SshError::Command {
                target: self.target.name.clone(),
                what: format!("sha256 check of {remote}"),
                status: "mismatch".into(),
                stderr: format!(
                    "expected {sha256}, target has {}",
                    other.unwrap_or_else(|| "no file".into())
                ),
            }),
        }
    }
}

/// Tries the key file, then every ssh-agent identity, then the password; the first the
/// server accepts wins.
async fn authenticate(
    handle: &mut client::Handle<Checker>,
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

/// Counts bytes read for the progress bar.
struct Counted<'a, R> {
    inner: R,
    progress: &'a crate::progress::ItemProgress,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counted<'_, R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.progress.inc(n as u64);
        poll
    }
}
