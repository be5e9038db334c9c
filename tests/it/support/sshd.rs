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
        Sshd::start_with(authorized_keys, None, "")
    }

    /// Starts sshd that also accepts `user` (uid 0) with `password`. The user exists only
    /// for this sshd: it runs in a private mount namespace where copies of /etc/passwd and
    /// /etc/shadow with that user are bind-mounted; the machine's own files are untouched.
    pub fn start_with_password(authorized_keys: &Path, user: &str, password: &str) -> Sshd {
        Sshd::start_with(
            authorized_keys,
            Some((user, password, Path::new("/root"))),
            "",
        )
    }

    /// Starts sshd with `user` (uid 0, shell /bin/sh, logging in with the authorized keys)
    /// whose home is `home`, so relative remote paths land there, set up as for
    /// [`Sshd::start_with_password`]; `extra_config` adds `sshd_config` lines (e.g.
    /// `SetEnv PATH=…` to put wrapper commands first). Its /bin/sh also keeps the machine's
    /// root shell startup files (bash reads ~/.bashrc under sshd) out of the test.
    pub fn start_as(authorized_keys: &Path, user: &str, home: &Path, extra_config: &str) -> Sshd {
        Sshd::start_with(
            authorized_keys,
            Some((user, "unused-password", home)),
            extra_config,
        )
    }

    fn start_with(
        authorized_keys: &Path,
        password_user: Option<(&str, &str, &Path)>,
        extra_config: &str,
    ) -> Sshd {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        keygen(&d.join("host_ed25519"));
        std::fs::create_dir_all("/run/sshd").expect("privilege separation dir");
        let port = super::free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {pid}\nAuthorizedKeysFile {ak}\nPermitRootLogin yes\nPasswordAuthentication {pa}\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nLogLevel ERROR\n{extra_config}",
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
            Some((user, password, home)) => {
                let hash = Command::new("openssl")
                    .args(["passwd", "-6", password])
                    .output()
                    .expect("openssl passwd");
                let hash = String::from_utf8_lossy(&hash.stdout).trim().to_owned();
                let passwd = std::fs::read_to_string("/etc/passwd").expect("passwd")
                    + &format!("{user}:x:0:0:outrider test:{}:/bin/sh\n", home.display());
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

    /// The processes serving its connections: sshd's per-connection children (`sshd`)
    /// and the commands they run, as (pid, command name), found through /proc.
    pub fn sessions(&self) -> Vec<(u32, String)> {
        let mut procs = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let comm = stat[open + 1..close].to_owned();
            let ppid = stat[close + 1..]
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok())
                .unwrap_or(0);
            procs.push((pid, ppid, comm));
        }
        let mut found = Vec::new();
        let mut parents = vec![self.child.id()];
        while let Some(parent) = parents.pop() {
            for (pid, ppid, comm) in &procs {
                if *ppid == parent {
                    found.push((*pid, comm.clone()));
                    parents.push(*pid);
                }
            }
        }
        found
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to the listening sshd itself: stopped, it still
    /// takes TCP connections (the kernel queues them) but never says a word.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} sshd");
    }

    /// Sends `signal` (`STOP`, `KILL`, …) to the processes serving its connections; only to
    /// sshd's own (not the commands they run) when `only_sshd`. Returns how many.
    pub fn signal_sessions(&self, signal: &str, only_sshd: bool) -> usize {
        let pids: Vec<String> = self
            .sessions()
            .into_iter()
            .filter(|(_, comm)| !only_sshd || comm.starts_with("sshd"))
            .map(|(pid, _)| pid.to_string())
            .collect();
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .arg(format!("-{signal}"))
                .args(&pids)
                .status();
        }
        pids.len()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Stopped or orphaned session processes would outlive the test.
        self.signal_sessions("KILL", false);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
