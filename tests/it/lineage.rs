//! No going back: three signed bundles of one series are pushed in order; the first one
//! again is refused as a rollback (the registry's tag stays where the third put it) until
//! `--allow-rollback`; an expired bundle is refused by `unpack` and `verify`. The series,
//! sequences, parents and expiry are read back from the bundles' indexes.

use crate::support::images::{self, Flavour, Image};
use crate::support::keys::key_pair;
use crate::support::rawzip;
use crate::support::{Outrider, Registry, digest, skopeo_raw, text};
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The bundle's `outrider.json`, parsed.
fn index_of(bundle: &Path) -> serde_json::Value {
    let entry = rawzip::read(bundle)
        .into_iter()
        .find(|e| e.name == "outrider.json")
        .expect("outrider.json");
    serde_json::from_slice(&entry.data).expect("index json")
}

/// The digest the registry's tag points at.
fn tag_digest(host: &str) -> String {
    digest(&skopeo_raw(host, "apps/app", "1", &[]).expect("tag at the destination"))
}

/// A version of the image: a base layer every version shares, and one of its own.
fn version(seed: u64) -> Image {
    images::image(
        vec![
            images::layer(6999, 4096, Flavour::Oci),
            images::layer(seed, 2048, Flavour::Oci),
        ],
        "amd64",
        Flavour::Oci,
        false,
    )
}

#[test]
fn an_older_bundle_of_a_series_is_refused_after_a_newer_one() {
    let src = Registry::plain();
    let dest = Registry::plain();
    let o = Outrider::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (key, public) = key_pair(d, "site");
    let image = format!("{}/apps/app:1", src.host);
    let mut bundles = Vec::new();
    let mut digests = Vec::new();
    for n in 1..=3u64 {
        let v = version(7000 + n);
        images::push_image(&src.host, "apps/app", "1", &v);
        digests.push(digest(&v.manifest.bytes));
        let bundle = d.join(format!("week{n}.zip"));
        let mut args = vec!["pack", &image, "-o", s(&bundle), "--sign", s(&key)];
        args.extend(["--series", "site-a", "--platform", "linux/amd64"]);
        let since;
        if n > 1 {
            since = d.join(format!("week{}.zip", n - 1));
            args.extend(["--since", s(&since)]);
        }
        let out = o.ok(&args);
        assert!(
            text(&out)
                .1
                .contains(&format!("sequence {n} of series `site-a`")),
            "{}",
            text(&out).1
        );
        bundles.push(bundle);
    }
    // The index records the series, the sequence from the counter, the parent.
    let third = index_of(&bundles[2]);
    let l = &third["lineage"];
    assert_eq!(l["series"], "site-a", "{third}");
    assert_eq!(l["sequence"], 3, "{third}");
    assert_eq!(l["parents"][0]["name"], "week2.zip", "{third}");
    assert_eq!(l["parents"][0]["kind"], "bundle", "{third}");
    assert_eq!(l["parents"][0]["sequence"], 2, "{third}");
    assert!(
        l["created"].as_str().is_some_and(|c| c.ends_with('Z')),
        "{third}"
    );
    assert_eq!(
        third["packedWith"]["platforms"][0], "linux/amd64",
        "{third}"
    );
    assert_eq!(third["packedWith"]["referrers"], true, "{third}");
    // The signature covers it: openssl checks the index as written.
    let (ok, said) = crate::support::keys::openssl_verifies(&public, &bundles[2]);
    assert!(ok, "openssl: {said}");

    // What a parent carried is missing: the parent is named, not only the digests.
    let out = o.run(&[
        "unpack",
        s(&bundles[2]),
        "--docker-save",
        s(&d.join("w3.tar")),
    ]);
    let (_, err) = text(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("this bundle needs `week2.zip` (sha256:") && err.contains("or its receipt"),
        "{err}"
    );
    let state = d.join("state");
    let push = |bundle: &Path, extra: &[&str]| {
        let mut args = vec!["unpack", s(bundle), "--push", &dest.host];
        args.extend(["--trusted-key", s(&public), "--state-dir", s(&state)]);
        args.extend(extra);
        o.run(&args)
    };
    for (bundle, want) in bundles.iter().zip(&digests) {
        let out = push(bundle, &[]);
        assert!(out.status.success(), "{}", text(&out).1);
        assert_eq!(&tag_digest(&dest.host), want);
    }
    // The first again: one line, exit 1, nothing pushed.
    let out = push(&bundles[0], &[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("rollback"))
        .unwrap_or_else(|| panic!("no rollback line in:\n{err}"));
    assert!(
        line.contains("`week1.zip` is sequence 1 of series `site-a`; sequence 3 was applied on")
            && line.contains("refusing a rollback; --allow-rollback to apply it anyway"),
        "{line}"
    );
    assert_eq!(
        tag_digest(&dest.host),
        digests[2],
        "a refused bundle moved the tag"
    );
    // verify refuses it too (and records nothing); the newest applies again as it is.
    let out = o.run(&["verify", s(&bundles[0]), "--state-dir", s(&state)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    let out = push(&bundles[2], &[]);
    assert!(
        out.status.success(),
        "the same bundle again: {}",
        text(&out).1
    );
    // Told to, it applies.
    let out = push(&bundles[0], &["--allow-rollback"]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(tag_digest(&dest.host), digests[0]);
    // serve takes a series' older bundles as bases of its newest; the oldest alone is a
    // rollback there too.
    let serve = |bundles: &[&Path]| {
        let mut args = vec!["serve", "--list", "--state-dir", s(&state)];
        args.extend(bundles.iter().map(|b| s(b)));
        o.run(&args)
    };
    let out = serve(&[&bundles[0], &bundles[1], &bundles[2]]);
    assert!(out.status.success(), "{}", text(&out).1);
    let out = serve(&[&bundles[0]]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    assert!(text(&out).1.contains("refusing a rollback"));
    // The state still remembers sequence 3.
    let out = push(&bundles[1], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    assert!(text(&out).1.contains("sequence 3 was applied"));
}

#[test]
fn an_expired_bundle_is_refused() {
    let src = Registry::plain();
    let dest = Registry::plain();
    let o = Outrider::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let v = version(7100);
    images::push_image(&src.host, "apps/app", "1", &v);
    let image = format!("{}/apps/app:1", src.host);
    let bundle = d.join("short.zip");
    o.ok(&["pack", &image, "-o", s(&bundle), "--expires", "1s"]);
    let index = index_of(&bundle);
    assert!(index["lineage"]["expires"].is_string(), "{index}");
    assert!(index["lineage"].get("series").is_none(), "{index}");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let state = d.join("state");
    let out = o.run(&[
        "unpack",
        s(&bundle),
        "--push",
        &dest.host,
        "--state-dir",
        s(&state),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`short.zip` expired on") && err.contains("--allow-expired"),
        "{err}"
    );
    assert!(
        skopeo_raw(&dest.host, "apps/app", "1", &[]).is_none(),
        "pushed anyway"
    );
    let out = o.run(&["verify", s(&bundle)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    let out = o.run(&[
        "unpack",
        s(&bundle),
        "--push",
        &dest.host,
        "--state-dir",
        s(&state),
        "--allow-expired",
    ]);
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(tag_digest(&dest.host), digest(&v.manifest.bytes));
    // A bad duration is a usage error.
    let out = o.run(&[
        "pack",
        &image,
        "-o",
        s(&d.join("x.zip")),
        "--expires",
        "soon",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
}
