//! A TCP proxy in front of a real registry that reads each request's head as it passes,
//! so a test can hold a request back, record it, or cut its body: what a slow or broken
//! network does, with the real registry answering.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

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
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
                let _ = to_client.shutdown(std::net::Shutdown::Both);
            });
            let hook = hook.clone();
            std::thread::spawn(move || forward_requests(client, server, &*hook));
        }
    });
    host
}

fn forward_requests(client: TcpStream, mut server: TcpStream, hook: &dyn Fn(&str) -> Pass) {
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
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let pass = hook(head.lines().next().unwrap_or_default());
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
