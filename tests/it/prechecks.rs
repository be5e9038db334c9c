//! Checks before the long work: a pack or a tar that cannot fit its disk is refused before
//! any blob is fetched or written (a real registry behind a counting proxy, a real tmpfs
//! the test mounts as root).

use crate::support::daemons::can_run_daemons;
use crate::support::images::{self, Flavour};
use crate::support::proxy::{self, Pass};
use crate::support::tmpfs::Tmpfs;
use crate::support::{Outrider, Registry, text};
use std::sync::{Arc, Mutex};

/// A registry holding one image of a 3 MB layer, behind a proxy that records every
/// request line.
fn source() -> (Registry, String, Arc<Mutex<Vec<String>>>) {
    let registry = Registry::plain();
    let img = images::image(
        vec![images::layer(361, 3_000_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(&registry.host, "space/app", "1", &img);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let host = proxy::start(registry.host.clone(), move |line| {
        log.lock().expect("lock").push(line.to_owned());
        Pass::Whole
    });
    (registry, host, seen)
}

fn blob_requests(seen: &Mutex<Vec<String>>) -> Vec<String> {
    seen.lock()
        .expect("lock")
        .iter()
        .filter(|l| l.contains("/blobs/"))
        .cloned()
        .collect()
}

#[test]
fn a_pack_too_big_for_its_disk_is_refused_before_any_blob_is_fetched() {
    if !can_run_daemons("the space check test (mounts a tmpfs)") {
        return;
    }
    let (_registry, host, seen) = source();
    let image = format!("{host}/space/app:1");
    let o = Outrider::new();
    let small = Tmpfs::mount("1m");
    let target = small.path().join("b.zip");
    let out = o.run(&[
        "pack",
        "--plain-http",
        &host,
        "--platform",
        "linux/amd64",
        "-o",
        target.to_str().expect("utf8"),
        &image,
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the bundle needs 3.")
            && err.contains("free on")
            && err.contains(small.path().to_str().expect("utf8"))
            && err.contains("--no-space-check"),
        "{err}"
    );
    // The config (read while planning) is a blob; the 3 MB layer is the one that counts.
    let layers: Vec<String> = blob_requests(&seen)
        .into_iter()
        .filter(|l| !l.starts_with("HEAD"))
        .collect();
    assert!(
        layers.len() <= 1,
        "blobs fetched before the refusal: {layers:?}"
    );
    assert!(small.names().is_empty(), "left {:?}", small.names());

    // Room enough: the same pack goes through.
    let big = Tmpfs::mount("16m");
    let target = big.path().join("b.zip");
    let out = o.run(&[
        "-v",
        "pack",
        "--plain-http",
        &host,
        "--platform",
        "linux/amd64",
        "-o",
        target.to_str().expect("utf8"),
        &image,
    ]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("space check: the bundle needs"), "{err}");
    assert!(target.exists());
}

#[test]
fn a_docker_save_too_big_for_its_disk_is_refused_before_writing() {
    if !can_run_daemons("the space check test (mounts a tmpfs)") {
        return;
    }
    let (_registry, host, _seen) = source();
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("b.zip");
    let b = bundle.to_str().expect("utf8");
    o.ok(&[
        "pack",
        "--plain-http",
        &host,
        "--platform",
        "linux/amd64",
        "-o",
        b,
        &format!("{host}/space/app:1"),
    ]);
    let small = Tmpfs::mount("1m");
    for per_image in [false, true] {
        let target = small
            .path()
            .join(if per_image { "tars" } else { "all.tar" });
        let mut args = vec!["unpack", b, "--docker-save", target.to_str().expect("utf8")];
        if per_image {
            args.push("--per-image");
        }
        let out = o.run(&args);
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("needs 2.") || err.contains("needs 3."),
            "{per_image}: {err}"
        );
        assert!(err.contains("free on"), "{err}");
        assert!(small.names().is_empty(), "left {:?}", small.names());
    }
}

#[test]
fn a_dry_run_as_a_pull_only_user_names_the_push_it_could_not_make() {
    if !can_run_daemons("a token registry") {
        return;
    }
    use crate::support::Auth;
    use crate::support::token::TokenServer;
    let (_registry, host, _seen) = source();
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("b.zip");
    let b = bundle.to_str().expect("utf8");
    o.ok(&[
        "pack",
        "--plain-http",
        &host,
        "--platform",
        "linux/amd64",
        "-o",
        b,
        &format!("{host}/space/app:1"),
    ]);
    let dry_run = |server: TokenServer| {
        let token_host = server
            .realm()
            .trim_start_matches("http://")
            .trim_end_matches("/token")
            .to_owned();
        let dest = Registry::start(Auth::Token(server), false);
        let out = o
            .cmd()
            .args([
                "-v",
                "unpack",
                b,
                "--push",
                &dest.host,
                "--dry-run",
                "--plain-http",
                &token_host,
            ])
            .env("OUTRIDER_USERNAME", "reader")
            .env("OUTRIDER_PASSWORD", "read-pass")
            .output()
            .expect("run");
        let (stdout, err) = text(&out);
        (out.status.code(), stdout, err)
    };

    let (code, stdout, err) = dry_run(TokenServer::start_pull_only("reader", "read-pass"));
    assert_eq!(code, Some(1), "{stdout}{err}");
    assert!(
        err.contains("cannot push `")
            && err.contains("space/app:1`")
            && err.contains("push access"),
        "{err}"
    );
    assert!(stdout.contains("no push access"), "{stdout}");

    // The same user with push granted: the check passes, one -v line.
    let (code, stdout, err) = dry_run(TokenServer::start("reader", "read-pass"));
    assert_eq!(code, Some(0), "{stdout}{err}");
    assert!(err.contains("push check: `space/app` is writable"), "{err}");
}

#[test]
fn the_room_a_partial_file_holds_counts_for_the_pack_that_replaces_it() {
    if !can_run_daemons("the space check test (mounts a tmpfs)") {
        return;
    }
    let (_registry, host, _seen) = source();
    let image = format!("{host}/space/app:1");
    let o = Outrider::new();
    let disk = Tmpfs::mount("5m");
    let target = disk.path().join("b.zip");
    let pack = || {
        o.run(&[
            "pack",
            "--plain-http",
            &host,
            "--platform",
            "linux/amd64",
            "--no-checksums",
            "-o",
            target.to_str().expect("utf8"),
            &image,
        ])
    };
    // 3 MB of something else: the ~3.9 MiB bundle does not fit beside it.
    let other = disk.path().join("other");
    std::fs::write(&other, vec![7u8; 3_000_000]).expect("write");
    let out = pack();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the bundle needs"), "{err}");

    // The same bytes as an earlier pack's `.partial` file: this pack writes into (or
    // truncates) it, so only the rest has to fit, and it does.
    std::fs::rename(&other, disk.path().join("b.zip.partial")).expect("rename");
    let out = pack();
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(target.exists());
}
