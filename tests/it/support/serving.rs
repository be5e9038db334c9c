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
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("serve.log");
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let mut child = o
            .cmd()
            .arg("serve")
            .args(args)
            .args(["--listen", &host])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("outrider serve");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&host).is_err() {
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
