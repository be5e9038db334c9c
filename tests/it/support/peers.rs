//! Hostile peers for the origin and body-limit tests: a proxy in front of a real registry
//! that answers some requests itself or rewrites the answer's head (a `Link`, a
//! `Location`, a realm), and "another origin": a server on its own loopback port that
//! records every request head it gets. Both are std `TcpListener` threads; every
//! connection thread ends when its peer hangs up, and an endless answer stops after
//! [`ENDLESS_FOR`] at the latest.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest an endless answer is kept up (outrider must give up long before).
pub const ENDLESS_FOR: Duration = Duration::from_secs(60);

/// What the proxy or the other origin does with one request, decided from its head.
pub enum Act {
    /// Forward it to the upstream and pass the answer back unchanged.
    Forward,
    /// Forward it, and pass the answer's head (status line and headers, without the final
    /// blank line) through this rewrite.
    Rewrite(Box<dyn Fn(&str) -> String + Send>),
    /// Answer here with this status line and headers (no `Content-Length`) and body.
    Answer(&'static str, Vec<String>, Vec<u8>),
    /// Answer here with `200 OK`, these headers, then `prefix` and `x` forever.
    Endless(Vec<String>, &'static str),
}

/// One request head as received: the request line, then `name: value` lines.
fn read_head(reader: &mut impl BufRead) -> Option<(String, usize)> {
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            return Some((head, length));
        }
        head.push_str(&line);
    }
}

/// Writes `prefix`, then `x` in 64 KiB pieces until the peer hangs up or
/// [`ENDLESS_FOR`] passes. Returns the bytes written.
fn endless(stream: &mut TcpStream, head: &str, prefix: &str) -> u64 {
    let started = Instant::now();
    let mut sent = 0u64;
    if stream.write_all(head.as_bytes()).is_err() || stream.write_all(prefix.as_bytes()).is_err() {
        return 0;
    }
    let piece = vec![b'x'; 64 * 1024];
    while started.elapsed() < ENDLESS_FOR && stream.write_all(&piece).is_ok() {
        sent += piece.len() as u64;
    }
    sent
}

/// Answers `act` (not `Forward`/`Rewrite`) on `stream`; false when the connection is done.
fn answer_here(stream: &mut TcpStream, act: Act) -> bool {
    match act {
        Act::Answer(status, headers, body) => {
            let mut head = format!("HTTP/1.1 {status}\r\n");
            for h in headers {
                head.push_str(&format!("{h}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            stream.write_all(head.as_bytes()).is_ok() && stream.write_all(&body).is_ok()
        }
        Act::Endless(headers, prefix) => {
            let mut head = "HTTP/1.1 200 OK\r\nConnection: close\r\n".to_owned();
            for h in headers {
                head.push_str(&format!("{h}\r\n"));
            }
            head.push_str("\r\n");
            endless(stream, &head, prefix);
            false
        }
        Act::Forward | Act::Rewrite(_) => false,
    }
}

/// Sends one request to `upstream` on a connection of its own (`Connection: close`, so
/// the answer ends where the connection does) and returns the whole answer.
fn round_trip(upstream: &str, head: &str, body: &[u8]) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).ok()?;
    let mut out = String::new();
    for line in head.lines() {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    server.write_all(out.as_bytes()).ok()?;
    server.write_all(body).ok()?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).ok()?;
    Some(answer)
}

/// A proxy in front of `upstream` (a real registry), asking `decide` about each request
/// line. Returns its `127.0.0.1:port`.
pub fn proxy(upstream: String, decide: impl Fn(&str) -> Act + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let host = listener.local_addr().expect("addr").to_string();
    let decide = Arc::new(decide);
    std::thread::spawn(move || {
        for client in listener.incoming().take(200) {
            let Ok(mut client) = client else { continue };
            let (decide, upstream) = (decide.clone(), upstream.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().expect("clone"));
                while let Some((head, length)) = read_head(&mut reader) {
                    let mut body = vec![0u8; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let act = decide(head.lines().next().unwrap_or_default());
                    let rewrite = match act {
                        Act::Forward => None,
                        Act::Rewrite(f) => Some(f),
                        other => {
                            if answer_here(&mut client, other) {
                                continue;
                            }
                            return;
                        }
                    };
                    let Some(mut answer) = round_trip(&upstream, &head, &body) else {
                        return;
                    };
                    if let Some(f) = rewrite
                        && let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n")
                    {
                        let old = String::from_utf8_lossy(&answer[..end]).into_owned();
                        let mut new = f(&old).into_bytes();
                        new.extend_from_slice(&answer[end..]);
                        answer = new;
                    }
                    // The upstream's `Connection: close` ends this connection too.
                    if client.write_all(&answer).is_err() {
                        return;
                    }
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    return;
                }
            });
        }
    });
    host
}

/// "Another origin": a server on its own loopback port that records each request head
/// (request line and headers) and each body's length, and answers as `decide` says.
pub struct Origin {
    /// `127.0.0.1:port`.
    pub host: String,
    /// Every request head received, in order.
    pub heads: Arc<Mutex<Vec<String>>>,
    /// Bytes of request bodies received, in all.
    pub body_bytes: Arc<Mutex<u64>>,
}

impl Origin {
    /// Starts one; `decide` must answer here (not `Forward`).
    pub fn start(decide: impl Fn(&str) -> Act + Send + Sync + 'static) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let host = listener.local_addr().expect("addr").to_string();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let body_bytes = Arc::new(Mutex::new(0u64));
        let (record, bytes) = (heads.clone(), body_bytes.clone());
        let decide = Arc::new(decide);
        std::thread::spawn(move || {
            for client in listener.incoming().take(200) {
                let Ok(mut client) = client else { continue };
                let (decide, record, bytes) = (decide.clone(), record.clone(), bytes.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(client.try_clone().expect("clone"));
                    while let Some((head, length)) = read_head(&mut reader) {
                        record.lock().expect("lock").push(head.clone());
                        let mut body = vec![0u8; length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        *bytes.lock().expect("lock") += length as u64;
                        if !answer_here(&mut client, decide(head.lines().next().unwrap_or(""))) {
                            return;
                        }
                    }
                });
            }
        });
        Origin {
            host,
            heads,
            body_bytes,
        }
    }

    /// The request heads received so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("lock").clone()
    }
}
