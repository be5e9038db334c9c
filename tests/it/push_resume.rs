//! A chunked push whose PATCH fails does not fail the push: outrider asks the registry where
//! the upload stands (GET on the upload URL, `Range`) and goes on from there, or, when the
//! registry dropped the session, sends the blob again in a new one. Against the real
//! distribution registry behind a proxy that either cuts one PATCH body in the middle
//! (distribution then drops the session) or answers one PATCH `416` itself without passing
//! it on (the session stays, and distribution says how much it holds).

use crate::support::images::{self, Flavour, Image};
use crate::support::proxy::{self, Pass};
use crate::support::{Outrider, Registry, skopeo_raw, text};
use std::sync::{Arc, Mutex};

/// A proxy in front of `upstream` that does `what` to the second PATCH, recording every
/// request line. Returns its address and the lines seen.
fn proxy_failing_second_patch(
    upstream: String,
    what: fn() -> Pass,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let patches = Mutex::new(0usize);
    let host = proxy::start(upstream, move |line| {
        log.lock().expect("lock").push(line.to_owned());
        let mut n = patches.lock().expect("lock");
        if line.starts_with("PATCH") {
            *n += 1;
            if *n == 2 {
                return what();
            }
        }
        Pass::Whole
    });
    (host, seen)
}

/// Packs a 3 MB single-layer image, pushes it in 1 MiB chunks through a proxy that does
/// `what` to the second PATCH, and checks the push succeeded with the layer whole at the
/// registry. Returns outrider's stderr and the request lines from the second PATCH on.
fn push_through(what: fn() -> Pass) -> (String, Vec<String>) {
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
    let (proxy, seen) = proxy_failing_second_patch(dest.host.clone(), what);
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
    arrived_whole(&dest, &img);
    let lines = seen.lock().expect("lock").clone();
    let second = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("PATCH"))
        .nth(1)
        .map(|(i, _)| i)
        .expect("a second PATCH");
    (err, lines[second..].to_vec())
}

/// The manifest resolves at `dest` and the layer there is byte-identical.
fn arrived_whole(dest: &Registry, img: &Image) {
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

#[test]
fn a_chunked_push_that_breaks_goes_on_in_a_new_session() {
    let (err, after) = push_through(|| Pass::HalfThenClose);
    // distribution 2 drops an upload whose PATCH broke (the offset in its `_state` no longer
    // matches what it stored), so against it the blob goes again in a new session; a
    // registry that keeps the session is asked where it stands instead.
    assert!(
        err.contains("continuing from what the registry holds")
            || err.contains("uploading the blob again in a new session"),
        "{err}"
    );
    assert!(
        after
            .iter()
            .any(|l| (l.starts_with("GET") || l.starts_with("POST"))
                && l.contains("/blobs/uploads/")),
        "neither the upload's status asked nor a new session opened: {after:?}"
    );
}

#[test]
fn a_refused_chunk_goes_on_from_what_the_registry_holds() {
    let (err, after) = push_through(|| Pass::Answer("416 Requested Range Not Satisfiable"));
    assert!(
        err.contains("continuing from what the registry holds"),
        "{err}"
    );
    assert!(!err.contains("new session"), "{err}");
    // The refused PATCH, the status asked on the upload URL, then the second chunk again
    // from 1 MiB: no new session, no byte sent twice.
    assert!(
        after.len() > 2 && after[1].starts_with("GET") && after[1].contains("/blobs/uploads/"),
        "{after:?}"
    );
    assert!(
        !after.iter().any(|l| l.starts_with("POST")),
        "a new session was opened: {after:?}"
    );
    let patches = after.iter().filter(|l| l.starts_with("PATCH")).count();
    assert_eq!(
        patches, 3,
        "the refused chunk, then chunks 2 and 3: {after:?}"
    );
}
