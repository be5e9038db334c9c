//! The approver's report: a bundle of an image with a cosign signature, an SPDX SBOM (OCI
//! referrer) and an in-toto attestation (cosign `.att`, DSSE) is reported as JSON and
//! checked field by field against the bundle; the HTML is rendered by Debian's headless
//! chromium to a screenshot and a PDF.

use crate::support::artifacts::{
    Artifact, OCI_MANIFEST, SPDX, referrers_index, sbom, signed_by, tag_of,
};
use crate::support::images::{self, Blob, Flavour};
use crate::support::keys::key_pair;
use crate::support::rawzip;
use crate::support::{Outrider, Registry, digest, text};
use std::path::Path;
use std::process::Command;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

pub const DSSE: &str = "application/vnd.dsse.envelope.v1+json";

/// A cosign attestation (`cosign attest --type cyclonedx`): a generic config and one DSSE
/// envelope layer whose payload is an in-toto statement with a CycloneDX predicate.
pub fn attestation(subject: &str) -> (Artifact, Vec<u8>) {
    use base64::Engine;
    let statement = serde_json::to_vec(&serde_json::json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://cyclonedx.org/bom",
        "subject": [{"name": "app", "digest": {"sha256": subject.trim_start_matches("sha256:")}}],
        "predicate": {"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []}
    }))
    .expect("json");
    let envelope = serde_json::to_vec(&serde_json::json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64::engine::general_purpose::STANDARD.encode(&statement),
        "signatures": [{"keyid": "", "sig": "MEUCIQ=="}]
    }))
    .expect("json");
    let layer = Blob::new(envelope, DSSE);
    let config = Blob::new(
        serde_json::to_vec(&serde_json::json!({
            "architecture": "", "os": "", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer.digest]}
        }))
        .expect("json"),
        "application/vnd.oci.image.config.v1+json",
    );
    let mut d = layer.descriptor();
    d["annotations"] = serde_json::json!({"predicateType": "https://cyclonedx.org/bom"});
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": config.descriptor(), "layers": [d],
    }))
    .expect("json");
    (
        Artifact {
            manifest: Blob::new(manifest, OCI_MANIFEST),
            blobs: vec![config, layer],
        },
        statement,
    )
}

/// A source registry holding `apps/app:1.0` signed by `key`, with an SBOM and an
/// attestation; returns the image, the SBOM and the attestation with its statement.
pub fn signed_image_with_sboms(
    host: &str,
    key: &Path,
) -> (images::Image, Artifact, Artifact, Vec<u8>) {
    let image = images::image(
        vec![images::layer(8100, 3000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(host, "apps/app", "1.0", &image);
    let d = &image.manifest.digest;
    signed_by(key, &format!("{host}/apps/app"), d).push(host, "apps/app", &tag_of(d, ".sig"));
    let doc = sbom(&image.manifest, "app");
    doc.push(host, "apps/app", &doc.manifest.digest);
    images::push_manifest(
        host,
        "apps/app",
        &tag_of(d, ""),
        &referrers_index(&[(&doc, SPDX)]),
    );
    let (att, statement) = attestation(d);
    att.push(host, "apps/app", &tag_of(d, ".att"));
    (image, doc, att, statement)
}

/// `sha256:` of the key's DER SubjectPublicKeyInfo, as openssl computes it.
fn fingerprint(public: &Path) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "openssl pkey -pubin -in '{}' -outform DER | sha256sum",
            public.display()
        ))
        .output()
        .expect("run openssl");
    let hex = String::from_utf8_lossy(&out.stdout);
    format!(
        "sha256:{}",
        hex.split_whitespace().next().unwrap_or_default()
    )
}

fn size_of(a: &Artifact) -> u64 {
    (a.manifest.bytes.len() + a.blobs.iter().map(|b| b.bytes.len()).sum::<usize>()) as u64
}

#[test]
fn a_report_states_what_the_bundle_holds_and_renders_in_a_browser() {
    let src = Registry::plain();
    let h = src.host.as_str();
    let o = Outrider::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (cosign_key, cosign_pub) = key_pair(d, "release");
    let (bundle_key, bundle_pub) = key_pair(d, "site");
    let (image, doc, att, _) = signed_image_with_sboms(h, &cosign_key);
    let bundle = d.join("b.zip");
    let reference = format!("{h}/apps/app:1.0");
    o.ok(&[
        "pack",
        &reference,
        "-o",
        s(&bundle),
        "--sign",
        s(&bundle_key),
        "--series",
        "site-a",
        "--platform",
        "linux/amd64",
    ]);
    let index: serde_json::Value = serde_json::from_slice(
        &rawzip::read(&bundle)
            .into_iter()
            .find(|e| e.name == "outrider.json")
            .expect("index")
            .data,
    )
    .expect("index json");

    let json = d.join("r.json");
    o.ok(&[
        "report",
        s(&bundle),
        "--format",
        "json",
        "-o",
        s(&json),
        "--cosign-key",
        s(&cosign_pub),
        "--trusted-key",
        s(&bundle_pub),
    ]);
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("read")).expect("json");
    assert_eq!(r["schemaVersion"], 1);
    assert_eq!(r["command"], "report");
    // The bundle: its file, signer, lineage and options, as the bundle has them.
    let b = &r["bundles"][0];
    let bytes = std::fs::read(&bundle).expect("bundle");
    assert_eq!(b["name"], "b.zip");
    assert_eq!(b["files"][0]["size"], bytes.len() as u64, "{b}");
    assert_eq!(b["files"][0]["sha256"], digest(&bytes), "{b}");
    assert_eq!(b["signature"]["verdict"], "verified", "{b}");
    assert_eq!(b["signature"]["signer"], index["signedBy"], "{b}");
    assert_eq!(b["tool"], index["tool"]);
    assert_eq!(b["formatVersion"], index["formatVersion"]);
    assert_eq!(b["created"], index["lineage"]["created"]);
    assert_eq!(b["series"], "site-a");
    assert_eq!(b["sequence"], 1);
    assert_eq!(b["packedWith"]["platforms"][0], "linux/amd64");
    assert_eq!(b["packedWith"]["referrers"], true);
    // The image: reference, digest, platforms, source, destination, signature.
    assert_eq!(r["images"].as_array().map(Vec::len), Some(1), "{r}");
    let i = &r["images"][0];
    let entry = &index["images"][0];
    assert_eq!(i["reference"], reference.as_str());
    assert_eq!(i["reference"], entry["reference"]);
    assert_eq!(i["digest"], image.manifest.digest.as_str());
    assert_eq!(i["digest"], entry["digest"]);
    assert_eq!(i["platforms"], serde_json::json!(["linux/amd64"]));
    assert_eq!(i["source"], h);
    assert_eq!(i["destination"], "apps/app:1.0");
    assert_eq!(i["signature"]["verdict"], "verified", "{i}");
    assert_eq!(i["signature"]["method"], "cosign-key");
    assert_eq!(i["signature"]["carried"], 1);
    let fingerprint = fingerprint(&cosign_pub);
    assert!(
        i["signature"]["signer"]
            .as_str()
            .is_some_and(|x| x.starts_with(&fingerprint)),
        "{i}"
    );
    let image_bytes = (image.manifest.bytes.len()
        + image.config.bytes.len()
        + image.layers.iter().map(|l| l.bytes.len()).sum::<usize>()) as u64;
    let artifacts = i["artifacts"].as_array().expect("artifacts");
    assert_eq!(artifacts.len(), 3, "{i}");
    let art_bytes: u64 = artifacts.iter().filter_map(|a| a["size"].as_u64()).sum();
    assert_eq!(i["carriedBytes"], image_bytes + art_bytes, "{i}");
    assert_eq!(i["externalBytes"], 0);
    let find = |digest: &str| {
        artifacts
            .iter()
            .find(|a| a["digest"] == digest)
            .unwrap_or_else(|| panic!("{digest} not in {i}"))
    };
    let spdx = find(&doc.manifest.digest);
    assert_eq!(spdx["category"], "sbom");
    assert_eq!(spdx["format"], "SPDX JSON");
    assert_eq!(spdx["artifactType"], SPDX);
    assert_eq!(spdx["size"], size_of(&doc));
    assert_eq!(spdx["subject"], image.manifest.digest.as_str());
    let intoto = find(&att.manifest.digest);
    assert_eq!(
        intoto["category"], "sbom",
        "an attestation of a CycloneDX BOM is an SBOM"
    );
    assert_eq!(intoto["format"], "in-toto (DSSE)");
    assert_eq!(intoto["predicateType"], "https://cyclonedx.org/bom");
    assert_eq!(intoto["size"], size_of(&att));
    assert_eq!(r["summary"]["sboms"], 2);
    assert_eq!(r["summary"]["signatures"], 1);
    assert_eq!(r["summary"]["imagesVerified"], 1);
    // Every artifact the index relates to the image is in the report.
    let related: Vec<&str> = index["referrers"]
        .as_array()
        .expect("referrers")
        .iter()
        .filter_map(|x| x["digest"].as_str())
        .collect();
    for dgst in related {
        find(dgst);
    }

    // Without keys: not checked.
    let out = o.ok(&["report", s(&bundle), "--format", "json"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(r["images"][0]["signature"]["verdict"], "not checked");
    assert_eq!(r["bundles"][0]["signature"]["verdict"], "not checked");
    // Markdown and CSV name the image.
    let (md, _) = text(&o.ok(&["report", s(&bundle)]));
    assert!(
        md.starts_with("# Transfer report") && md.contains(&reference),
        "{md}"
    );
    let (csv, _) = text(&o.ok(&["report", s(&bundle), "--format", "csv"]));
    assert_eq!(csv.lines().count(), 1 + 1 + 3, "{csv}");

    // HTML: self-contained, rendered by a real browser to PNG and PDF.
    let html = d.join("r.html");
    o.ok(&[
        "report",
        s(&bundle),
        "--format",
        "html",
        "-o",
        s(&html),
        "--cosign-key",
        s(&cosign_pub),
    ]);
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(
        !page.contains("<script") && !page.contains(" src=") && !page.contains(" href="),
        "not self-contained"
    );
    assert!(
        page.contains("<svg") && page.contains("@media print") && page.contains("max-width:700px")
    );
    let png = d.join("r.png");
    let pdf = d.join("r.pdf");
    for shot in [
        format!("--screenshot={}", png.display()),
        format!("--print-to-pdf={}", pdf.display()),
    ] {
        let profile = tempfile::tempdir().expect("profile");
        let out = Command::new("timeout")
            .args([
                "120",
                "/usr/bin/chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
            ])
            .args([
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
            ])
            .args([
                "--disable-component-update",
                "--disable-sync",
                "--window-size=412,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(&shot)
            .arg(format!("file://{}", html.display()))
            .output()
            .expect("chromium (apt-get install chromium)");
        assert!(out.status.success(), "chromium {shot}: {}", text(&out).1);
    }
    let png = std::fs::read(&png).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 1000,
        "no screenshot"
    );
    let pdf = std::fs::read(&pdf).expect("pdf");
    assert!(pdf.starts_with(b"%PDF") && pdf.len() > 1000, "no PDF");
}

#[test]
fn extracted_sboms_and_attestations_equal_their_blobs() {
    let src = Registry::plain();
    let h = src.host.as_str();
    let o = Outrider::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (cosign_key, _) = key_pair(d, "release");
    let (image, doc, att, statement) = signed_image_with_sboms(h, &cosign_key);
    // A second image without artifacts, filtered out by --image.
    let other = images::image(
        vec![images::layer(8200, 1000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(h, "apps/other", "2", &other);
    let bundle = d.join("b.zip");
    let reference = format!("{h}/apps/app:1.0");
    o.ok(&[
        "pack",
        &reference,
        &format!("{h}/apps/other:2"),
        "-o",
        s(&bundle),
        "--platform",
        "linux/amd64",
    ]);
    let out_dir = d.join("out");
    let out = o.ok(&[
        "inspect",
        s(&bundle),
        "--extract-artifacts",
        s(&out_dir),
        "--image",
        "apps/app",
    ]);
    let (listing, _) = text(&out);
    let mut names: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let stem = reference.replace(['/', ':'], "_");
    let spdx = format!("{stem}.sbom-{}.spdx.json", &doc.manifest.digest[7..19]);
    let dsse = format!("{stem}.sbom-{}.dsse.json", &att.manifest.digest[7..19]);
    let decoded = format!(
        "{stem}.sbom-{}.intoto.decoded-from-dsse.json",
        &att.manifest.digest[7..19]
    );
    let mut want = vec![spdx.clone(), dsse.clone(), decoded.clone()];
    want.sort();
    assert_eq!(names, want, "{listing}");
    // Byte-exact with the blobs; the statement is the envelope's payload, decoded.
    assert_eq!(
        std::fs::read(out_dir.join(&spdx)).expect("spdx"),
        doc.blobs[1].bytes
    );
    assert_eq!(
        std::fs::read(out_dir.join(&dsse)).expect("dsse"),
        att.blobs[1].bytes
    );
    assert_eq!(
        std::fs::read(out_dir.join(&decoded)).expect("statement"),
        statement
    );
    let _ = image;
    // --image of an unknown repository is a usage error.
    let out = o.run(&["inspect", s(&bundle), "--image", "apps/none"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    // --image filters the table.
    let (table, _) = text(&o.ok(&["inspect", s(&bundle), "--image", "apps/other"]));
    assert!(
        table.contains("apps/other:2") && !table.contains("apps/app:1.0"),
        "{table}"
    );
}

#[test]
fn serve_lists_what_can_be_pulled() {
    let o = Outrider::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("hello.zip");
    let layout = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hello-oci");
    o.ok(&["pack", &format!("oci:{layout}:1.0"), "-o", s(&bundle)]);
    let out = o.ok(&[
        "serve",
        s(&bundle),
        "--list",
        "--advertise",
        "reg.site:5000",
    ]);
    let (names, _) = text(&out);
    assert_eq!(names.trim(), "reg.site:5000/outrider/hello:1.0", "{names}");
}

#[test]
fn a_volume_set_is_one_bundle_in_the_report() {
    let src = Registry::plain();
    let h = src.host.as_str();
    let o = Outrider::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let big = images::image(
        vec![images::layer(8300, 400_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(h, "apps/big", "1", &big);
    let out = d.join("set.zip");
    o.ok(&[
        "pack",
        &format!("{h}/apps/big:1"),
        "-o",
        s(&out),
        "--volume-size",
        "200000",
        "--no-checksums",
    ]);
    let mut volumes: Vec<std::path::PathBuf> = std::fs::read_dir(d)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "zip"))
        .collect();
    volumes.sort();
    assert!(volumes.len() >= 2, "{volumes:?}");
    let mut args = vec!["report", "--format", "json"];
    args.extend(volumes.iter().map(|v| s(v)));
    let r: serde_json::Value = serde_json::from_slice(&o.ok(&args).stdout).expect("json");
    assert_eq!(r["summary"]["bundles"], 1, "{r}");
    assert_eq!(r["summary"]["images"], 1, "{r}");
    let files = r["bundles"][0]["files"].as_array().expect("files");
    assert_eq!(files.len(), volumes.len(), "{r}");
    for v in &volumes {
        let bytes = std::fs::read(v).expect("volume");
        assert!(
            files
                .iter()
                .any(|f| f["sha256"] == digest(&bytes) && f["size"] == bytes.len() as u64),
            "{} not in {r}",
            v.display()
        );
    }
}
