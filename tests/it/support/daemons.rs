//! Real image consumers: a containerd daemon and a Docker engine on it, each with its own
//! root, state and sockets in a temp dir, killed on drop. They need root; outside CI a
//! test may skip with a message, in CI (`CI=true`) it must run.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// True when a root-only consumer test may run; panics in CI when it cannot.
#[allow(clippy::print_stderr)]
pub fn can_run_daemons(what: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} needs root, and CI must run it"
    );
    eprintln!("skipping {what}: needs root (runs in CI)");
    false
}

fn wait_for(path: &std::path::Path, child: &mut Child, log: &std::path::Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not create {} in 60s: {}",
            path.display(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A containerd daemon.
pub struct Containerd {
    child: Child,
    /// Its temp dir, removed on drop.
    _dir: tempfile::TempDir,
    /// Its gRPC socket.
    pub socket: PathBuf,
}

impl Containerd {
    /// Starts containerd with a config of its own (CRI off, so nothing else is needed).
    pub fn start() -> Containerd {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let socket = d.join("containerd.sock");
        let config = format!(
            "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n[debug]\n  level = \"warn\"\n",
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = socket.display()
        );
        std::fs::write(d.join("config.toml"), config).expect("config");
        let log = d.join("containerd.log");
        let mut child = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("containerd (apt-get install containerd)");
        wait_for(&socket, &mut child, &log, "containerd");
        Containerd {
            child,
            _dir: dir,
            socket,
        }
    }

    /// Runs `ctr -a <socket> -n <namespace> args…` and returns stdout.
    pub fn ctr(&self, namespace: &str, args: &[&str]) -> String {
        let out = Command::new("ctr")
            .arg("-a")
            .arg(&self.socket)
            .args(["-n", namespace])
            .args(args)
            .output()
            .expect("ctr");
        assert!(
            out.status.success(),
            "ctr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Imports a tar file into `namespace`.
    pub fn import(&self, namespace: &str, tar: &std::path::Path) -> String {
        self.ctr(
            namespace,
            &["images", "import", tar.to_str().expect("utf8")],
        )
    }

    /// Image name → manifest digest, as containerd keeps them.
    pub fn images(&self, namespace: &str) -> std::collections::BTreeMap<String, String> {
        self.ctr(namespace, &["images", "ls"])
            .lines()
            .skip(1)
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                Some((cols.first()?.to_string(), cols.get(2)?.to_string()))
            })
            .collect()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Docker engine on a containerd the test started.
pub struct Dockerd {
    child: Child,
    /// Its temp dir, removed on drop.
    _dir: tempfile::TempDir,
    /// `unix://…` for DOCKER_HOST.
    pub host: String,
}

impl Dockerd {
    /// Starts dockerd with its own data-root, exec-root, pidfile and socket; vfs storage,
    /// no iptables, no bridge.
    pub fn start(containerd: &Containerd) -> Dockerd {
        Dockerd::start_with(containerd, &[])
    }

    /// Starts dockerd as [`Dockerd::start`] does, with `extra` arguments.
    pub fn start_with(containerd: &Containerd, extra: &[&str]) -> Dockerd {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let socket = d.join("docker.sock");
        let log = d.join("dockerd.log");
        let mut child = Command::new("dockerd")
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .arg("--containerd")
            .arg(&containerd.socket)
            .args([
                "--storage-driver=vfs",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("dockerd (apt-get install docker.io)");
        wait_for(&socket, &mut child, &log, "dockerd");
        let host = format!("unix://{}", socket.display());
        // The socket appears before the API answers.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !Command::new("docker")
            .args(["version"])
            .env("DOCKER_HOST", &host)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(
                Instant::now() < deadline,
                "dockerd did not answer: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Dockerd {
            child,
            _dir: dir,
            host,
        }
    }

    /// Runs `docker args…` against this engine and returns stdout.
    pub fn docker(&self, args: &[&str]) -> String {
        let out = Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", &self.host)
            .output()
            .expect("docker");
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `podman` with its own vfs root in a temp dir.
pub struct Podman {
    /// Storage root.
    pub dir: tempfile::TempDir,
}

impl Podman {
    /// A fresh store.
    pub fn new() -> Podman {
        Podman {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Runs `podman args…` and returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let d = self.dir.path();
        let out = Command::new("podman")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "none",
            ])
            .args(args)
            .env("HOME", d)
            .output()
            .expect("podman (apt-get install podman)");
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
