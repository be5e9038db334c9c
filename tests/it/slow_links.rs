//! `--timeout` notices silence, never length: an upload that takes several times the
//! timeout on a slow link arrives, monolithic or chunked, and one whose link goes quiet is
//! caught within the timeout, named as a stall, and sent again after outrider asked the
//! registry where it stood. Against the real distribution registry behind a proxy that
//! reads request bodies at a set rate (the client feels backpressure, as on a slow link).

use crate::support::images::{self, Flavour};
use crate::support::proxy::{self, Pass};
use crate::support::{Outrider, Registry, skopeo_raw, text};
use std::sync::{Arc, Mutex};

/// A 12 MB layer: at 1.2 MB/s, an upload of about ten seconds.
const LAYER: usize = 12_000_000;
const RATE: usize = 1_200_000;

/// Packs one image with a `size`-byte layer; returns the bundle's folder, its path and
/// the layer's digest.
fn bundle(size: usize) -> (tempfile::TempDir, String, String) {
    let source = Registry::plain();
    let img = images::image(
        vec![images::layer(91, size, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(&source.host, "slow/app", "1", &img);
    let work = tempfile::tempdir().expect("tmp");
    let path = work.path().join("b.zip").to_str().expect("utf8").to_owned();
    Outrider::new().ok(&["pack", "-o", &path, &format!("{}/slow/app:1", source.host)]);
    (work, path, img.layers[0].digest.clone())
}

/// The layer's digest as the registry serves it, read back through its manifest.
fn layer_at(host: &str) -> Option<String> {
    let manifest = skopeo_raw(host, "slow/app", "1", &[])?;
    let m: serde_json::Value = serde_json::from_slice(&manifest).ok()?;
    m["layers"][0]["digest"].as_str().map(str::to_owned)
}

#[test]
fn an_upload_several_times_the_timeout_arrives_while_bytes_move() {
    let (_work, b, layer) = bundle(LAYER);
    for (b, layer, rate, chunked) in [(&b, &layer, RATE, false), (&b, &layer, RATE, true)] {
        let dest = Registry::plain();
        let proxy = proxy::start(dest.host.clone(), move |line| {
            if line.starts_with("PUT") || line.starts_with("PATCH") {
                Pass::Throttle(rate)
            } else {
                Pass::Whole
            }
        });
        let mut args = vec!["unpack", b, "--push", &proxy, "--timeout", "4"];
        // One PATCH of the whole blob: the old per-request read timeout cut it too.
        if chunked {
            args.extend(["--chunk-threshold", "1000000", "--chunk-size", "30000000"]);
        }
        let out = Outrider::new().run(&args);
        let (stdout, err) = text(&out);
        assert!(
            out.status.success(),
            "rate {rate}, chunked: {chunked}\n{stdout}{err}"
        );
        assert!(!err.contains("stall"), "{err}");
        assert_eq!(layer_at(&dest.host), Some(layer.clone()));
    }
}

#[test]
fn a_silent_upload_is_named_a_stall_and_sent_again() {
    let (_work, b, layer) = bundle(LAYER);
    let dest = Registry::plain();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let hex = layer.trim_start_matches("sha256:").to_owned();
    let proxy = proxy::start(dest.host.clone(), move |line| {
        let mut seen = log.lock().expect("lock");
        seen.push(line.to_owned());
        let layer_puts = seen
            .iter()
            .filter(|l| l.starts_with("PUT") && l.contains(&hex))
            .count();
        // The layer's first upload goes quiet after 3 MB; everything after passes.
        if line.starts_with("PUT") && line.contains(&hex) && layer_puts == 1 {
            Pass::StallAfter(3_000_000)
        } else {
            Pass::Whole
        }
    });
    let started = std::time::Instant::now();
    let out = Outrider::new().run(&["unpack", &b, "--push", &proxy, "--timeout", "3"]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{stdout}{err}");
    assert!(
        err.contains("for 3 s (stalled)"),
        "the stall is named: {err}"
    );
    // Asked where the upload stood before sending anything again.
    let seen = seen.lock().expect("lock").clone();
    let layer_hex = layer.trim_start_matches("sha256:").to_owned();
    let first_put = seen
        .iter()
        .position(|l| l.starts_with("PUT") && l.contains(&layer_hex))
        .expect("PUT");
    let session = seen[first_put]
        .split('?')
        .next()
        .and_then(|p| p.rsplit('/').next())
        .expect("upload session")
        .to_owned();
    // First whether the blob arrived after all (a late answer), then where the session
    // stands; only then anything sent again.
    let after: Vec<&String> = seen[first_put + 1..]
        .iter()
        .filter(|l| l.contains(&session) || l.contains(&layer_hex))
        .collect();
    assert!(
        after.len() >= 3
            && after[0].starts_with(&format!("HEAD /v2/slow/app/blobs/sha256:{layer_hex}"))
            && after[1].starts_with(&format!("GET /v2/slow/app/blobs/uploads/{session}")),
        "{seen:?}"
    );
    assert_eq!(layer_at(&dest.host), Some(layer));
    // Not a test of speed: only that the silent minute was not waited out.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(50),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn ctrl_c_during_a_push_says_what_a_rerun_does() {
    let (_work, b, layer) = bundle(LAYER);
    let dest = Registry::plain();
    let uploading = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = uploading.clone();
    let proxy = proxy::start(dest.host.clone(), move |line| {
        if line.starts_with("PUT") {
            started.store(true, std::sync::atomic::Ordering::SeqCst);
            Pass::Throttle(RATE)
        } else {
            Pass::Whole
        }
    });
    let o = Outrider::new();
    let child = o
        .cmd()
        .args(["unpack", &b, "--push", &proxy])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("outrider");
    // Mid-layer: the upload takes about ten seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !uploading.load(std::sync::atomic::Ordering::SeqCst) {
        assert!(std::time::Instant::now() < deadline, "no upload started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().expect("wait");
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted") && err.contains("The same command goes on"),
        "{err}"
    );
    assert!(layer_at(&dest.host).is_none(), "the tag moved");
    // And it does.
    o.ok(&["unpack", &b, "--push", &dest.host]);
    assert_eq!(layer_at(&dest.host), Some(layer));
}
