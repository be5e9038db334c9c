//! A small token server for the registry's token auth (distribution "Token Authentication
//! Specification"): it checks basic credentials, then issues an RS256 JWT granting the
//! requested scopes, signed by `openssl` with a key whose certificate the registry trusts
//! (`x5c` header). It counts requests so tests can see tokens being cached.

use base64::Engine as _;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `service` the registry expects.
pub const SERVICE: &str = "outrider-registry";
/// `iss` the registry expects.
pub const ISSUER: &str = "outrider-test-issuer";

/// A running token server (a thread on a loopback port).
pub struct TokenServer {
    port: u16,
    /// Signing certificate, for the registry's rootcertbundle.
    pub cert: PathBuf,
    /// Requests answered with a token.
    pub issued: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl TokenServer {
    /// Starts a server accepting `user:password`.
    pub fn start(user: &'static str, password: &'static str) -> TokenServer {
        TokenServer::start_granting(user, password, false)
    }

    /// Starts a server accepting `user:password` that grants `pull` only, whatever is
    /// asked: a read-only account.
    pub fn start_pull_only(user: &'static str, password: &'static str) -> TokenServer {
        TokenServer::start_granting(user, password, true)
    }

    fn start_granting(user: &'static str, password: &'static str, pull_only: bool) -> TokenServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "token.key",
                "-out",
                "token.pem",
                "-days",
                "2",
                "-subj",
                "/CN=outrider token signer",
            ])
            .current_dir(dir.path())
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let der = Command::new("openssl")
            .args(["x509", "-in", "token.pem", "-outform", "DER"])
            .current_dir(dir.path())
            .output()
            .expect("openssl");
        let x5c = base64::engine::general_purpose::STANDARD.encode(&der.stdout);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let key = dir.path().join("token.key");
        let issued = Arc::new(AtomicUsize::new(0));
        let counter = issued.clone();
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut authorized = false;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("authorization")
                    {
                        authorized = v.trim() == expected;
                    }
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("/");
                let query = path.split_once('?').map_or("", |(_, q)| q);
                let scopes: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
                    .filter(|(k, _)| k == "scope")
                    .map(|(_, v)| v.into_owned())
                    .collect();
                let response = if !authorized {
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_owned()
                } else {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let scopes: Vec<String> = if pull_only {
                        scopes.iter().map(|s| pull_only_scope(s)).collect()
                    } else {
                        scopes
                    };
                    let token = sign(&key, &x5c, &scopes, user);
                    let body =
                        serde_json::json!({ "token": token, "expires_in": 3600 }).to_string();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = stream.write_all(response.as_bytes());
            }
        });
        TokenServer {
            port,
            cert: dir.path().join("token.pem"),
            issued,
            _dir: dir,
        }
    }

    /// The realm URL.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }
}

/// `repository:a:pull,push repository:b:pull` with every action but `pull` taken out.
fn pull_only_scope(scope: &str) -> String {
    scope
        .split(' ')
        .map(|s| match s.rsplit_once(':') {
            Some((what, actions)) if actions.split(',').any(|a| a == "pull") => {
                format!("{what}:pull")
            }
            Some((what, _)) => format!("{what}:"),
            None => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn sign(key: &std::path::Path, x5c: &str, scopes: &[String], user: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .flat_map(|s| s.split(' ').map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|s| {
            let mut parts = s.splitn(3, ':');
            let (kind, rest) = (parts.next()?.to_owned(), parts.collect::<Vec<_>>().join(":"));
            let (name, actions) = rest.rsplit_once(':')?;
            Some(serde_json::json!({ "type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>() }))
        })
        .collect();
    let header = serde_json::json!({ "typ": "JWT", "alg": "RS256", "x5c": [x5c] });
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": user, "aud": SERVICE, "exp": now + 3600, "nbf": now - 60, "iat": now,
        "jti": format!("{now}-{}", rand_suffix()), "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(signing_input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("openssl");
    format!("{signing_input}.{}", b64(&out.stdout))
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(7);
    h.finish()
}
