//! A small static web server for the chart and file tests: a classic chart repository
//! (`index.yaml` and packages) or a file by URL, with optional basic auth, `Range`
//! requests, and a first download cut short after a number of bytes (to interrupt a
//! transfer). Every request is logged as `GET /path range=… auth=yes|no`.

use base64::Engine as _;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A running server; it stops when the test process ends.
pub struct WebFiles {
    /// `127.0.0.1:<port>`.
    pub host: String,
    /// Requests seen.
    pub log: Arc<Mutex<Vec<String>>>,
}

/// What to serve.
#[derive(Clone, Default)]
pub struct Setup {
    /// Path (`/index.yaml`) → body.
    pub files: HashMap<String, Vec<u8>>,
    /// Required `user`, `password`.
    pub basic: Option<(String, String)>,
    /// The first whole download of this path stops after this many bytes.
    pub cut: Option<(String, usize)>,
}

impl WebFiles {
    /// Starts serving `setup` on a free loopback port.
    pub fn start(setup: Setup) -> WebFiles {
        WebFiles::start_on(setup, 0)
    }

    /// Starts serving `setup` on `port` (0: a free one).
    pub fn start_on(setup: Setup, port: u16) -> WebFiles {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
        let host = listener.local_addr().expect("addr").to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let cut = Arc::new(Mutex::new(setup.cut.clone()));
        let setup = Arc::new(setup);
        let seen = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (setup, log, cut) = (setup.clone(), seen.clone(), cut.clone());
                std::thread::spawn(move || serve(stream, &setup, &log, &cut));
            }
        });
        WebFiles { host, log }
    }

    /// The logged requests.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }
}

fn serve(
    stream: std::net::TcpStream,
    setup: &Setup,
    log: &Mutex<Vec<String>>,
    cut: &Mutex<Option<(String, usize)>>,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let range = headers.get("range").cloned();
        let auth = headers.get("authorization").cloned();
        log.lock().expect("log").push(format!(
            "GET {path} range={} auth={}",
            range.as_deref().unwrap_or("-"),
            if auth.is_some() { "yes" } else { "no" }
        ));
        if let Some((user, password)) = &setup.basic {
            let want = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            );
            if auth.as_deref() != Some(want.as_str()) {
                let _ = out.write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"charts\"\r\nContent-Length: 0\r\n\r\n");
                continue;
            }
        }
        let Some(body) = setup.files.get(&path) else {
            let _ = out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            continue;
        };
        let (start, end) = match range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
            Some(r) => {
                let (a, b) = r.split_once('-').unwrap_or((r, ""));
                let a: usize = a.parse().unwrap_or(0);
                let b: usize = b.parse().map(|b: usize| b + 1).unwrap_or(body.len());
                (a.min(body.len()), b.min(body.len()))
            }
            None => (0, body.len()),
        };
        let status = if range.is_some() {
            format!(
                "206 Partial Content\r\nContent-Range: bytes {start}-{}/{}",
                end.saturating_sub(1),
                body.len()
            )
        } else {
            "200 OK".to_owned()
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\n\r\n",
            end - start
        );
        if out.write_all(head.as_bytes()).is_err() {
            return;
        }
        let stop = {
            let mut cut = cut.lock().expect("cut");
            match cut.as_ref() {
                Some((p, n)) if *p == path && start == 0 && end - start > *n => {
                    let n = *n;
                    *cut = None;
                    Some(n)
                }
                _ => None,
            }
        };
        match stop {
            Some(n) => {
                let _ = out.write_all(&body[..n]);
                let _ = out.flush();
                return;
            }
            None => {
                if out.write_all(&body[start..end]).is_err() {
                    return;
                }
            }
        }
    }
}
