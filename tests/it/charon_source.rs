//! `pack docker-charon:PAYLOAD.zip[:REF]`: images read out of a real docker-charon
//! payload into an outrider bundle, then unpacked and compared byte for byte, by digest,
//! with what docker-charon packed; an update payload's left-out blobs stay out, listed as
//! held at the far side; a payload of several images without REF is refused with the
//! names to choose from, and an outrider bundle named as a payload is refused.

use crate::sources::{docker_image, make_payload};
use crate::support::images;
use crate::support::{Outrider, Registry, skopeo_raw, text};
use std::path::Path;
use std::process::Command;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

/// A blob's bytes as the registry at `host` serves them.
fn blob(host: &str, repo: &str, digest: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-fsS", &format!("http://{host}/v2/{repo}/blobs/{digest}")])
        .output()
        .expect("curl");
    assert!(out.status.success(), "{repo}@{digest}: {out:?}");
    out.stdout
}

/// A bundle's index, as stored.
fn index(bundle: &Path) -> serde_json::Value {
    let out = Command::new("unzip")
        .args(["-p", s(bundle), "outrider.json"])
        .output()
        .expect("unzip");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn a_docker_charon_payload_packs_into_a_bundle_with_its_digests() {
    let src = Registry::plain();
    let dst = Registry::plain();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let p = |n: &str| w.path().join(n);
    let first = docker_image(201);
    let second = docker_image(203);
    images::push_image(&src.host, "ubuntu", "22.04", &first);
    images::push_image(&src.host, "team/app", "1", &second);
    let payload = p("payload.zip");
    make_payload(&payload, &["ubuntu:22.04", "team/app:1"], &[], &src.host);

    // Two images and no REF: which one?
    let bundle = p("b.zip");
    let out = o.run(&[
        "pack",
        &format!("docker-charon:{}", s(&payload)),
        "-o",
        s(&bundle),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("holds several, so name one")
            && err.contains("localhost/ubuntu:22.04")
            && err.contains("localhost/team/app:1"),
        "{err}"
    );
    assert!(!bundle.exists());

    // Named as docker-charon was given them, and by a bare tag.
    o.ok(&[
        "pack",
        &format!("docker-charon:{}:ubuntu:22.04", s(&payload)),
        &format!("docker-charon:{}:1", s(&payload)),
        "-o",
        s(&bundle),
    ]);
    o.ok(&["verify", s(&bundle)]);
    let listed = index(&bundle);
    let images = listed["images"].as_array().expect("images");
    assert_eq!(images.len(), 2, "{listed}");
    assert_eq!(images[0]["digest"], first.manifest.digest.as_str());
    assert_eq!(images[1]["digest"], second.manifest.digest.as_str());
    // An outrider bundle is no payload.
    let out = o.run(&[
        "pack",
        &format!("docker-charon:{}", s(&bundle)),
        "-o",
        s(&p("c.zip")),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not a docker-charon payload"), "{err}");
    o.ok(&["unpack", s(&bundle), "--push", &dst.host]);
    // Where docker-charon itself would have pushed them, byte-exact: manifests and blobs.
    for (image, repo, tag) in [(&first, "ubuntu", "22.04"), (&second, "team/app", "1")] {
        let manifest = skopeo_raw(&dst.host, repo, tag, &[]).expect("pushed");
        assert_eq!(manifest, image.manifest.bytes, "{repo}:{tag}");
        assert_eq!(crate::support::digest(&manifest), image.manifest.digest);
        for b in std::iter::once(&image.config).chain(&image.layers) {
            let got = blob(&dst.host, repo, &b.digest);
            assert_eq!(
                crate::support::digest(&got),
                b.digest,
                "{repo} {}",
                b.digest
            );
            assert_eq!(got, b.bytes);
        }
    }

    // An update payload leaves out what the far side holds: so does the bundle packed from
    // it, listing those blobs as held there; the push mounts them.
    let newer = images::image(
        vec![
            first.layers[0].clone(),
            images::layer(205, 7_000, images::Flavour::Docker),
        ],
        "amd64",
        images::Flavour::Docker,
        false,
    );
    images::push_image(&src.host, "ubuntu", "24.04", &newer);
    let update = p("update.zip");
    make_payload(&update, &["ubuntu:24.04"], &["ubuntu:22.04"], &src.host);
    let small = p("small.zip");
    o.ok(&[
        "pack",
        &format!("docker-charon:{}", s(&update)),
        "-o",
        s(&small),
    ]);
    o.ok(&["verify", s(&small)]);
    let listed = index(&small);
    let shared = listed["blobs"]
        .as_array()
        .expect("blobs")
        .iter()
        .find(|b| b["digest"] == first.layers[0].digest.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("the shared layer is listed: {listed}"));
    assert!(shared["entry"].is_null(), "{shared}");
    assert_eq!(shared["destinationRepository"], "ubuntu", "{shared}");
    o.ok(&["unpack", s(&small), "--push", &dst.host]);
    let manifest = skopeo_raw(&dst.host, "ubuntu", "24.04", &[]).expect("pushed");
    assert_eq!(manifest, newer.manifest.bytes);
    for b in std::iter::once(&newer.config).chain(&newer.layers) {
        assert_eq!(
            blob(&dst.host, "ubuntu", &b.digest),
            b.bytes,
            "{}",
            b.digest
        );
    }
}
