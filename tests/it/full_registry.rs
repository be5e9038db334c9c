//! A registry whose disk fills mid-push: `unpack --push` says the registry is out of
//! space, in one line, without retrying what cannot succeed; a rerun after space is made
//! finishes. The real distribution registry on a small tmpfs the test mounts (root only).

use crate::support::daemons::can_run_daemons;
use crate::support::images::{self, Flavour};
use crate::support::tmpfs::Tmpfs;
use crate::support::{Outrider, Registry, skopeo_raw, text};

#[test]
fn a_full_registry_is_named_as_full_and_not_retried() {
    if !can_run_daemons("a registry on a full tmpfs") {
        return;
    }
    let source = Registry::plain();
    let img = images::image(
        vec![images::layer(95, 6_000_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(&source.host, "big/app", "1", &img);
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("b.zip");
    let b = bundle.to_str().expect("utf8");
    let o = Outrider::new();
    o.ok(&["pack", "-o", b, &format!("{}/big/app:1", source.host)]);

    let dest = Registry::plain();
    let data = dest.dir.path().join("data");
    let disk = Tmpfs::mount_at(&data, "2m");
    let out = o.run(&["unpack", b, "--push", &dest.host]);
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    assert!(
        stdout.contains(&format!("`{}` is out of space", dest.host)),
        "{stdout}{err}"
    );
    assert!(!err.contains("retrying"), "retried a full disk: {err}");
    assert!(!stdout.contains("\"Err\""), "raw JSON shown: {stdout}");

    // Space made (the small disk taken away, the registry's folder back on the big one):
    // the same command finishes.
    drop(disk);
    let out = o.run(&["unpack", b, "--push", &dest.host]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{stdout}{err}");
    assert!(skopeo_raw(&dest.host, "big/app", "1", &[]).is_some());
}
