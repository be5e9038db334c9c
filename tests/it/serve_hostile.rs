//! `outrider serve` against clients that would starve it: a flood of idle sockets under a
//! low descriptor limit, slowloris headers, a first reader that never reads (and is let go
//! once stalled for a minute), and crowds of stalled readers. Loopback only; counts and waits are bounded, and nothing asserts how
//! long a thing took, only that it happened within a generous bound.

use crate::support::images::{self, Blob, Flavour, Image};
use crate::support::serving::Serving;
use crate::support::{Outrider, Registry};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A bundle of one image whose manifest is close to the 4 MiB limit (padded with an
/// annotation) and whose layer is `layer_bytes` long.
struct Fixture {
    _source: Registry,
    _work: tempfile::TempDir,
    bundle: PathBuf,
    image: Image,
    o: Outrider,
}

fn fixture(layer_bytes: usize, manifest_bytes: usize) -> Fixture {
    let source = Registry::plain();
    let mut image = images::image(
        vec![images::layer(501, layer_bytes, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&image.manifest.bytes).expect("json");
    let pad = manifest_bytes.saturating_sub(image.manifest.bytes.len() + 40);
    manifest["annotations"] = serde_json::json!({ "pad": "x".repeat(pad) });
    image.manifest = Blob::new(
        serde_json::to_vec(&manifest).expect("json"),
        &image.manifest.media_type,
    );
    images::push_image(&source.host, "h/app", "1", &image);
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("b.zip");
    o.ok(&[
        "pack",
        "-o",
        bundle.to_str().expect("utf8"),
        &format!("{}/h/app:1", source.host),
    ]);
    Fixture {
        _source: source,
        _work: work,
        bundle,
        image,
        o,
    }
}

/// `curl` with a generous overall bound: (status, body).
fn get(url: &str) -> (u16, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "90", "-w", "\n%{http_code}", url])
        .output()
        .expect("curl");
    let mut body = out.stdout;
    let at = body.iter().rposition(|b| *b == b'\n').expect("status line");
    let code = String::from_utf8_lossy(&body[at + 1..])
        .trim()
        .parse()
        .unwrap_or(0);
    body.truncate(at);
    (code, body)
}

/// Sends a GET of `path` and reads nothing back.
fn stalled(host: &str, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(host).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").expect("send");
    s
}

/// Whether the server closes `s` within `bound`, while `tick` is called every second
/// (to send a byte, or nothing).
fn closed_within(s: &mut TcpStream, bound: Duration, mut tick: impl FnMut(&mut TcpStream)) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let end = Instant::now() + bound;
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
        tick(s);
    }
    false
}

/// One request on an open keep-alive connection: the status line.
fn ask(s: &mut TcpStream, host: &str) -> String {
    write!(s, "GET /v2/ HTTP/1.1\r\nHost: {host}\r\n\r\n").expect("send");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    // `/v2/` answers `{}`: the response is whole once its body has come.
    while !got.ends_with(b"{}") {
        let n = s.read(&mut buf).expect("a response");
        assert!(n > 0, "the connection was closed");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn idle_floods_and_slowloris_are_closed_and_clients_still_pull() {
    let f = fixture(200_000, 2_000);
    let nofile = 256;
    let server = Serving::start_with_nofile(&f.o, nofile, &[f.bundle.to_str().expect("utf8")]);
    let host = server.host.clone();
    // A client connected before the flood.
    let mut early = TcpStream::connect(&host).expect("connect");
    assert!(ask(&mut early, &host).contains("200"));

    // More idle sockets than the server has descriptors.
    let flood: Vec<TcpStream> = (0..300)
        .filter_map(|_| {
            TcpStream::connect_timeout(&host.parse().expect("addr"), Duration::from_secs(2)).ok()
        })
        .collect();
    assert!(flood.len() > 250, "only {} connected", flood.len());
    // The client connected before is still answered.
    assert!(ask(&mut early, &host).contains("200"));
    // A new client waits for a slot, then pulls the manifest and the layer whole.
    let base = format!("http://{host}/v2/h/app");
    let (code, body) = get(&format!("{base}/manifests/1"));
    assert_eq!(
        code, 200,
        "a new client was not served while the flood stood"
    );
    assert!(
        body == f.image.manifest.bytes,
        "the manifest came back changed"
    );
    let (code, body) = get(&format!("{base}/blobs/{}", f.image.layers[0].digest));
    assert_eq!(code, 200);
    assert!(
        body == f.image.layers[0].bytes,
        "the layer came back damaged"
    );
    drop(flood);
    assert!(
        server
            .log()
            .contains("connections open, the most served at once"),
        "{}",
        server.log()
    );

    // An idle socket, and headers sent a byte a second, are closed.
    let mut idle = TcpStream::connect(&host).expect("connect");
    assert!(
        closed_within(&mut idle, Duration::from_secs(40), |_| {}),
        "an idle connection stayed open"
    );
    let mut slow = TcpStream::connect(&host).expect("connect");
    write!(slow, "GET /v2/ HTTP/1.1\r\nHost: {host}\r\n").expect("send");
    assert!(
        closed_within(&mut slow, Duration::from_secs(40), |s| {
            let _ = s.write_all(b"X");
        }),
        "a slowloris connection stayed open"
    );
    let (code, _) = get(&format!("http://{host}/v2/"));
    assert_eq!(code, 200);
}

#[test]
fn a_first_reader_that_never_reads_does_not_hold_up_the_next() {
    let f = fixture(16_000_000, 2_000);
    let server = Serving::start(&f.o, &[f.bundle.to_str().expect("utf8")]);
    let layer = &f.image.layers[0];
    let path = format!("/v2/h/app/blobs/{}", layer.digest);
    // The first GET of a blob not yet verified, never read.
    let started = Instant::now();
    let mut first = stalled(&server.host, &path);
    let (code, body) = get(&format!("http://{}{path}", server.host));
    assert_eq!(code, 200);
    assert!(
        body == layer.bytes,
        "the second client got {} of {} bytes",
        body.len(),
        layer.bytes.len()
    );
    // Once no byte has moved for the stall timeout (60 s), the server lets the first go:
    // what it gets, read now, stops short of the blob.
    std::thread::sleep(Duration::from_secs(75).saturating_sub(started.elapsed()));
    first
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut got = 0;
    let mut buf = vec![0u8; 1 << 16];
    while let Ok(n) = first.read(&mut buf) {
        if n == 0 {
            break;
        }
        got += n;
    }
    assert!(
        got < layer.bytes.len(),
        "a reader that stalled for 75 s was still being served ({got} bytes)"
    );
}

#[test]
fn stalled_readers_hold_about_a_chunk_each() {
    let f = fixture(16_000_000, 4_000_000);
    let server = Serving::start(&f.o, &[f.bundle.to_str().expect("utf8")]);
    let host = server.host.clone();
    let manifest = "/v2/h/app/manifests/1";
    let layer = format!("/v2/h/app/blobs/{}", f.image.layers[0].digest);
    // The layer is verified first, so the stalled readers below read it from the file.
    let (code, _) = get(&format!("http://{host}{layer}"));
    assert_eq!(code, 200);
    let readers: Vec<TcpStream> = (0..200)
        .flat_map(|_| [stalled(&host, manifest), stalled(&host, &layer)])
        .collect();
    // Every request has been taken up once a later one is answered; then a moment for
    // the responses to fill what they can.
    let (code, body) = get(&format!("http://{host}{manifest}"));
    assert_eq!((code, body.len()), (200, f.image.manifest.bytes.len()));
    std::thread::sleep(Duration::from_secs(3));
    let peak_mb = server.status_kb("VmHWM") / 1024;
    drop(readers);
    // Before: 838 MB for 200 stalled reads of a 4 MiB manifest alone (each read whole
    // into memory), ~1.5 MB per stalled layer read.
    assert!(
        peak_mb < 300,
        "peak RSS {peak_mb} MB with 200 stalled manifest and 200 stalled layer reads"
    );
}
