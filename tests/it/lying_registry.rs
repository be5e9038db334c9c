//! What a real registry will not do: a tiny HTTP server that sends wrong bytes, too many
//! bytes, a manifest whose digest header lies, 429 with Retry-After before answering, or
//! breaks or stalls mid-blob (and then honours `Range`, or not). One thread per connection,
//! so a stalled answer does not hold up the next request.

use crate::support::images::{self, Flavour, Image};
use crate::support::{Outrider, text};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// While slot N is set, a `StallUnrangedWhileFlagged(N)` server stalls every whole-blob
/// GET of the first layer (each resume test turns its own slot on and off between runs).
pub(crate) static STALL_UNRANGED: [AtomicBool; 4] = [const { AtomicBool::new(false) }; 4];

#[derive(Clone, Copy, Debug)]
pub(crate) enum Lie {
    Honest,
    FlippedLayer,
    LongLayer,
    ManifestDigestHeader,
    TooManyRequestsOnce,
    /// Sends half the layer, then nothing for a minute.
    StallLayer,
    /// The first layer GET sends half, then closes the connection; later ones honour Range.
    DropLayerOnce,
    /// As `DropLayerOnce`, but later ones ignore Range and send the whole layer (200).
    DropLayerOnceNoRange,
    /// The first layer GET sends half, then goes silent for a minute; later ones honour
    /// Range.
    StallLayerOnce,
    /// While its [`STALL_UNRANGED`] slot is set, a GET of the first layer without `Range`
    /// sends half, then nothing for a minute; GETs with `Range` are answered.
    StallUnrangedWhileFlagged(usize),
    /// A blob GET while another is being answered gets `429` (`Retry-After: 1`); each blob
    /// answer takes 100 ms. Counts its 429s in [`TOO_MANY_SENT`].
    TooManyAtOnce,
    /// Every answer carries `RateLimit-Remaining: 5;w=21600`, as Docker Hub near its quota.
    LowQuota,
}

/// Blob GETs being answered by a `TooManyAtOnce` server, and the 429s it sent.
pub(crate) static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
pub(crate) static TOO_MANY_SENT: AtomicUsize = AtomicUsize::new(0);

/// Serves `image` as `lie/img:1` over plain HTTP, lying as told about its first layer
/// (the others are served honestly, `Range` honoured). Returns host and hits.
fn serve(image: Image, lie: Lie) -> (String, Arc<AtomicUsize>) {
    let (host, hits, _) = serve_recording(image, lie);
    (host, hits)
}

/// As [`serve`], also recording every request target (path and query).
pub(crate) fn serve_recording(
    image: Image,
    lie: Lie,
) -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let host = listener.local_addr().expect("addr").to_string();
    let layer_hits = Arc::new(AtomicUsize::new(0));
    let hits = layer_hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (image, hits, record) = (image.clone(), hits.clone(), record.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                let mut range_from: Option<usize> = None;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("range: bytes=") {
                        range_from = v.trim().trim_end_matches('-').parse().ok();
                    }
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or("");
                let target = parts.next().unwrap_or("");
                record.lock().expect("lock").push(match range_from {
                    Some(n) => format!("{target} Range:{n}-"),
                    None => target.to_owned(),
                });
                let path = target.split('?').next().unwrap_or("");
                let (mut status, mut headers, mut body): (&str, Vec<String>, Vec<u8>) =
                    ("404 Not Found", vec![], vec![]);
                if matches!(lie, Lie::TooManyAtOnce) && path.contains("/blobs/") {
                    if IN_FLIGHT.fetch_add(1, Ordering::SeqCst) > 0 {
                        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
                        TOO_MANY_SENT.fetch_add(1, Ordering::SeqCst);
                        let _ = stream.write_all(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
                }
                if path == "/v2/" {
                    status = "200 OK";
                } else if path == "/v2/lie/img/manifests/1"
                    || path == format!("/v2/lie/img/manifests/{}", image.manifest.digest)
                {
                    status = "200 OK";
                    let digest = match lie {
                        Lie::ManifestDigestHeader => crate::support::digest(b"something else"),
                        _ => image.manifest.digest.clone(),
                    };
                    headers = vec![
                        format!("Content-Type: {}", image.manifest.media_type),
                        format!("Docker-Content-Digest: {digest}"),
                    ];
                    body = image.manifest.bytes.clone();
                } else if path == format!("/v2/lie/img/blobs/{}", image.config.digest) {
                    status = "200 OK";
                    body = image.config.bytes.clone();
                } else if let Some(other) = image.layers[1..]
                    .iter()
                    .find(|l| path == format!("/v2/lie/img/blobs/{}", l.digest))
                {
                    (status, headers, body) = ranged(&other.bytes, range_from);
                } else if path == format!("/v2/lie/img/blobs/{}", image.layers[0].digest) {
                    let n = hits.fetch_add(1, Ordering::SeqCst);
                    status = "200 OK";
                    body = image.layers[0].bytes.clone();
                    match lie {
                        Lie::FlippedLayer => body[100] ^= 0xff,
                        Lie::LongLayer => body.extend_from_slice(b"trailing garbage"),
                        Lie::TooManyRequestsOnce if n == 0 => {
                            status = "429 Too Many Requests";
                            headers = vec!["Retry-After: 1".into()];
                            body = vec![];
                        }
                        Lie::StallUnrangedWhileFlagged(_) if range_from.is_some() => {
                            (status, headers, body) = ranged(&body, range_from);
                        }
                        Lie::DropLayerOnce | Lie::DropLayerOnceNoRange | Lie::StallLayerOnce
                            if n == 0 =>
                        {
                            stall_half(&mut stream, &body, matches!(lie, Lie::StallLayerOnce));
                            return;
                        }
                        Lie::StallUnrangedWhileFlagged(slot)
                            if STALL_UNRANGED[slot].load(Ordering::SeqCst) =>
                        {
                            stall_half(&mut stream, &body, true);
                            return;
                        }
                        Lie::DropLayerOnce | Lie::StallLayerOnce => {
                            (status, headers, body) = ranged(&body, range_from);
                        }
                        _ => {}
                    }
                }
                let mut response = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for h in headers {
                    response.push_str(&h);
                    response.push_str("\r\n");
                }
                if matches!(lie, Lie::LowQuota) {
                    response.push_str("RateLimit-Remaining: 5;w=21600\r\n");
                }
                response.push_str("\r\n");
                let _ = stream.write_all(response.as_bytes());
                if matches!(lie, Lie::StallLayer) && path.ends_with(&image.layers[0].digest) {
                    let _ = stream.write_all(&body[..body.len() / 2]);
                    std::thread::sleep(std::time::Duration::from_secs(60));
                    return;
                }
                if method != "HEAD" {
                    let _ = stream.write_all(&body);
                }
            });
        }
    });
    (host, layer_hits, seen)
}

/// Sends a 200 head and the first half of `body`; then, with `stall`, a minute of silence.
fn stall_half(stream: &mut std::net::TcpStream, body: &[u8], stall: bool) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body[..body.len() / 2]);
    let _ = stream.flush();
    if stall {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

/// A blob answer: `206` with `Content-Range` from `from` when asked, else `200` whole.
fn ranged(bytes: &[u8], from: Option<usize>) -> (&'static str, Vec<String>, Vec<u8>) {
    match from.filter(|&f| f < bytes.len()) {
        Some(from) => (
            "206 Partial Content",
            vec![format!(
                "Content-Range: bytes {from}-{}/{}",
                bytes.len() - 1,
                bytes.len()
            )],
            bytes[from..].to_vec(),
        ),
        None => ("200 OK", vec![], bytes.to_vec()),
    }
}

fn pack(host: &str, out: &std::path::Path) -> std::process::Output {
    Outrider::new().run(&[
        "pack",
        "--plain-http",
        host,
        "--retries",
        "2",
        "-o",
        out.to_str().expect("utf8"),
        &format!("{host}/lie/img:1"),
    ])
}

#[test]
fn lies_are_refused_and_leave_no_bundle() {
    for (lie, expect) in [
        (Lie::FlippedLayer, "hashes to"),
        (Lie::LongLayer, "expected"),
        (Lie::ManifestDigestHeader, "bad content"),
    ] {
        let img = images::image(
            vec![images::layer(51, 5_000, Flavour::Docker)],
            "amd64",
            Flavour::Docker,
            false,
        );
        let (host, _) = serve(img.clone(), lie);
        let work = tempfile::tempdir().expect("tmp");
        let out_path = work.path().join("x.zip");
        let out = pack(&host, &out_path);
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(expect), "expected `{expect}` in: {err}");
        assert!(!out_path.exists(), "a bundle was written");
        assert!(
            !work.path().join("x.zip.partial").exists(),
            "a partial file was left"
        );
    }
}

#[test]
fn too_many_requests_is_retried_after_the_delay_asked() {
    let img = images::image(
        vec![images::layer(52, 5_000, Flavour::Docker)],
        "amd64",
        Flavour::Docker,
        false,
    );
    let (host, hits) = serve(img.clone(), Lie::TooManyRequestsOnce);
    let work = tempfile::tempdir().expect("tmp");
    let out_path = work.path().join("x.zip");
    let out = pack(&host, &out_path);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 2, "one 429, one success");
    Outrider::new().ok(&["verify", out_path.to_str().expect("utf8")]);
}

#[test]
fn a_broken_or_stalled_download_resumes_where_it_stopped() {
    // The third registry ignores Range (answers 200): that blob starts over.
    for lie in [
        Lie::DropLayerOnce,
        Lie::StallLayerOnce,
        Lie::DropLayerOnceNoRange,
    ] {
        let img = images::image(
            vec![images::layer(54, 3_000_000, Flavour::Docker)],
            "amd64",
            Flavour::Docker,
            false,
        );
        let size = img.layers[0].bytes.len();
        let (host, hits, seen) = serve_recording(img.clone(), lie);
        let work = tempfile::tempdir().expect("tmp");
        let out_path = work.path().join("x.zip");
        // A stall is noticed after --timeout seconds of silence, not minutes.
        let out = Outrider::new().run(&[
            "pack",
            "--plain-http",
            &host,
            "--timeout",
            "2",
            "-o",
            out_path.to_str().expect("utf8"),
            &format!("{host}/lie/img:1"),
        ]);
        let (_, err) = text(&out);
        assert!(out.status.success(), "{err}");
        assert_eq!(hits.load(Ordering::SeqCst), 2, "one broken GET, one more");
        let layer_path = format!("/v2/lie/img/blobs/{}", img.layers[0].digest);
        let asked: Vec<String> = seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|t| t.starts_with(&layer_path))
            .cloned()
            .collect();
        assert_eq!(
            asked[0], layer_path,
            "the first GET asks for the whole blob"
        );
        let from: usize = asked[1]
            .rsplit("Range:")
            .next()
            .and_then(|r| r.trim_end_matches('-').parse().ok())
            .unwrap_or_else(|| panic!("the second GET names no Range: {asked:?}"));
        assert!(from > 0 && from <= size / 2, "{asked:?}");
        Outrider::new().ok(&["verify", out_path.to_str().expect("utf8")]);
        // The same bytes as a pack that never broke.
        let (clean_host, _) = serve(img, Lie::Honest);
        let clean = work.path().join("clean.zip");
        let out = pack(&clean_host, &clean);
        assert!(out.status.success(), "{}", text(&out).1);
        let layer = |p: &std::path::Path| {
            crate::support::rawzip::read(p)
                .into_iter()
                .find(|e| e.name.ends_with(&img_layer_hex(&asked[0])))
                .map(|e| e.data)
        };
        assert!(layer(&clean).is_some(), "the layer entry is found");
        assert_eq!(layer(&out_path), layer(&clean), "{lie:?}");
    }
}

/// The hex of the digest a blob path names.
fn img_layer_hex(path: &str) -> String {
    path.rsplit("sha256:").next().unwrap_or_default().to_owned()
}

#[test]
fn mirrors_are_asked_with_the_ns_parameter() {
    let img = images::image(
        vec![images::layer(53, 2_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    let (host, _, seen) = serve_recording(img.clone(), Lie::Honest);
    let work = tempfile::tempdir().expect("tmp");
    let out_path = work.path().join("m.zip");
    // `upstream.invalid` is never contacted: every request goes to the mirror.
    let out = Outrider::new().run(&[
        "pack",
        "--mirror",
        &format!("upstream.invalid={host}"),
        "--plain-http",
        &host,
        "-o",
        out_path.to_str().expect("utf8"),
        "upstream.invalid/lie/img:1",
    ]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    let seen = seen.lock().expect("lock").clone();
    let v2: Vec<&String> = seen.iter().filter(|t| t.starts_with("/v2/lie/")).collect();
    assert!(
        !v2.is_empty() && v2.iter().all(|t| t.ends_with("ns=upstream.invalid")),
        "{seen:?}"
    );
    let info: serde_json::Value = serde_json::from_slice(
        &Outrider::new()
            .ok(&["inspect", "--json", out_path.to_str().expect("utf8")])
            .stdout,
    )
    .expect("json");
    assert_eq!(
        info["images"][0]["reference"].as_str(),
        Some("upstream.invalid/lie/img:1")
    );
}

#[test]
fn plan_reads_manifests_only() {
    let img = images::image(
        vec![images::layer(54, 2_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    let (host, _, seen) = serve_recording(img.clone(), Lie::Honest);
    let out = Outrider::new().run(&[
        "plan",
        "--plain-http",
        &host,
        "--json",
        &format!("{host}/lie/img:1"),
    ]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{err}");
    let planned: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let total =
        (img.manifest.bytes.len() + img.config.bytes.len() + img.layers[0].bytes.len()) as u64;
    assert_eq!(planned["images"][0]["totalBytes"].as_u64(), Some(total));
    let seen = seen.lock().expect("lock").clone();
    assert!(
        !seen.iter().any(|t| t.contains("/blobs/")),
        "plan read a blob: {seen:?}"
    );
}

#[test]
fn ctrl_c_during_pack_exits_130_and_leaves_only_what_a_rerun_resumes() {
    let img = images::image(
        vec![images::layer(53, 200_000, Flavour::Docker)],
        "amd64",
        Flavour::Docker,
        false,
    );
    let (host, hits) = serve(img, Lie::StallLayer);
    let work = tempfile::tempdir().expect("tmp");
    let out_path = work.path().join("x.zip");
    let o = Outrider::new();
    let child = o
        .cmd()
        .args([
            "pack",
            "--plain-http",
            &host,
            "-o",
            out_path.to_str().expect("utf8"),
        ])
        .arg(format!("{host}/lie/img:1"))
        .env("OUTRIDER_HEARTBEAT_SECS", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until the layer download has started (and so the bundle's `.partial` exists).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let partial = work.path().join("x.zip.partial");
    while hits.load(Ordering::SeqCst) == 0 || !partial.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the layer was never asked for"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Without a terminal, a stalled transfer still says where it stands, periodically.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = child.wait_with_output().expect("wait");
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    // The last line: by then the layer had been silent for a whole interval.
    let beat = err
        .lines()
        .rfind(|l| l.contains("transferring") && l.contains("lie/img"))
        .unwrap_or_else(|| panic!("no heartbeat for the stalled layer:\n{err}"));
    let field = |name: &str| -> u64 {
        beat.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name}= in {beat:?}"))
    };
    assert!(
        field("bytes") > 0 && field("bytes") < field("total"),
        "{beat}"
    );
    // The rate is over the last interval: a stalled transfer shows 0, not its average.
    assert_eq!(field("rate"), 0, "{beat}");
    // What was written is kept under `.partial`, with the journal a rerun resumes from.
    let mut left: Vec<_> = std::fs::read_dir(work.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["x.zip.journal", "x.zip.partial"]);
    assert!(err.contains("the same command resumes it"), "{err}");
}
