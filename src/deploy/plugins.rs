//! Post-instruction plugins, registered by name. Each turns its options into remote steps
//! (commands, with an optional secret fed on stdin); the orchestrator runs them in order
//! and stops at the first that fails. The tar path they get never begins with `-` (see
//! `DeployPlan::remote_path`), and the POSIX tools they run get `--` before operands too.

use super::command::quote;
use crate::secret::Secret;
use serde_json::Value;

/// One remote command of a plugin.
pub struct Step {
    /// What it does, for messages.
    pub what: String,
    /// The shell command.
    pub command: String,
    /// Fed on stdin (a sudo password), never in argv or logs.
    pub stdin: Option<Secret<String>>,
}

/// A post-instruction plugin.
pub trait Plugin: Send + Sync {
    /// Its registered name.
    fn name(&self) -> &'static str;
    /// The steps for a tar at `tar_path` holding `images`.
    fn steps(&self, tar_path: &str, images: &[String]) -> Vec<Step>;
    /// The remote program its steps need, checked with `command -v` before a deploy.
    fn program(&self) -> Option<String> {
        None
    }
    /// One line of result from the steps' standard outputs.
    fn summary(&self, stdout: &str) -> String {
        stdout
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("done")
            .to_owned()
    }
}

fn opt_str(o: &Value, key: &str, default: &str) -> String {
    o.get(key)
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_owned()
}

fn opt_bool(o: &Value, key: &str, default: bool) -> bool {
    o.get(key).and_then(Value::as_bool).unwrap_or(default)
}

/// Builds the plugin a config names (options already validated by `config`).
pub fn from_config(post: &Value) -> Option<Box<dyn Plugin>> {
    let name = post.get("plugin")?.as_str()?;
    let empty = Value::Object(Default::default());
    let o = post
        .get("options")
        .filter(|o| o.is_object())
        .unwrap_or(&empty);
    Some(match name {
        "k3s_airgap" => Box::new(K3sAirgap {
            k3s_path: opt_str(o, "k3s_path", "k3s"),
            images_dir: opt_str(o, "images_dir", "/var/lib/rancher/k3s/agent/images"),
            import_now: opt_bool(o, "import_now", true),
            cleanup_tar: opt_bool(o, "cleanup_tar", false),
        }),
        "docker" => Box::new(Docker {
            docker_cmd: opt_str(o, "docker_cmd", "docker"),
            use_sudo: opt_bool(o, "use_sudo", false),
            sudo_password: o
                .get("sudo_password")
                .and_then(Value::as_str)
                .map(|s| Secret::new(s.to_owned())),
            cleanup_tar: opt_bool(o, "cleanup_tar", false),
        }),
        "generic_ssh" => Box::new(GenericSsh {
            command: opt_str(o, "command", "true"),
        }),
        _ => return None,
    })
}

/// The `cleanup_tar` step.
fn remove_tar(tar_path: &str) -> Step {
    Step {
        what: "remove the tar".into(),
        command: format!("rm -f -- {}", quote(tar_path)),
        stdin: None,
    }
}

/// Puts the tar into k3s's airgap images directory and imports it now.
struct K3sAirgap {
    k3s_path: String,
    images_dir: String,
    import_now: bool,
    cleanup_tar: bool,
}

impl Plugin for K3sAirgap {
    fn name(&self) -> &'static str {
        "k3s_airgap"
    }
    fn program(&self) -> Option<String> {
        self.import_now
            .then(|| self.k3s_path.split_whitespace().next().map(str::to_owned))
            .flatten()
    }
    fn steps(&self, tar_path: &str, _images: &[String]) -> Vec<Step> {
        let file = std::path::Path::new(tar_path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "images.tar".into());
        let dest = format!("{}/outrider-{file}", self.images_dir.trim_end_matches('/'));
        let mut steps = vec![Step {
            what: "copy into the k3s images directory".into(),
            command: format!(
                "mkdir -p -- {} && cp -f -- {} {}",
                quote(&self.images_dir),
                quote(tar_path),
                quote(&dest)
            ),
            stdin: None,
        }];
        if self.import_now {
            steps.push(Step {
                what: "k3s ctr images import".into(),
                command: format!(
                    "{} ctr -n k8s.io images import {}",
                    self.k3s_path,
                    quote(tar_path)
                ),
                stdin: None,
            });
        }
        if self.cleanup_tar {
            steps.push(remove_tar(tar_path));
        }
        steps
    }
    fn summary(&self, stdout: &str) -> String {
        let imported = stdout
            .lines()
            .filter(|l| l.contains("unpacking") || l.contains("saved"))
            .count();
        format!("k3s: {imported} images imported")
    }
}

/// `docker load` on the target, with sudo when asked (the password goes on stdin).
struct Docker {
    docker_cmd: String,
    use_sudo: bool,
    sudo_password: Option<Secret<String>>,
    cleanup_tar: bool,
}

impl Plugin for Docker {
    fn name(&self) -> &'static str {
        "docker"
    }
    fn program(&self) -> Option<String> {
        self.docker_cmd.split_whitespace().next().map(str::to_owned)
    }
    fn steps(&self, tar_path: &str, _images: &[String]) -> Vec<Step> {
        let sudo = match (self.use_sudo, &self.sudo_password) {
            (true, Some(_)) => "sudo -S -p '' ",
            (true, None) => "sudo -n ",
            _ => "",
        };
        let mut steps = vec![Step {
            what: "docker load".into(),
            command: format!("{sudo}{} load -i {}", self.docker_cmd, quote(tar_path)),
            stdin: self
                .sudo_password
                .as_ref()
                .map(|p| Secret::new(format!("{}\n", p.expose()))),
        }];
        if self.cleanup_tar {
            steps.push(remove_tar(tar_path));
        }
        steps
    }
    fn summary(&self, stdout: &str) -> String {
        let loaded: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("Loaded image: "))
            .collect();
        format!("docker loaded: {}", loaded.join(", "))
    }
}

/// Any command, with `{tar_path}` and `{images}` filled in, run with `set -e`.
struct GenericSsh {
    command: String,
}

impl Plugin for GenericSsh {
    fn name(&self) -> &'static str {
        "generic_ssh"
    }
    fn steps(&self, tar_path: &str, images: &[String]) -> Vec<Step> {
        let images = images
            .iter()
            .map(|i| quote(i))
            .collect::<Vec<_>>()
            .join(" ");
        let command = self
            .command
            .replace("{tar_path}", &quote(tar_path))
            .replace("{images}", &images);
        vec![Step {
            what: "command".into(),
            command: format!("set -e\n{command}"),
            stdin: None,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_secrets() {
        let p = from_config(&serde_json::json!({"plugin": "generic_ssh", "options": {"command": "echo {images} > /tmp/x; ls {tar_path}"}})).unwrap();
        let s = p.steps("/tmp/my images.tar", &["a:1".into(), "b:2".into()]);
        assert_eq!(
            s[0].command,
            "set -e\necho 'a:1' 'b:2' > /tmp/x; ls '/tmp/my images.tar'"
        );
        let k = from_config(&serde_json::json!({"plugin": "k3s_airgap", "options": {"images_dir": "-dir", "cleanup_tar": true}})).unwrap();
        let s = k.steps("./-x.tar", &[]);
        assert_eq!(
            s[0].command,
            "mkdir -p -- '-dir' && cp -f -- './-x.tar' '-dir/outrider--x.tar'"
        );
        assert_eq!(s[2].command, "rm -f -- './-x.tar'");
        let d = from_config(&serde_json::json!({"plugin": "docker", "options": {"use_sudo": true, "sudo_password": "hunter2"}})).unwrap();
        let s = d.steps("/tmp/i.tar", &[]);
        assert!(!s[0].command.contains("hunter2"));
        assert_eq!(
            s[0].stdin.as_ref().map(|p| p.expose().as_str()),
            Some("hunter2\n")
        );
    }
}
