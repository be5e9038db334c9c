//! The deploy itself: the targets, transport and plugin read from a validated config
//! ([`DeployPlan::from_config`]), the plan as text, and the run over every target in
//! parallel (connect, upload unless the same bytes are there, the plugin's steps).

use super::plugins;
use super::ssh::Session;
use super::ssh_error::SshError;
use super::target::{SshOptions, Target};
use crate::progress::Progress;
use crate::secret::Secret;
use futures_util::StreamExt;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Everything a deploy needs, from a validated config.
pub struct DeployPlan {
    /// Targets.
    pub targets: Vec<Target>,
    /// SSH settings.
    pub ssh: SshOptions,
    /// Remote tar path template (`{host}`, `{port}`, `{user}`).
    pub remote_tar_path: String,
    /// The plugin, if any.
    pub plugin: Option<Box<dyn plugins::Plugin>>,
}

/// Outcome for one target.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetReport {
    /// The target.
    pub target: String,
    /// Bytes uploaded (0 when skipped).
    pub bytes: u64,
    /// Seconds spent.
    pub seconds: f64,
    /// `ok: …` or the error.
    pub result: String,
    /// Whether it worked.
    pub ok: bool,
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// The key's passphrase, asked once before any target is contacted: from the environment
/// variable `passphrase_env` names, else from a prompt (no echo) when there is a terminal.
/// An unencrypted key needs none.
fn passphrase(key: Option<&Path>, env: Option<&str>) -> Result<Option<Secret<String>>, String> {
    if let Some(var) = env {
        return std::env::var(var)
            .map(|p| Some(Secret::new(p)))
            .map_err(|_| format!("`passphrase_env` names `{var}`, which is not set"));
    }
    let Some(key) = key else { return Ok(None) };
    match russh::keys::load_secret_key(key, None) {
        Err(russh::keys::Error::KeyIsEncrypted) => {
            if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                return Err(format!(
                    "key `{}` is encrypted; set `passphrase_env` to a variable holding its passphrase",
                    key.display()
                ));
            }
            rpassword::prompt_password(format!("passphrase for `{}`: ", key.display()))
                .map(|p| Some(Secret::new(p)))
                .map_err(|e| format!("reading the passphrase: {e}"))
        }
        _ => Ok(None),
    }
}

impl DeployPlan {
    /// Reads targets, transport and plugin from a validated config document.
    pub fn from_config(doc: &Value, base: &Path) -> Result<DeployPlan, String> {
        let targets: Vec<Target> = doc
            .get("targets")
            .and_then(Value::as_array)
            .ok_or("the config has no `targets`")?
            .iter()
            .map(|t| {
                let host = t
                    .get("host")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let port = t.get("port").and_then(Value::as_u64).unwrap_or(22) as u16;
                let user = t
                    .get("user")
                    .and_then(Value::as_str)
                    .unwrap_or("root")
                    .to_owned();
                let name = t
                    .get("name")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("{user}@{host}:{port}"), str::to_owned);
                Target {
                    host,
                    port,
                    user,
                    name,
                }
            })
            .collect();
        if targets.is_empty() {
            return Err("the config lists no targets".into());
        }
        let o = doc
            .pointer("/transport/options")
            .cloned()
            .unwrap_or(Value::Null);
        let file = |key: &str| {
            o.get(key).and_then(Value::as_str).map(|p| {
                let p = expand_home(p);
                if p.is_absolute() { p } else { base.join(p) }
            })
        };
        let passphrase = passphrase(
            file("key_file").as_deref(),
            o.get("passphrase_env").and_then(Value::as_str),
        )?;
        let ssh = SshOptions {
            key_file: file("key_file"),
            passphrase,
            password: o
                .get("password")
                .and_then(Value::as_str)
                .map(|p| Secret::new(p.to_owned())),
            known_hosts: file("known_hosts").unwrap_or_else(|| expand_home("~/.ssh/known_hosts")),
            accept_new_host_keys: o
                .get("accept_new_host_keys")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            connect_timeout: Duration::from_secs(
                o.get("connect_timeout")
                    .and_then(Value::as_u64)
                    .unwrap_or(15),
            ),
            command_timeout: Duration::from_secs(
                o.get("command_timeout")
                    .and_then(Value::as_u64)
                    .unwrap_or(3600),
            ),
            idle_timeout: Duration::from_secs(
                o.get("idle_timeout").and_then(Value::as_u64).unwrap_or(60),
            ),
            keepalive: o.get("keepalive").and_then(Value::as_bool).unwrap_or(true),
        };
        let remote_tar_path = doc
            .get("remote_tar_path")
            .and_then(Value::as_str)
            .unwrap_or("/tmp/images.tar")
            .to_owned();
        let plugin = doc.get("post_instructions").and_then(plugins::from_config);
        Ok(DeployPlan {
            targets,
            ssh,
            remote_tar_path,
            plugin,
        })
    }

    /// The remote tar path for `t`, placeholders filled in. A relative path beginning with
    /// `-` gets `./` in front: the same file, but no remote tool (`docker load -i`, `ctr
    /// images import`, a `generic_ssh` command) can read it as an option, whether or not
    /// it takes `--`.
    pub(super) fn remote_path(&self, t: &Target) -> String {
        let path = self
            .remote_tar_path
            .replace("{host}", &t.host)
            .replace("{port}", &t.port.to_string())
            .replace("{user}", &t.user);
        if path.starts_with('-') {
            format!("./{path}")
        } else {
            path
        }
    }

    /// The plan, per target, as text; touches nothing.
    pub fn describe(&self, tar_bytes: &str, images: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.targets {
            let remote = self.remote_path(t);
            out.push(format!(
                "{}: upload {tar_bytes} to {remote} (skipped if the same sha256 is there), then:",
                t.name
            ));
            match &self.plugin {
                None => out.push("    (no post_instructions)".into()),
                Some(p) => {
                    for s in p.steps(&remote, images) {
                        let stdin = if s.stdin.is_some() {
                            " (password on stdin)"
                        } else {
                            ""
                        };
                        out.push(format!(
                            "    [{}] {}{stdin}",
                            p.name(),
                            s.command.replace('\n', "; ")
                        ));
                    }
                }
            }
        }
        out
    }

    /// Deploys `tar` (whose POSIX `cksum` was `written` when it was made) to every target,
    /// `parallel` at a time; a target with a failure in `skip` (by position) is reported
    /// with it, not contacted.
    pub async fn run(
        &self,
        tar: &Path,
        written: crate::cksum::Sum,
        images: &[String],
        parallel: usize,
        progress: &Progress,
        skip: &[Option<String>],
    ) -> Vec<TargetReport> {
        // The tar's sha256, computed once and only if a target holds a file of its size.
        let sha256 = tokio::sync::OnceCell::new();
        let sha256 = &sha256;
        futures_util::stream::iter(self.targets.iter().enumerate().map(|(i, t)| async move {
            let started = Instant::now();
            let outcome = match skip.get(i).cloned().flatten() {
                Some(why) => Err(why),
                None => self
                    .one(t, tar, (written, sha256), images, progress)
                    .await
                    .map_err(|e| e.to_string()),
            };
            let (ok, result, bytes) = match outcome {
                Ok((summary, bytes)) => (true, format!("ok: {summary}"), bytes),
                Err(e) => (false, e, 0),
            };
            TargetReport {
                target: t.name.clone(),
                bytes,
                seconds: started.elapsed().as_secs_f64(),
                result,
                ok,
            }
        }))
        .buffered(parallel.max(1))
        .collect()
        .await
    }

    async fn one(
        &self,
        t: &Target,
        tar: &Path,
        (written, sha256): (crate::cksum::Sum, &tokio::sync::OnceCell<String>),
        images: &[String],
        progress: &Progress,
    ) -> Result<(String, u64), SshError> {
        let session = Session::connect(t, &self.ssh).await?;
        let remote = self.remote_path(t);
        let item = progress.item(&t.name, written.bytes);
        let local = async {
            sha256
                .get_or_try_init(|| super::upload::sha256_of(tar.to_owned()))
                .await
                .cloned()
        };
        let bytes = if session.already_holds(&remote, written.bytes, local).await? {
            item.done("already there");
            0
        } else {
            let sent = session.upload(tar, &remote, written, &item).await;
            item.done(if sent.is_ok() { "uploaded" } else { "failed" });
            sent?
        };
        let Some(plugin) = &self.plugin else {
            return Ok(("uploaded".into(), bytes));
        };
        let mut stdout = String::new();
        for step in plugin.steps(&remote, images) {
            tracing::debug!(target = %t.name, step = %step.what, command = ?step.command, "running");
            let out = session
                .check(
                    &step.what,
                    &step.command,
                    step.stdin.as_ref().map(|s| s.expose().as_bytes()),
                )
                .await?;
            let text = String::from_utf8_lossy(&out.stdout);
            stdout.push_str(&text);
        }
        Ok((plugin.summary(&stdout), bytes))
    }
}
