//! A chunked push whose PATCH breaks halfway does not fail the push: outrider asks the
//! registry where the upload stands (GET on the upload URL, `Range`) and goes on from there,
//! or, when the registry dropped the session, sends the blob again in a new one. Against the
//! real distribution registry behind a proxy that cuts one PATCH body in the middle.

use crate::support::images::{self, Flavour};
use crate::support::proxy::{self, Pass};
use crate::support::{Outrider, Registry, skopeo_raw, text};
use std::sync::{Arc, Mutex};

/// A proxy in front of `upstream` that cuts the `cut`th PATCH in half, recording every
/// request line. Returns its address and the lines seen.
fn cutting_proxy(upstream: String, cut: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let patches = Mutex::new(0usize);
    let host = proxy::start(upstream, move |line| {
        log.lock().expect("lock").push(line.to_owned());
        let mut n = patches.lock().expect("lock");
        if line.starts_with("PATCH") {
            *n += 1;
            if *n == cut {
                return Pass::HalfThenClose;
            }
        }
        Pass::Whole
    });
    (host, seen)
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
