//! Real `sshd` (Debian openssh-server) instances on free loopback ports, each with its own
//! host key, config, pid file and authorized keys, killed on drop. Needs root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs ssh-keygen to make an ed25519 key pair at `path` (and `path.pub`).
pub fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "outrider-test", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen (apt-get install openssh-client)");
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running sshd.
pub struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Sshd {
    /// Starts sshd accepting the public keys in `authorized_keys` for any user.
    pub fn start(authorized_keys: &Path) -> Sshd {
        Sshd::start_with(authorized_keys, None)
    }

    /// Starts sshd that also accepts `user` (uid 0) with `password`. The user exists only
    /// for this sshd: it runs in a private mount namespace where copies of /etc/passwd and
    /// /etc/shadow with that user are bind-mounted; the machine's own files are untouched.
    pub fn start_with_password(authorized_keys: &Path, user: &str, password: &str) -> Sshd {
        Sshd::start_with(authorized_keys, Some((user, password)))
    }

    fn start_with(authorized_keys: &Path, password_user: Option<(&str, &str)>) -> Sshd {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        keygen(&d.join("host_ed25519"));
        std::fs::create_dir_all("/run/sshd").expect("privilege separation dir");
        let port = super::free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {pid}\nAuthorizedKeysFile {ak}\nPermitRootLogin yes\nPasswordAuthentication {pa}\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nLogLevel ERROR\n",
            hk = d.join("host_ed25519").display(),
            pid = d.join("sshd.pid").display(),
            ak = authorized_keys.display(),
            pa = if password_user.is_some() { "yes" } else { "no" }
        );
        std::fs::write(d.join("sshd_config"), config).expect("config");
        let log = d.join("sshd.log");
        let mut command = match password_user {
            None => {
                let mut c = Command::new("/usr/sbin/sshd");
                c.args(["-D", "-e", "-f"]).arg(d.join("sshd_config"));
                c
            }
            Some((user, password)) => {
                let hash = Command::new("openssl")
                    .args(["passwd", "-6", password])
                    .output()
                    .expect("openssl passwd");
                let hash = String::from_utf8_lossy(&hash.stdout).trim().to_owned();
                let passwd = std::fs::read_to_string("/etc/passwd").expect("passwd")
                    + &format!("{user}:x:0:0:outrider test:/root:/bin/sh\n");
                let shadow = std::fs::read_to_string("/etc/shadow").unwrap_or_default()
                    + &format!("{user}:{hash}:19000:0:99999:7:::\n");
                std::fs::write(d.join("passwd"), passwd).expect("write");
                std::fs::write(d.join("shadow"), shadow).expect("write");
                let script = format!(
                    "mount --bind {p} /etc/passwd && mount --bind {s} /etc/shadow && exec /usr/sbin/sshd -D -e -f {c}",
                    p = d.join("passwd").display(),
                    s = d.join("shadow").display(),
                    c = d.join("sshd_config").display()
                );
                let mut c = Command::new("unshare");
                c.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
                c
            }
        };
        let mut child = command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("sshd (apt-get install openssh-server)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "sshd exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not listen: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd { child, dir, port }
    }

    /// Its known_hosts line (`[127.0.0.1]:port key`).
    pub fn known_hosts_line(&self) -> String {
        let key =
            std::fs::read_to_string(self.dir.path().join("host_ed25519.pub")).expect("host key");
        let mut parts = key.split_whitespace();
        format!(
            "[127.0.0.1]:{} {} {}\n",
            self.port,
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("")
        )
    }

    /// Its directory.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
