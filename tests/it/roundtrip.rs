//! pack → unpack --push round trips: digests at the destination equal the source, for
//! Docker and OCI media types, shared layers, a non-canonical manifest, manifest lists and
//! indexes with one, some or all platforms.

use crate::support::images::{self, Image};
use crate::support::{Outrider, Registry, digest, skopeo_inspect, skopeo_raw, text};

struct Seeded {
    source: Registry,
    alpha: Image,
    beta: Image,
    multi: Vec<Image>,
    multi_index: images::Blob,
}

/// Seeds a source registry: alpha (Docker) and beta (OCI, odd JSON) share a base layer;
/// multi is an OCI index of amd64, arm64, arm/v7 and an unknown/unknown attestation.
fn seed() -> Seeded {
    let source = Registry::plain();
    let h = &source.host;
    let (alpha, beta) = images::push_alpha_beta(h, 1, 300_000, 50_000);
    let (multi, multi_index) = images::push_multi_platform(
        h,
        "apps/multi",
        "3",
        &[
            (4, "linux/amd64"),
            (5, "linux/arm64/v8"),
            (6, "linux/arm/v7"),
            (7, "unknown/unknown"),
        ],
    );
    Seeded {
        source,
        alpha,
        beta,
        multi,
        multi_index,
    }
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn default_platform_roundtrip_keeps_every_digest() {
    let s = seed();
    let dest = Registry::plain();
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("site.bundle.zip");
    let b = bundle.to_str().expect("utf8");
    let src = &s.source.host;
    let refs = [
        format!("{src}/apps/alpha:1"),
        format!("{src}/apps/beta:2"),
        format!("{src}/apps/multi:3"),
    ];
    let mut args = vec!["pack", "--platform", "linux/amd64", "-o", b];
    args.extend(refs.iter().map(String::as_str));
    o.ok(&args);
    assert!(bundle.exists());
    assert!(
        !work.path().join("site.bundle.zip.partial").exists(),
        "temp file left behind"
    );

    // inspect: the base layer is stored once.
    let info = json(&o.ok(&["inspect", "--json", b]));
    assert_eq!(info["images"].as_array().map(Vec::len), Some(3));
    let base_size = s.alpha.layers[0].bytes.len() as u64;
    assert!(
        info["savedBySharing"].as_u64().unwrap_or(0) >= base_size,
        "{info}"
    );
    assert_eq!(
        info["images"][2]["platforms"],
        serde_json::json!(["linux/amd64"])
    );
    // The stock zip tool agrees the archive is sound.
    if std::process::Command::new("unzip")
        .arg("-v")
        .output()
        .is_ok()
    {
        let t = std::process::Command::new("unzip")
            .args(["-tq", b])
            .output()
            .expect("unzip");
        assert!(
            t.status.success(),
            "unzip -t: {}",
            String::from_utf8_lossy(&t.stdout)
        );
    }
    o.ok(&["verify", b]);

    let out = o.ok(&["unpack", b, "--push", &dest.host]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("one platform carried"), "{stdout}");
    let d = &dest.host;
    assert_eq!(
        skopeo_raw(d, "apps/alpha", "1", &[]).as_deref(),
        Some(&s.alpha.manifest.bytes[..])
    );
    assert_eq!(
        skopeo_raw(d, "apps/beta", "2", &[]).as_deref(),
        Some(&s.beta.manifest.bytes[..]),
        "non-canonical manifest was re-serialised"
    );
    // One platform of an index: the tag names the platform manifest itself.
    assert_eq!(
        skopeo_raw(d, "apps/multi", "3", &[]).as_deref(),
        Some(&s.multi[0].manifest.bytes[..])
    );
    for image in ["apps/alpha:1", "apps/beta:2", "apps/multi:3"] {
        skopeo_inspect(d, image).unwrap_or_else(|e| panic!("skopeo inspect {image}: {e}"));
    }
    // The run twice is a no-op that still succeeds (every blob exists).
    o.ok(&["unpack", b, "--push", &dest.host]);
}

#[test]
fn all_platforms_keep_the_index_byte_exact_and_some_platforms_reduce_it() {
    let s = seed();
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let src = &s.source.host;
    let image = format!("{src}/apps/multi:3");

    let all = work.path().join("all.zip");
    o.ok(&[
        "pack",
        "--all-platforms",
        "-o",
        all.to_str().expect("utf8"),
        &image,
    ]);
    let dest = Registry::plain();
    o.ok(&["unpack", all.to_str().expect("utf8"), "--push", &dest.host]);
    assert_eq!(
        skopeo_raw(&dest.host, "apps/multi", "3", &[]).as_deref(),
        Some(&s.multi_index.bytes[..])
    );
    for m in &s.multi {
        assert_eq!(
            skopeo_raw(&dest.host, "apps/multi", &m.manifest.digest, &[]).as_deref(),
            Some(&m.manifest.bytes[..])
        );
    }

    let some = work.path().join("some.zip");
    let packed = o.ok(&[
        "pack",
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64",
        "-o",
        some.to_str().expect("utf8"),
        &image,
    ]);
    // Said at pack time, while --all-platforms can still keep the original digest.
    let (_, err) = text(&packed);
    assert!(
        err.contains("2 of its platforms carried")
            && err.contains(&format!("not {}", s.multi_index.digest))
            && err.contains("--all-platforms"),
        "{err}"
    );
    let dest2 = Registry::plain();
    let out = o.ok(&[
        "unpack",
        some.to_str().expect("utf8"),
        "--push",
        &dest2.host,
        "--json",
    ]);
    let report = json(&out);
    let reduced = skopeo_raw(&dest2.host, "apps/multi", "3", &[]).expect("tag exists");
    assert_eq!(
        report["images"][0]["digest"].as_str(),
        Some(digest(&reduced).as_str()),
        "reported digest is the pushed index"
    );
    let value: serde_json::Value = serde_json::from_slice(&reduced).expect("json");
    let children: Vec<&str> = value["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .filter_map(|m| m["digest"].as_str())
        .collect();
    assert_eq!(
        children,
        vec![
            s.multi[0].manifest.digest.as_str(),
            s.multi[1].manifest.digest.as_str()
        ]
    );
    assert!(
        skopeo_raw(&dest2.host, "apps/multi", &s.multi[2].manifest.digest, &[]).is_none(),
        "arm/v7 was not asked for"
    );
    assert!(
        report["images"][0]["note"]
            .as_str()
            .unwrap_or("")
            .contains("reduced index"),
        "{report}"
    );
}

#[test]
fn digest_references_prefix_and_chunked_uploads() {
    let s = seed();
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("b.zip");
    let b = bundle.to_str().expect("utf8");
    let by_digest = format!("{}/apps/alpha@{}", s.source.host, s.alpha.manifest.digest);
    let tag_and_digest = format!("{}/apps/beta:2@{}", s.source.host, s.beta.manifest.digest);
    o.ok(&["pack", "-o", b, &by_digest, &tag_and_digest]);
    let dest = Registry::plain();
    // Tiny chunks force the chunked upload path for every blob.
    o.ok(&[
        "unpack",
        b,
        "--push",
        &dest.host,
        "--prefix",
        "mirror/site",
        "--chunk-threshold",
        "1000",
        "--chunk-size",
        "65536",
    ]);
    assert_eq!(
        skopeo_raw(
            &dest.host,
            "mirror/site/apps/alpha",
            &s.alpha.manifest.digest,
            &[]
        )
        .as_deref(),
        Some(&s.alpha.manifest.bytes[..])
    );
    assert_eq!(
        skopeo_raw(&dest.host, "mirror/site/apps/beta", "2", &[]).as_deref(),
        Some(&s.beta.manifest.bytes[..])
    );
    skopeo_inspect(&dest.host, "mirror/site/apps/beta:2").expect("skopeo inspect");
    assert!(
        skopeo_raw(&dest.host, "mirror/site/apps/alpha", "latest", &[]).is_none(),
        "a digest-only reference created a tag"
    );
}
