//! SSH sessions with russh: connect (host key checked by [`super::handler`]), log in
//! ([`super::auth`]), run commands. Every wait has a bound, so a frozen target fails that
//! target instead of hanging the deploy: `connect_timeout` covers connecting and logging in,
//! `command_timeout` each remote command (in the upload, each wait for the target to take
//! the next bytes: a long upload that keeps moving is never cut), and keepalives give up on a
//! connection silent for `idle_timeout`.

use super::auth;
use super::handler::{Checker, KEEPALIVE_MAX};
pub use super::ssh_error::SshError;
pub use super::target::{SshOptions, Target};
use russh::client;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Output of a remote command.
#[derive(Debug, Default)]
pub struct Output {
    /// Exit status (None when the server sent none).
    pub status: Option<u32>,
    /// The signal that ended the command, when one did.
    pub signal: Option<String>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

/// What a remote command reads on its standard input.
pub(super) enum Input<'a> {
    /// A few bytes, sent at once (a password, a short script).
    Bytes(&'a [u8]),
    /// A stream of chunks read on another thread (the upload). Each chunk must be taken
    /// by the channel, and after the last the command must end, within `stall`: a long
    /// transfer that keeps moving is never cut, a target that stops taking bytes is.
    Chunks {
        /// The chunks, in order; an error ends the input and fails the step.
        from: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
        /// The longest wait for one chunk to be taken, or for the command to end.
        stall: Duration,
        /// Counts the bytes taken.
        progress: &'a crate::progress::ItemProgress,
    },
}

/// An authenticated SSH session to one target.
pub struct Session {
    handle: client::Handle<Checker>,
    /// The target.
    pub target: Target,
    options: SshOptions,
    /// Why the connection ended, once it has (see [`Checker`]).
    ended: watch::Receiver<Option<String>>,
}

/// The ciphers offered, best first: AES-GCM (128, which russh supports but does not
/// offer by default, then 256) ahead of ChaCha20-Poly1305, then russh's AES-CTR. All are
/// what OpenSSH offers by default too; the GCM ones are authenticated encryption, and on a
/// CPU with AES instructions (every x86-64 and ARMv8 server of the last decade) they cost
/// both ends several times less per byte than ChaCha20, which is where a tar of many
/// gigabytes shows. A target that offers ChaCha20 alone still agrees on it.
const CIPHERS: &[russh::cipher::Name] = &[
    russh::cipher::AES_128_GCM,
    russh::cipher::AES_256_GCM,
    russh::cipher::CHACHA20_POLY1305,
    russh::cipher::AES_256_CTR,
    russh::cipher::AES_192_CTR,
    russh::cipher::AES_128_CTR,
];

impl SshOptions {
    /// russh's settings, and the silence it gives up after with the key that set it. With
    /// keepalives, one goes out after each quarter of `idle_timeout` without a word from the
    /// target; a live sshd answers each (a reply resets both counts), so only a target that
    /// answers nothing reaches `idle_timeout`. Without them a command may be silent for as
    /// long as it runs, so only `command_timeout` of silence counts as dead.
    fn client_config(&self) -> (client::Config, (Duration, &'static str)) {
        let mut config = client::Config::default();
        let idle = if self.keepalive {
            let every = self.idle_timeout / (KEEPALIVE_MAX as u32 + 1);
            config.keepalive_interval = Some(every.max(Duration::from_secs(1)));
            config.keepalive_max = KEEPALIVE_MAX;
            (self.idle_timeout, "idle_timeout")
        } else {
            config.keepalive_interval = None;
            (self.command_timeout, "command_timeout")
        };
        config.inactivity_timeout = Some(idle.0);
        config.preferred.cipher = std::borrow::Cow::Borrowed(CIPHERS);
        (config, idle)
    }
}

impl Session {
    /// Connects, checks the host key, and authenticates (key, agent, then password), all
    /// within `connect_timeout`.
    pub async fn connect(target: &Target, options: &SshOptions) -> Result<Session, SshError> {
        let refusal = Arc::new(Mutex::new(None));
        let (ended_tx, ended) = watch::channel(None);
        let (config, idle) = options.client_config();
        let checker = Checker {
            target: target.name.clone(),
            host: target.host.clone(),
            port: target.port,
            known_hosts: options.known_hosts.clone(),
            accept_new: options.accept_new_host_keys,
            refusal: refusal.clone(),
            ended: ended_tx,
            idle,
        };
        let attempt = async {
            let connect = client::connect(
                Arc::new(config),
                (target.host.as_str(), target.port),
                checker,
            );
            let mut handle = connect.await.map_err(|e| {
                match refusal.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    Some(r) => r,
                    None => SshError::Connect {
                        target: target.name.clone(),
                        reason: e.to_string(),
                    },
                }
            })?;
            auth::authenticate(&mut handle, target, options).await?;
            Ok(handle)
        };
        let handle = tokio::time::timeout(options.connect_timeout, attempt)
            .await
            .map_err(|_| SshError::Timeout {
                target: target.name.clone(),
                doing: "connecting and logging in".into(),
                after: options.connect_timeout,
                setting: "connect_timeout",
            })??;
        Ok(Session {
            handle,
            target: target.clone(),
            options: options.clone(),
            ended,
        })
    }

    /// Runs `work` (one remote step, `doing`) within `command_timeout`, and stops early when
    /// the connection ends: a channel write waiting for window space on a dead connection
    /// would otherwise wait forever.
    pub(super) async fn bounded<T>(
        &self,
        doing: &str,
        work: impl Future<Output = Result<T, SshError>>,
    ) -> Result<T, SshError> {
        let limit = self.options.command_timeout;
        tokio::select! {
            biased;
            done = tokio::time::timeout(limit, work) => done.map_err(|_| SshError::Timeout {
                target: self.target.name.clone(),
                doing: doing.to_owned(),
                after: limit,
                setting: "command_timeout",
            })?,
            why = self.ended() => Err(self.lost(doing, why)),
        }
    }

    /// The longest a streamed step may go without moving a byte (`command_timeout`).
    pub(super) fn stall_limit(&self) -> Duration {
        self.options.command_timeout
    }

    /// Waits until the connection has ended; says why.
    async fn ended(&self) -> String {
        let mut ended = self.ended.clone();
        let why = match ended.wait_for(Option::is_some).await {
            Ok(why) => why.clone(),
            Err(_) => None,
        };
        why.unwrap_or_else(|| "the connection closed".into())
    }

    /// Why the connection ended, if it has.
    fn gone(&self) -> Option<String> {
        let why = self.ended.borrow().clone();
        why.or_else(|| {
            self.handle
                .is_closed()
                .then(|| "the connection closed".into())
        })
    }

    fn lost(&self, doing: &str, why: String) -> SshError {
        SshError::Lost {
            target: self.target.name.clone(),
            doing: doing.to_owned(),
            why,
        }
    }

    /// A streamed step that moved nothing for `limit`.
    fn stalled(&self, doing: &str, limit: Duration) -> SshError {
        SshError::Timeout {
            target: self.target.name.clone(),
            doing: format!("{doing}, which moved no byte"),
            after: limit,
            setting: "command_timeout",
        }
    }

    /// Runs `command` (with `stdin` fed in, when given) and captures its output, within
    /// the command timeout; `what` names the step in errors.
    pub async fn run(
        &self,
        what: &str,
        command: &str,
        stdin: Option<&[u8]>,
    ) -> Result<Output, SshError> {
        self.bounded(what, self.exchange(what, command, stdin.map(Input::Bytes)))
            .await
    }

    /// Runs `work` (one remote step, `doing`) until it ends or the connection does, with
    /// no bound on its length: for a step whose every wait is bounded on its own (the
    /// upload: see [`Input::Chunks`]).
    pub(super) async fn watched<T>(
        &self,
        doing: &str,
        work: impl Future<Output = Result<T, SshError>>,
    ) -> Result<T, SshError> {
        tokio::select! {
            biased;
            done = work => done,
            why = self.ended() => Err(self.lost(doing, why)),
        }
    }

    /// One exec channel: runs `command`, streams `input` to its stdin, and collects its
    /// exit status and output (lines logged as they arrive, prefixed with the target's
    /// name). Bounded only as [`Input::Chunks`] says: callers wrap it in
    /// [`Session::bounded`] or [`Session::watched`]. A channel that ends without a status
    /// because the connection did is an error naming why.
    pub(super) async fn exchange(
        &self,
        what: &str,
        command: &str,
        input: Option<Input<'_>>,
    ) -> Result<Output, SshError> {
        let fail = |e: russh::Error| match self.gone() {
            Some(why) => self.lost(what, why),
            None => SshError::Channel {
                target: self.target.name.clone(),
                doing: what.to_owned(),
                reason: e.to_string(),
            },
        };
        // A streamed step is not under `bounded`: its channel's opening has a bound of its
        // own, the same as each of its later waits on the target.
        let opening = async {
            let channel = self.handle.channel_open_session().await.map_err(fail)?;
            channel.exec(true, command).await.map_err(fail)?;
            Ok(channel)
        };
        let mut channel = match &input {
            Some(Input::Chunks { stall, .. }) => tokio::time::timeout(*stall, opening)
                .await
                .map_err(|_| self.stalled(what, *stall))??,
            _ => opening.await?,
        };
        // A write that fails (the command exited early, or the channel closed) is not
        // the end: the exit status and stderr that follow say more than the write error.
        let mut stall = None;
        let unsent = match input {
            None => None,
            Some(Input::Bytes(bytes)) => channel
                .data_bytes(bytes::Bytes::copy_from_slice(bytes))
                .await
                .err()
                .map(|e| e.to_string()),
            Some(Input::Chunks {
                mut from,
                stall: limit,
                progress,
            }) => {
                stall = Some(limit);
                let mut unsent = None;
                loop {
                    // The local read and the target's taking are timed apart, so a slow
                    // local disk is never reported as a stalled target.
                    let read = tokio::time::timeout(limit, from.recv())
                        .await
                        .map_err(|_| SshError::Timeout {
                            target: self.target.name.clone(),
                            doing: format!("{what}: reading the local tar, which gave no byte"),
                            after: limit,
                            setting: "command_timeout",
                        })?;
                    let taken = match read {
                        None => Ok(false),
                        Some(Err(e)) => Err(e.to_string()),
                        Some(Ok(chunk)) => {
                            let n = chunk.len() as u64;
                            tokio::time::timeout(limit, channel.data_bytes(chunk))
                                .await
                                .map_err(|_| self.stalled(what, limit))?
                                .map(|()| progress.inc(n))
                                .map(|()| true)
                                .map_err(|e| e.to_string())
                        }
                    };
                    match taken {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => {
                            unsent = Some(e);
                            break;
                        }
                    }
                }
                unsent
            }
        };
        if unsent.is_none() {
            channel.eof().await.map_err(fail)?;
        } else {
            // A local read error: end the input so the command ends, then fail below.
            let _ = channel.eof().await;
        }
        let mut out = Output::default();
        let (mut shown_out, mut shown_err) = (0, 0);
        loop {
            let next = match stall {
                Some(limit) => tokio::time::timeout(limit, channel.wait())
                    .await
                    .map_err(|_| self.stalled(what, limit))?,
                None => channel.wait().await,
            };
            let Some(msg) = next else { break };
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
                russh::ChannelMsg::ExitSignal { signal_name, .. } => {
                    out.signal = Some(format!("{signal_name:?}"));
                }
                _ => {}
            }
        }
        if out.status.is_none()
            && out.signal.is_none()
            && let Some(why) = self.gone()
        {
            return Err(self.lost(what, why));
        }
        // Input not all sent: a failure even when the command exited 0 (it saw an early
        // end); a non-zero exit is left to the caller, whose error shows stderr.
        if let Some(e) = unsent
            && matches!(out.status, Some(0) | None)
        {
            return Err(SshError::Channel {
                target: self.target.name.clone(),
                doing: what.to_owned(),
                reason: format!("sending its input: {e}"),
            });
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
        let out = self.run(what, command, stdin).await?;
        self.require_success(what, out)
    }

    /// Passes `out` through when it exited 0; otherwise the error names the step, the
    /// status and the last lines of stderr.
    pub(super) fn require_success(&self, what: &str, out: Output) -> Result<Output, SshError> {
        if out.status == Some(0) {
            return Ok(out);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        tail.reverse();
        Err(SshError::Command {
            target: self.target.name.clone(),
            what: what.into(),
            status: match (out.status, out.signal) {
                (Some(s), _) => s.to_string(),
                (None, Some(signal)) => format!("signal {signal}"),
                (None, None) => "no status".into(),
            },
            stderr: crate::output::sanitize(&tail.join(" | ")),
        })
    }
}
