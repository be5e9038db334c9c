//! What users type: image lists, config files, OCI layouts, bad references and platforms.

use crate::support::images::{self, Flavour};
use crate::support::{Outrider, Registry, skopeo_inspect, skopeo_raw, text};

#[test]
fn fixture_layout_packs_and_pushes() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hello-oci");
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("hello.zip");
    let b = bundle.to_str().expect("utf8");
    o.ok(&["pack", &format!("oci:{fixture}:1.0"), "-o", b]);
    o.ok(&["verify", b]);
    let dest = Registry::plain();
    o.ok(&["unpack", b, "--push", &dest.host]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{fixture}/index.json")).expect("index"))
            .expect("json");
    let want = index["manifests"][0]["digest"].as_str().expect("digest");
    let raw = skopeo_raw(&dest.host, "outrider/hello", "1.0", &[]).expect("pushed");
    assert_eq!(crate::support::digest(&raw), want);
    skopeo_inspect(&dest.host, "outrider/hello:1.0").expect("skopeo inspect");
}

#[test]
fn images_file_and_config_and_bad_input() {
    let source = Registry::plain();
    let img = images::image(
        vec![images::layer(31, 10_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(&source.host, "k3s/pause", "3.6", &img);
    images::push_image(&source.host, "k3s/coredns", "1.9", &img);
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let list = work.path().join("k3s-images.txt");
    std::fs::write(
        &list,
        format!(
            "# k3s airgap list\n{h}/k3s/pause:3.6\n\n  {h}/k3s/coredns:1.9   # dns\n",
            h = source.host
        ),
    )
    .expect("write");
    let config = work.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "images:\n  - {h}/k3s/pause:3.6\nruntime: docker\n",
            h = source.host
        ),
    )
    .expect("write");
    let bundle = work.path().join("b.zip");
    let b = bundle.to_str().expect("utf8");
    o.ok(&[
        "pack",
        "-f",
        list.to_str().expect("utf8"),
        "-c",
        config.to_str().expect("utf8"),
        "-o",
        b,
    ]);
    let info: serde_json::Value =
        serde_json::from_slice(&o.ok(&["inspect", "--json", b]).stdout).expect("json");
    assert_eq!(
        info["images"].as_array().map(Vec::len),
        Some(2),
        "duplicates are packed once: {info}"
    );

    let out = o.run(&["pack", "Nginx:latest", "-o", b]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`Nginx:latest`") && err.contains("lowercase"),
        "{err}"
    );

    let out = o.run(&[
        "pack",
        "--platform",
        "linux",
        &format!("{}/k3s/pause:3.6", source.host),
        "-o",
        b,
    ]);
    assert_eq!(out.status.code(), Some(2));

    let bad_config = work.path().join("bad.yaml");
    std::fs::write(&bad_config, "images:\n  - a\nimagez: []\n").expect("write");
    let out = o.run(&["pack", "-c", bad_config.to_str().expect("utf8"), "-o", b]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("imagez"), "{err}");

    let missing = o.run(&[
        "pack",
        &format!("{}/k3s/absent:1", source.host),
        "-o",
        work.path().join("none.zip").to_str().expect("utf8"),
    ]);
    let (_, err) = text(&missing);
    assert_eq!(missing.status.code(), Some(1));
    assert!(err.contains("k3s/absent"), "{err}");
    assert!(
        !work.path().join("none.zip").exists() && !work.path().join("none.zip.partial").exists()
    );
}

#[test]
fn an_index_without_the_platform_asked_for_is_refused_with_what_it_has() {
    let source = Registry::plain();
    let img = images::image(
        vec![images::layer(41, 1000, Flavour::Oci)],
        "arm64",
        Flavour::Oci,
        false,
    );
    images::push_image(&source.host, "only/arm", "sha", &img);
    let idx = images::index(&[(&img, "linux/arm64")], Flavour::Oci, vec![]);
    images::push_manifest(&source.host, "only/arm", "1", &idx);
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let out = o.run(&[
        "pack",
        "--platform",
        "linux/s390x",
        &format!("{}/only/arm:1", source.host),
        "-o",
        work.path().join("x.zip").to_str().expect("utf8"),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("linux/s390x") && err.contains("linux/arm64"),
        "{err}"
    );
    // A single-platform image of another platform than the one named is refused too,
    // naming its platform; nothing is written. Without --platform it is taken as it is.
    let x = work.path().join("single.zip");
    let single = format!("{}/only/arm:sha", source.host);
    let out = o.run(&[
        "pack",
        "--platform",
        "linux/amd64",
        &single,
        "-o",
        x.to_str().expect("utf8"),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("linux/amd64") && err.contains("linux/arm64 only"),
        "{err}"
    );
    assert!(!x.exists());
    o.ok(&[
        "pack",
        "--platform",
        "linux/arm64",
        &single,
        "-o",
        x.to_str().expect("utf8"),
    ]);
    o.ok(&["pack", &single, "-o", x.to_str().expect("utf8")]);
}
