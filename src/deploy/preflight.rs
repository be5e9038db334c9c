//! Every target asked before the long work: connect (host key), log in, the room in the
//! remote tar's folder (`df -Pk`), and that the plugin's command is there (`command -v`).
//! A deploy that would pull or unpack for an hour and then meet an unknown host key or a
//! refused login learns it in seconds instead, for every target in one pass. The room is
//! compared later, once the tar's size is known ([`Checked::room_for`]): measuring needs
//! only the connection, so no target is contacted twice before the deploy.

use super::command::quote;
use super::plan::DeployPlan;
use super::ssh::Session;
use super::ssh_error::SshError;
use super::target::Target;
use crate::output::bytes;
use futures_util::StreamExt;

/// What the checks found on one target.
pub struct Checked {
    /// The target's label.
    pub target: String,
    /// Why it cannot be deployed to, when it cannot.
    pub failure: Option<String>,
    /// Bytes free in the remote tar's folder, and that folder, when measured.
    pub room: Option<(u64, String)>,
}

impl Checked {
    /// The failure, when the tar (`tar_bytes`) does not fit the room measured.
    pub fn room_for(&self, tar_bytes: u64) -> Option<String> {
        let (free, dir) = self.room.as_ref()?;
        (tar_bytes > *free).then(|| {
            format!(
                "`{}`: the tar needs {}, {} free in `{dir}`; hint: free space there, or set `remote_tar_path` to a larger file system",
                self.target,
                bytes(tar_bytes),
                bytes(*free)
            )
        })
    }
}

/// The folder a remote file lands in, as the remote shell names it.
fn remote_dir(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) => "/".into(),
        Some((dir, _)) => dir.into(),
        None => ".".into(),
    }
}

impl DeployPlan {
    /// Checks every target, `parallel` at a time; one result per target, in order.
    pub async fn check_targets(&self, parallel: usize) -> Vec<Checked> {
        futures_util::stream::iter(self.targets.iter().map(|t| async move {
            let started = std::time::Instant::now();
            let (failure, room) = match self.check_one(t).await {
                Ok(room) => (None, room),
                Err(e) => (Some(e), None),
            };
            match &failure {
                None => tracing::debug!(
                    "target check: `{}` ready (host key, login, {}{}) in {:.1}s",
                    t.name,
                    room.as_ref()
                        .map(|(f, d)| format!("{} free in `{d}`", bytes(*f)))
                        .unwrap_or_else(|| "free space not measured".into()),
                    self.plugin
                        .as_ref()
                        .and_then(|p| p.program())
                        .map(|p| format!(", `{p}` found"))
                        .unwrap_or_default(),
                    started.elapsed().as_secs_f64()
                ),
                Some(why) => tracing::debug!("target check: {why}"),
            }
            Checked {
                target: t.name.clone(),
                failure,
                room,
            }
        }))
        .buffered(parallel.max(1))
        .collect()
        .await
    }

    async fn check_one(&self, t: &Target) -> Result<Option<(u64, String)>, String> {
        let session = Session::connect(t, &self.ssh)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(program) = self.plugin.as_ref().and_then(|p| p.program()) {
            let out = session
                .run(
                    &format!("looking for `{program}`"),
                    &format!("command -v -- {}", quote(&program)),
                    None,
                )
                .await
                .map_err(|e| e.to_string())?;
            if out.status != Some(0) {
                return Err(format!(
                    "`{}`: `{program}` is not found there (`command -v {program}` failed as `{}`); hint: install it, or name its path in `post_instructions.options`",
                    t.name, t.user
                ));
            }
        }
        let dir = remote_dir(&self.remote_path(t));
        // The folder may not exist yet (the upload makes it): measure its nearest parent.
        let script = format!(
            "d={}; while [ ! -d \"$d\" ]; do d=$(dirname -- \"$d\"); done; df -Pk -- \"$d\" | tail -n 1",
            quote(&dir)
        );
        let out = session
            .run(&format!("measuring the room in {dir}"), &script, None)
            .await;
        Ok(match out {
            Ok(out) if out.status == Some(0) => String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .nth(3)
                .and_then(|k| k.parse::<u64>().ok())
                .map(|k| (k * 1024, dir)),
            // A target without `df` is not refused for it: the upload will say.
            Ok(_) | Err(SshError::Command { .. }) => None,
            Err(e) => return Err(e.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_and_room() {
        assert_eq!(remote_dir("/tmp/images.tar"), "/tmp");
        assert_eq!(remote_dir("/images.tar"), "/");
        assert_eq!(remote_dir("images.tar"), ".");
        let c = Checked {
            target: "t".into(),
            failure: None,
            room: Some((1 << 20, "/tmp".into())),
        };
        assert!(c.room_for(1 << 19).is_none());
        let e = c.room_for(2 << 20).expect("refused");
        assert!(e.contains("needs 2.0 MiB, 1.0 MiB free in `/tmp`"), "{e}");
    }
}
