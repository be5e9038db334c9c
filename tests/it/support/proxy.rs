//! A TCP proxy in front of a real registry that reads each request's head as it passes,
//! so a test can hold a request back, record it, or cut its body: what a slow or broken
//! network does, with the real registry answering.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What to do with one request, decided from its request line (`GET /v2/… HTTP/1.1`).
/// The hook may also sleep, to hold the request back.
pub enum Pass {
    /// Forward it whole.
    Whole,
    /// Forward half its body, then close both sides.
    HalfThenClose,
    /// Answer it here with this status (`416 Requested Range Not Satisfiable`) and an
    /// empty body; the upstream never sees it.
    Answer(&'static str),
    /// Read the body from the client at this many bytes a second, forwarding as it
    /// comes: a slow link, which the client feels as backpressure.
    Throttle(usize),
    /// Forward this many bytes of the body and close the upstream side (the registry sees
    /// a broken request), but hold the client's side open and silent for a minute: to
    /// the client, a link that went quiet mid-upload.
    StallAfter(usize),
    /// Read the whole request body, then either answer here with the [`Reply`] the
    /// function makes of it (the upstream never sees the request) or, for `None`, forward
    /// it whole: a front that plays a registry's own rules (Harbor's projects, immutable
    /// tags) in front of the real registry.
    Decide(Decision),
}

/// Makes the answer to a request from its body, or `None` to forward it.
pub type Decision = Box<dyn FnOnce(&[u8]) -> Option<Reply> + Send>;

/// An answer made by the proxy itself.
pub struct Reply {
    /// `404 Not Found`.
    pub status: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body (JSON, as registries answer).
    pub body: String,
}

/// Forwards connections to `upstream`, asking `hook` about each request; answers flow
/// back untouched. Returns the proxy's address.
pub fn start(upstream: String, hook: impl Fn(&str) -> Pass + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let host = listener.local_addr().expect("addr").to_string();
    let hook = Arc::new(hook);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut from_server, mut to_client) = (
                server.try_clone().expect("clone"),
                client.try_clone().expect("clone"),
            );
            // Set by `StallAfter`: the client's side stays open and silent when the
            // upstream's closes.
            let hold = Arc::new(AtomicBool::new(false));
            let held = hold.clone();
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
                if held.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_secs(60));
                }
                let _ = to_client.shutdown(std::net::Shutdown::Both);
            });
            let hook = hook.clone();
            std::thread::spawn(move || forward_requests(client, server, &*hook, &hold));
        }
    });
    host
}

fn forward_requests(
    client: TcpStream,
    mut server: TcpStream,
    hook: &dyn Fn(&str) -> Pass,
    hold: &AtomicBool,
) {
    let mut reader = BufReader::new(client.try_clone().expect("clone"));
    loop {
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let pass = hook(head.lines().next().unwrap_or_default());
        match pass {
            Pass::Throttle(rate) => {
                if server.write_all(head.as_bytes()).is_err()
                    || !trickle(&mut reader, &mut server, length, rate)
                {
                    return;
                }
                continue;
            }
            Pass::StallAfter(n) => {
                hold.store(true, Ordering::SeqCst);
                let _ = server.write_all(head.as_bytes());
                let _ = trickle(&mut reader, &mut server, n.min(length), usize::MAX);
                let _ = server.shutdown(std::net::Shutdown::Both);
                std::thread::sleep(std::time::Duration::from_secs(60));
                let _ = client.shutdown(std::net::Shutdown::Both);
                return;
            }
            _ => {}
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let pass = match pass {
            Pass::Decide(decide) => match decide(&body) {
                Some(reply) => {
                    let mut answer = format!(
                        "HTTP/1.1 {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                        reply.status,
                        reply.body.len()
                    );
                    for (name, value) in &reply.headers {
                        answer.push_str(&format!("{name}: {value}\r\n"));
                    }
                    answer.push_str("\r\n");
                    answer.push_str(&reply.body);
                    if (&client).write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                    continue;
                }
                None => Pass::Whole,
            },
            other => other,
        };
        if let Pass::Answer(status) = pass {
            // HTTP/1.1 clients wait for an answer before the next request, so this does not
            // interleave with the upstream's answers.
            let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
            if (&client).write_all(answer.as_bytes()).is_err() {
                return;
            }
            continue;
        }
        if server.write_all(head.as_bytes()).is_err() {
            return;
        }
        if let Pass::HalfThenClose = pass {
            let _ = server.write_all(&body[..length / 2]);
            let _ = server.flush();
            std::thread::sleep(std::time::Duration::from_millis(200));
            let _ = server.shutdown(std::net::Shutdown::Both);
            let _ = client.shutdown(std::net::Shutdown::Both);
            return;
        }
        if server.write_all(&body).is_err() {
            return;
        }
    }
}

/// Copies `length` bytes from `from` to `to` in 16 KiB pieces, at most `rate` bytes a
/// second. False when either side broke.
fn trickle(from: &mut impl Read, to: &mut TcpStream, length: usize, rate: usize) -> bool {
    const PIECE: usize = 16 * 1024;
    let mut buf = vec![0u8; PIECE];
    let mut left = length;
    while left > 0 {
        let n = left.min(PIECE);
        if from.read_exact(&mut buf[..n]).is_err() || to.write_all(&buf[..n]).is_err() {
            return false;
        }
        left -= n;
        if rate != usize::MAX {
            std::thread::sleep(std::time::Duration::from_secs_f64(n as f64 / rate as f64));
        }
    }
    true
}
