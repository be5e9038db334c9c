//! A running `outrider serve` for tests that read from it as clients do.

use super::{Outrider, free_port};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `outrider serve`; stopped with SIGTERM on drop.
pub struct Serving {
    child: Child,
    pub host: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Serving {
    pub fn start(o: &Outrider, args: &[&str]) -> Serving {
        Serving::spawn(o.cmd(), args)
    }

    /// Like [`Serving::start`], with the soft and hard limits on open files at `nofile`
    /// (`prlimit`, which execs the server: the child is the server itself).
    pub fn start_with_nofile(o: &Outrider, nofile: u64, args: &[&str]) -> Serving {
        let base = o.cmd();
        let mut c = Command::new("prlimit");
        c.env_clear().stdin(Stdio::null());
        for (k, v) in base.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        c.arg(format!("--nofile={nofile}:{nofile}"))
            .arg(base.get_program());
        Serving::spawn(c, args)
    }

    fn spawn(mut command: Command, args: &[&str]) -> Serving {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("serve.log");
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let mut child = command
            .arg("serve")
            .args(args)
            .args(["--listen", &host])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("outrider serve");
        let deadline = Instant::now() + Duration::from_secs(30);
        // The port is bound before the certificate files are written: ready is when the
        // server says it serves.
        let ready = || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("serving "));
        while std::net::TcpStream::connect(&host).is_err() || !ready() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "serve exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "serve did not listen in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Serving {
            child,
            host,
            log,
            _dir: dir,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A line of the server's `/proc/PID/status` (`VmHWM`, `VmRSS`) in kB.
    pub fn status_kb(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a number in kB")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status and the whole log.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().expect("wait");
        (status, self.log())
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
