//! Real servers for the integration tests: the CNCF distribution registry (Debian
//! `docker-registry`) in plain, htpasswd, TLS and token flavours on free loopback ports,
//! plus helpers to run the outrider binary with a clean environment.

pub mod artifacts;
pub mod crd_schema;
pub mod daemons;
pub mod harbor;
pub mod images;
pub mod keys;
pub mod peers;
pub mod proxy;
pub mod rawzip;
pub mod serving;
pub mod sshd;
pub mod tmpfs;
pub mod token;
pub mod web_files;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The registry binary, or a clear failure naming the package.
fn registry_binary() -> &'static str {
    for p in ["/usr/bin/docker-registry", "/usr/bin/registry"] {
        if Path::new(p).exists() {
            return p;
        }
    }
    panic!(
        "the distribution registry is not installed: apt-get install docker-registry (or run ./run-tests.sh)"
    );
}

/// How a test registry authenticates.
pub enum Auth {
    /// Anonymous.
    None,
    /// htpasswd basic auth with this user and password.
    Basic(&'static str, &'static str),
    /// Token auth from this token server.
    Token(token::TokenServer),
}

/// Whether a test registry serves TLS, and whether it demands client certificates.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tls {
    /// Plain HTTP.
    Off,
    /// TLS with a certificate from a test CA.
    Server,
    /// TLS that also requires a client certificate signed by the same CA.
    Mutual,
}

/// A running registry; killed on drop.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub host: String,
    /// Its temp directory (config, storage, certs).
    pub dir: tempfile::TempDir,
    /// The CA that signed its certificate, when it serves TLS.
    pub ca: Option<PathBuf>,
    /// Kept alive for token registries.
    _token: Option<token::TokenServer>,
}

impl Registry {
    /// A plain-HTTP anonymous registry.
    pub fn plain() -> Registry {
        Registry::start(Auth::None, false)
    }

    /// Starts a registry with the given auth, over TLS when `tls`.
    pub fn start(auth: Auth, tls: bool) -> Registry {
        Registry::start_with(auth, if tls { Tls::Server } else { Tls::Off })
    }

    /// Starts a registry with the given auth and TLS mode.
    pub fn start_with(auth: Auth, tls: Tls) -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        let mut ca = None;
        if tls != Tls::Off {
            let (ca_path, cert, key) = make_tls(dir.path());
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
            if tls == Tls::Mutual {
                config.push_str(&format!("    clientcas:\n      - {}\n", ca_path.display()));
            }
            ca = Some(ca_path);
        }
        let mut token_server = None;
        match auth {
            Auth::None => {}
            Auth::Basic(user, password) => {
                let file = dir.path().join("htpasswd");
                let out = Command::new("htpasswd")
                    .args(["-Bbc"])
                    .arg(&file)
                    .args([user, password])
                    .output()
                    .expect("htpasswd (apt-get install apache2-utils)");
                assert!(
                    out.status.success(),
                    "htpasswd failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: outrider-test\n    path: {}\n",
                    file.display()
                ));
            }
            Auth::Token(server) => {
                config.push_str(&format!(
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    server.realm(),
                    token::SERVICE,
                    token::ISSUER,
                    server.cert.display()
                ));
                token_server = Some(server);
            }
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log");
        let child = Command::new(registry_binary())
            .arg("serve")
            .arg(&config_path)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start registry");
        let mut registry = Registry {
            child,
            host,
            dir,
            ca,
            _token: token_server,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(&self.host).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.path().join("registry.log"))
                    .unwrap_or_default();
                panic!("registry exited ({status}) before listening: {log}");
            }
            assert!(
                Instant::now() < deadline,
                "registry did not listen on {} within 20s",
                self.host
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Generates a CA and a certificate for 127.0.0.1 signed by it; returns (ca, cert, key).
pub fn make_tls(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=outrider test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n").expect("ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    // A client certificate from the same CA, for mutual TLS (client.pem, client.key).
    let sign = |name: &str, ext: &str| {
        [
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            ext,
        ]
        .map(str::to_owned)
    };
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
        "-subj",
        "/CN=outrider client",
    ]);
    std::fs::write(dir.join("client.cnf"), "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n").expect("ext");
    let args = sign("client", "client.cnf");
    run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// A command for the outrider binary with an empty HOME, DOCKER_CONFIG and certs.d, so
/// the developer's own credentials and certificates never leak in. RUST_LOG is unset:
/// tests see the default output a user sees.
pub struct Outrider {
    /// Scratch home for this run.
    pub home: tempfile::TempDir,
}

impl Outrider {
    /// A fresh environment.
    pub fn new() -> Outrider {
        Outrider {
            home: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The command, ready for arguments.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_outrider"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("DOCKER_CONFIG", self.home.path().join(".docker"))
            // The machine's own /etc/docker/certs.d must not decide a test.
            .env("OUTRIDER_CERTS_D", self.home.path().join("certs.d"))
            .stdin(Stdio::null());
        c
    }

    /// Runs with `args`, returning the output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run outrider")
    }

    /// Runs with `args`, failing the test (not hanging it) past `limit`.
    pub fn run_within(&self, args: &[&str], limit: Duration) -> Output {
        let mut child = self
            .cmd()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let deadline = Instant::now() + limit;
        while child.try_wait().expect("wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("wait");
                panic!(
                    "outrider {args:?} still ran after {limit:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().expect("output")
    }

    /// Runs with `args` and panics with stderr unless it exits 0.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "outrider {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// Stdout and stderr as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The exact manifest bytes a registry serves for `repo:reference`, read with skopeo
/// (an independent client) — `None` when it has none.
pub fn skopeo_raw(host: &str, repo: &str, reference: &str, extra: &[&str]) -> Option<Vec<u8>> {
    let sep = if reference.starts_with("sha256:") {
        "@"
    } else {
        ":"
    };
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .args(extra)
        .arg(format!("docker://{host}/{repo}{sep}{reference}"))
        .output()
        .expect("skopeo (apt-get install skopeo)");
    out.status.success().then_some(out.stdout)
}

/// Whether `skopeo inspect` (config included) accepts the image.
pub fn skopeo_inspect(host: &str, image: &str) -> Result<String, String> {
    let out = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{host}/{image}"))
        .output()
        .expect("skopeo");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// sha256 digest string of bytes.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
