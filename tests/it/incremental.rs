//! Incremental bundles: week 1 carries images A and B; week 2 adds C (sharing A's base)
//! and a new tag of B (one new layer). The week-2 bundle holds exactly the new blobs and
//! manifests, whichever way the far side is described (old bundle, receipt, image names).

use crate::support::images::{self, Blob, Flavour, Image};
use crate::support::{Outrider, Registry, skopeo_inspect, skopeo_raw, text};
use std::collections::BTreeMap;

struct Site {
    source: Registry,
    base: Blob,
    a: Image,
    b1: Image,
    b2: Image,
    c: Image,
    d: Image,
}

fn site() -> Site {
    let source = Registry::plain();
    let h = &source.host;
    let base = images::layer(61, 200_000, Flavour::Oci);
    let b_layer = images::layer(63, 30_000, Flavour::Oci);
    let a = images::image(
        vec![base.clone(), images::layer(62, 30_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    let b1 = images::image(
        vec![base.clone(), b_layer.clone()],
        "amd64",
        Flavour::Oci,
        false,
    );
    let b2 = images::image(
        vec![
            base.clone(),
            b_layer,
            images::layer(64, 25_000, Flavour::Oci),
        ],
        "amd64",
        Flavour::Oci,
        false,
    );
    let c = images::image(
        vec![base.clone(), images::layer(65, 20_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    let d = images::image(
        vec![images::layer(66, 10_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(h, "apps/a", "1", &a);
    images::push_image(h, "apps/b", "1", &b1);
    images::push_image(h, "apps/b", "2", &b2);
    images::push_image(h, "apps/c", "1", &c);
    images::push_image(h, "apps/d", "1", &d);
    Site {
        source,
        base,
        a,
        b1,
        b2,
        c,
        d,
    }
}

/// Entry name → size, read with the zip crate.
fn entries(path: &std::path::Path) -> BTreeMap<String, u64> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).expect("open")).expect("zip");
    (0..z.len())
        .map(|i| {
            let f = z.by_index(i).expect("entry");
            (f.name().expect("name").into_owned(), f.size())
        })
        .collect()
}

fn blob_entry(b: &Blob) -> (String, u64) {
    (
        format!("blobs/sha256/{}", &b.digest[7..]),
        b.bytes.len() as u64,
    )
}

fn sha(path: &std::path::Path) -> String {
    crate::support::digest(&std::fs::read(path).expect("read"))
}

fn curl_delete(host: &str, repo: &str, digest: &str) {
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "DELETE",
        ])
        .arg(format!("http://{host}/v2/{repo}/blobs/{digest}"))
        .output()
        .expect("curl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "202",
        "delete {repo}@{digest}"
    );
}

#[test]
fn week_two_carries_exactly_what_is_new() {
    let s = site();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let p = |n: &str| w.path().join(n).to_str().expect("utf8").to_owned();
    let src = &s.source.host;
    let r = |name: &str| format!("{src}/{name}");
    let week2 = [r("apps/a:1"), r("apps/b:2"), r("apps/c:1"), r("apps/d:1")];

    // Week 1 crosses; the push writes a receipt.
    o.ok(&[
        "pack",
        "-o",
        &p("week1.zip"),
        &r("apps/a:1"),
        &r("apps/b:1"),
    ]);
    let dest = Registry::plain();
    o.ok(&[
        "unpack",
        &p("week1.zip"),
        "--push",
        &dest.host,
        "--receipt",
        &p("site.receipt.json"),
    ]);
    let receipt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("site.receipt.json")).expect("receipt"))
            .expect("json");
    assert_eq!(
        receipt["repositories"]["apps/a"]["tags"]["1"].as_str(),
        Some(s.a.manifest.digest.as_str())
    );
    assert!(
        receipt["repositories"]["apps/b"]["blobs"]
            .as_array()
            .expect("blobs")
            .iter()
            .any(|b| b.as_str() == Some(s.base.digest.as_str()))
    );

    // Week 2, three ways of naming what the far side has.
    let out_a = p("week2-since-bundle.zip");
    let week1 = p("week1.zip");
    let mut since_bundle = vec!["pack", "-o", &out_a, "--since", &week1];
    since_bundle.extend(week2.iter().map(String::as_str));
    o.ok(&since_bundle);
    let out_b = p("week2-since-receipt.zip");
    let rec = p("site.receipt.json");
    let mut since_receipt = vec!["pack", "-o", &out_b, "--since", &rec];
    since_receipt.extend(week2.iter().map(String::as_str));
    o.ok(&since_receipt);
    let out_c = p("week2-already.zip");
    let (ra, rb) = (r("apps/a:1"), r("apps/b:1"));
    let mut already = vec![
        "pack",
        "-o",
        &out_c,
        "--already-transferred",
        &ra,
        "--already-transferred",
        &rb,
    ];
    already.extend(week2.iter().map(String::as_str));
    o.ok(&already);
    assert_eq!(
        sha(std::path::Path::new(&out_a)),
        sha(std::path::Path::new(&out_b)),
        "receipt round trip differs from --since week1.zip"
    );
    assert_eq!(
        sha(std::path::Path::new(&out_a)),
        sha(std::path::Path::new(&out_c)),
        "--already-transferred differs from --since week1.zip"
    );

    // Exactly the new manifests and blobs (A is unchanged: nothing of it is stored).
    let mut got = entries(std::path::Path::new(&out_a));
    assert!(got.remove("outrider.json").is_some());
    let want: BTreeMap<String, u64> = [
        blob_entry(&s.b2.manifest),
        blob_entry(&s.b2.config),
        blob_entry(&s.b2.layers[2]),
        blob_entry(&s.c.manifest),
        blob_entry(&s.c.config),
        blob_entry(&s.c.layers[1]),
        blob_entry(&s.d.manifest),
        blob_entry(&s.d.config),
        blob_entry(&s.d.layers[0]),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    let full = p("full.zip");
    let mut full_args = vec!["pack", "-o", &full];
    full_args.extend(week2.iter().map(String::as_str));
    o.ok(&full_args);
    let size = |f: &str| std::fs::metadata(f).expect("stat").len();
    assert!(
        size(&out_a) + s.base.bytes.len() as u64 <= size(&full),
        "week 2 is not smaller than a full bundle by the base layer"
    );
    let info: serde_json::Value =
        serde_json::from_slice(&o.ok(&["inspect", "--json", &out_a]).stdout).expect("json");
    assert_eq!(
        info["images"][0]["bytes"].as_u64(),
        Some(0),
        "A is carried again: {info}"
    );
    assert!(info["externalBytes"].as_u64().unwrap_or(0) >= s.base.bytes.len() as u64);
    o.ok(&["verify", &out_a]);

    // Week 2 pushes on top of week 1; every digest equals the source.
    o.ok(&["unpack", &out_a, "--push", &dest.host, "--receipt", &rec]);
    for (repo, tag, img) in [
        ("apps/a", "1", &s.a),
        ("apps/b", "2", &s.b2),
        ("apps/c", "1", &s.c),
        ("apps/d", "1", &s.d),
    ] {
        assert_eq!(
            skopeo_raw(&dest.host, repo, tag, &[]).as_deref(),
            Some(&img.manifest.bytes[..]),
            "{repo}:{tag}"
        );
        skopeo_inspect(&dest.host, &format!("{repo}:{tag}"))
            .unwrap_or_else(|e| panic!("{repo}:{tag}: {e}"));
    }
    assert_eq!(
        skopeo_raw(&dest.host, "apps/b", "1", &[]).as_deref(),
        Some(&s.b1.manifest.bytes[..])
    );

    // An external manifest's summary in the index is checked against the bytes the
    // destination holds before it is tagged: a reordered blob list stops image A.
    let mut entries = crate::support::rawzip::read(std::path::Path::new(&out_a));
    for e in entries.iter_mut().filter(|e| e.name == "outrider.json") {
        let mut index: serde_json::Value = serde_json::from_slice(&e.data).expect("index");
        for m in index["manifests"].as_array_mut().expect("manifests") {
            if m["digest"] == s.a.manifest.digest.as_str() {
                assert!(m.get("entry").is_none(), "A's manifest is external");
                m["blobs"].as_array_mut().expect("blobs").swap(1, 2);
            }
        }
        *e = crate::support::rawzip::Entry::new(&e.name, serde_json::to_vec(&index).expect("json"));
    }
    let tampered = p("tampered.zip");
    std::fs::write(&tampered, crate::support::rawzip::write(&entries)).expect("write");
    let out = o.run(&["unpack", &tampered, "--push", &dest.host]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("refused") && stdout.contains("must match in order"),
        "{stdout}{stderr}"
    );

    // A lost receipt, rebuilt from the registry, says what the pushes recorded.
    o.ok(&[
        "receipt",
        "--registry",
        &dest.host,
        "-o",
        &p("rebuilt.json"),
    ]);
    let mut kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&rec).expect("read")).expect("json");
    let rebuilt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("rebuilt.json")).expect("read")).expect("json");
    // Where the images came from (`sources`) is the push's to say; a registry cannot.
    for (repo, content) in kept["repositories"].as_object_mut().expect("repositories") {
        let sources = content.as_object_mut().expect("content").remove("sources");
        assert_eq!(
            sources,
            Some(serde_json::json!([format!("{src}/{repo}")])),
            "{repo}"
        );
    }
    assert_eq!(kept["repositories"], rebuilt["repositories"]);
}

#[test]
fn missing_base_layers_are_found_before_anything_is_written() {
    let s = site();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let p = |n: &str| w.path().join(n).to_str().expect("utf8").to_owned();
    let src = &s.source.host;
    let r = |name: &str| format!("{src}/{name}");
    o.ok(&[
        "pack",
        "-o",
        &p("week1.zip"),
        &r("apps/a:1"),
        &r("apps/b:1"),
    ]);
    let week1 = p("week1.zip");
    o.ok(&[
        "pack",
        "-o",
        &p("week2.zip"),
        "--since",
        &week1,
        &r("apps/b:2"),
        &r("apps/c:1"),
        &r("apps/d:1"),
    ]);
    let dest = Registry::plain();
    o.ok(&["unpack", &week1, "--push", &dest.host]);
    // The base layer vanishes from every repository at the destination.
    curl_delete(&dest.host, "apps/a", &s.base.digest);
    curl_delete(&dest.host, "apps/b", &s.base.digest);

    let strict = o.run(&["unpack", &p("week2.zip"), "--push", &dest.host, "--strict"]);
    let (_, err) = text(&strict);
    assert_eq!(strict.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&s.base.digest) && err.contains("apps/b:2") && err.contains("apps/c:1"),
        "{err}"
    );
    for (repo, tag) in [("apps/b", "2"), ("apps/c", "1"), ("apps/d", "1")] {
        assert!(
            skopeo_raw(&dest.host, repo, tag, &[]).is_none(),
            "--strict wrote {repo}:{tag}"
        );
    }

    // Without --strict, the image whose blobs are all there goes through; the rest wait.
    let lax = o.run(&["unpack", &p("week2.zip"), "--push", &dest.host, "--json"]);
    assert_eq!(lax.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&lax.stdout).expect("json");
    let status = |i: usize| {
        report["images"][i]["status"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert!(
        status(0).starts_with("skipped") && status(1).starts_with("skipped"),
        "{report}"
    );
    assert_eq!(status(2), "ok", "{report}");
    assert_eq!(
        skopeo_raw(&dest.host, "apps/d", "1", &[]).as_deref(),
        Some(&s.d.manifest.bytes[..])
    );
    assert!(
        skopeo_raw(&dest.host, "apps/c", "1", &[]).is_none(),
        "a manifest was pushed without its base layer"
    );
}

#[test]
fn receipt_skips_repositories_without_tags() {
    let reg = Registry::plain();
    let img = images::image(
        vec![images::layer(71, 5_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(&reg.host, "apps/tagged", "1", &img);
    // What a failed push leaves: a blob in a repository, no manifest, no tag.
    images::push_blob(
        &reg.host,
        "apps/lonely",
        &images::layer(72, 1_000, Flavour::Oci),
    );
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let out = work.path().join("r.json");
    let run = o.ok(&[
        "receipt",
        "--registry",
        &reg.host,
        "-o",
        out.to_str().expect("utf8"),
    ]);
    let (_, stderr) = text(&run);
    assert!(stderr.contains("`apps/lonely` has no tags"), "{stderr}");
    let receipt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("receipt")).expect("json");
    assert_eq!(
        receipt["repositories"]["apps/tagged"]["tags"]["1"],
        img.manifest.digest.as_str()
    );
    assert!(
        receipt["repositories"].get("apps/lonely").is_none(),
        "{receipt}"
    );
}
