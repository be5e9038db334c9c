//! A chunked push whose PATCH breaks halfway does not fail the push: outrider asks the
//! registry where the upload stands (GET on the upload URL, `Range`) and goes on from there,
//! or, when the registry dropped the session, sends the blob again in a new one. Against the
//! real distribution registry behind a proxy that cuts one PATCH body in the middle.

use crate::support::images::{self, Flavour};
use crate::support::{Outrider, Registry, skopeo_raw, text};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// Forwards to `upstream`, reading each request's head (method, path, Content-Length) as
/// it passes; the `cut`th PATCH has half its body forwarded, then both sides are closed.
/// Returns its address and the request lines seen.
fn cutting_proxy(upstream: String, cut: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let host = listener.local_addr().expect("addr").to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let patches = Arc::new(Mutex::new(0usize));
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (log, patches) = (log.clone(), patches.clone());
            // Answers flow back untouched.
            let (mut from_server, mut to_client) = (
                server.try_clone().expect("clone"),
                client.try_clone().expect("clone"),
            );
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
                let _ = to_client.shutdown(std::net::Shutdown::Both);
            });
            std::thread::spawn(move || forward_requests(client, server, &log, &patches, cut));
        }
    });
    (host, seen)
}

fn forward_requests(
    client: TcpStream,
    mut server: TcpStream,
    log: &Mutex<Vec<String>>,
    patches: &Mutex<usize>,
    cut: usize,
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
        let first = head.lines().next().unwrap_or_default().to_owned();
        log.lock().expect("lock").push(first.clone());
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let cutting = first.starts_with("PATCH") && {
            let mut n = patches.lock().expect("lock");
            *n += 1;
            *n == cut
        };
        if server.write_all(head.as_bytes()).is_err() {
            return;
        }
        if cutting {
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

#[test]
fn a_chunked_push_that_breaks_goes_on_from_what_the_registry_holds() {
    let source = Registry::plain();
    let img = images::image(
        vec![images::layer(81, 3_000_000, Flavour::Docker)],
        "amd64",
        Flavour::Docker,
        false,
    );
    images::push_image(&source.host, "big/img", "1", &img);
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("b.zip");
    let b = bundle.to_str().expect("utf8");
    let o = Outrider::new();
    o.ok(&["pack", "-o", b, &format!("{}/big/img:1", source.host)]);

    let dest = Registry::plain();
    let (proxy, seen) = cutting_proxy(dest.host.clone(), 2);
    let out = o.run(&[
        "-v",
        "unpack",
        b,
        "--push",
        &format!("http://{proxy}"),
        "--chunk-threshold",
        "1000",
        "--chunk-size",
        "1048576",
    ]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    // distribution 2 drops an upload whose PATCH broke (the offset in its `_state` no longer
    // matches what it stored), so against it the blob goes again in a new session; a
    // registry that keeps the session is asked where it stands instead.
    assert!(
        err.contains("continuing from what the registry holds")
            || err.contains("uploading the blob again in a new session"),
        "{err}"
    );
    let lines = seen.lock().expect("lock").clone();
    let cut_at = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("PATCH"))
        .nth(1)
        .map(|(i, _)| i)
        .expect("a second PATCH");
    assert!(
        lines[cut_at..]
            .iter()
            .any(|l| (l.starts_with("GET") || l.starts_with("POST"))
                && l.contains("/blobs/uploads/")),
        "neither the upload's status asked nor a new session opened: {lines:?}"
    );
    // The layer arrived whole: the manifest resolves and the layer is byte-identical.
    assert_eq!(
        skopeo_raw(&dest.host, "big/img", "1", &[]).as_deref(),
        Some(&img.manifest.bytes[..])
    );
    let layer = std::process::Command::new("curl")
        .args([
            "-sf",
            &format!(
                "http://{}/v2/big/img/blobs/{}",
                dest.host, img.layers[0].digest
            ),
        ])
        .output()
        .expect("curl");
    assert!(layer.stdout == img.layers[0].bytes, "the layer differs");
}
