//! Signatures, attestations, SBOMs and referrers travel with their images: packed by
//! naming only the image, pushed into a fresh registry by both routes (cosign's tags, and
//! the referrers tag schema index, since distribution 2.8 has no referrers API), read back
//! byte-exact with skopeo, and kept out of tars.

use crate::support::artifacts::{
    self, Artifact, SIMPLE_SIGNING, SPDX, cosign_signature, referrers_index, sbom, tag_of,
};
use crate::support::images::{self, Flavour, Image};
use crate::support::serving::Serving;
use crate::support::{Outrider, Registry, skopeo_raw, text};

/// A source registry holding `apps/app:1.0` with a cosign signature, an SBOM referrer
/// (listed in the referrers tag schema index, as oras writes it for a registry without
/// the API) and a cosign signature of the SBOM.
struct Signed {
    source: Registry,
    image: Image,
    sig: Artifact,
    sbom: Artifact,
    sbom_sig: Artifact,
}

fn signed() -> Signed {
    let source = Registry::plain();
    let h = &source.host;
    let image = images::image(
        vec![images::layer(101, 20_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(h, "apps/app", "1.0", &image);
    let sig = cosign_signature(&format!("{h}/apps/app"), &image.manifest.digest, 1);
    sig.push(h, "apps/app", &tag_of(&image.manifest.digest, ".sig"));
    let sbom = sbom(&image.manifest, "app");
    sbom.push(h, "apps/app", &sbom.manifest.digest);
    images::push_manifest(
        h,
        "apps/app",
        &tag_of(&image.manifest.digest, ""),
        &referrers_index(&[(&sbom, SPDX)]),
    );
    let sbom_sig = cosign_signature(&format!("{h}/apps/app"), &sbom.manifest.digest, 2);
    sbom_sig.push(h, "apps/app", &tag_of(&sbom.manifest.digest, ".sig"));
    Signed {
        source,
        image,
        sig,
        sbom,
        sbom_sig,
    }
}

fn inspect_artifacts(o: &Outrider, bundle: &str) -> Vec<serde_json::Value> {
    let out = o.ok(&["inspect", "--json", bundle]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect json");
    v["images"][0]["artifacts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn artifacts_travel_and_arrive_by_both_routes() {
    let s = signed();
    let o = Outrider::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("b.zip");
    let b = bundle.to_str().expect("utf-8 path");
    let image_ref = format!("{}/apps/app:1.0", s.source.host);

    // plan counts them; pack carries them by naming only the image.
    let out = o.ok(&["plan", "--json", &image_ref]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(plan["images"][0]["artifacts"], 3, "{plan}");
    o.ok(&["pack", &image_ref, "-o", b]);
    let found = inspect_artifacts(&o, b);
    let kinds: Vec<(String, String, String)> = found
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().expect("kind").to_owned(),
                a["artifactType"].as_str().expect("type").to_owned(),
                a["digest"].as_str().expect("digest").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                "signature".into(),
                SIMPLE_SIGNING.into(),
                s.sig.manifest.digest.clone()
            ),
            (
                "referrer".into(),
                SPDX.into(),
                s.sbom.manifest.digest.clone()
            ),
            (
                "signature".into(),
                SIMPLE_SIGNING.into(),
                s.sbom_sig.manifest.digest.clone()
            ),
        ],
        "{found:?}"
    );
    assert_eq!(found[2]["subject"], s.sbom.manifest.digest);
    let (table, _) = text(&o.ok(&["inspect", b]));
    assert!(
        table.contains("ARTIFACT TYPE") && table.contains(SPDX),
        "{table}"
    );
    o.ok(&["verify", b]);

    // The destination already lists another referrer of the image under the referrers
    // tag: the push must add to that index, not replace it.
    let dest = Registry::plain();
    let d = &dest.host;
    images::push_image(d, "apps/app", "old", &s.image);
    let other = artifacts::sbom(&s.image.manifest, "written-at-the-far-side");
    other.push(d, "apps/app", &other.manifest.digest);
    images::push_manifest(
        d,
        "apps/app",
        &tag_of(&s.image.manifest.digest, ""),
        &referrers_index(&[(&other, SPDX)]),
    );
    let out = o.ok(&["unpack", b, "--push", d]);
    let (table, _) = text(&out);
    assert!(
        table.contains("3 (2 by tag, 1 in referrers tag)"),
        "the push table says how many artifacts went by which route:\n{table}"
    );
    let raw = |reference: &str| skopeo_raw(d, "apps/app", reference, &[]);
    let sig_tag = tag_of(&s.image.manifest.digest, ".sig");
    assert_eq!(raw(&sig_tag).as_deref(), Some(&s.sig.manifest.bytes[..]));
    assert_eq!(
        raw(&tag_of(&s.sbom.manifest.digest, ".sig")).as_deref(),
        Some(&s.sbom_sig.manifest.bytes[..])
    );
    assert_eq!(
        raw(&s.sbom.manifest.digest).as_deref(),
        Some(&s.sbom.manifest.bytes[..]),
        "the SBOM arrives by digest, byte-exact"
    );
    assert_eq!(raw("1.0").as_deref(), Some(&s.image.manifest.bytes[..]));
    let index: serde_json::Value =
        serde_json::from_slice(&raw(&tag_of(&s.image.manifest.digest, "")).expect("index"))
            .expect("json");
    let listed: Vec<&str> = index["manifests"]
        .as_array()
        .expect("array")
        .iter()
        .map(|m| m["digest"].as_str().expect("digest"))
        .collect();
    assert_eq!(
        listed,
        vec![
            other.manifest.digest.as_str(),
            s.sbom.manifest.digest.as_str()
        ],
        "the referrers index keeps the entry already there and adds the SBOM"
    );
    assert_eq!(index["manifests"][1]["artifactType"], SPDX);
    // A second push changes nothing and says the same.
    let (again, _) = text(&o.ok(&["unpack", b, "--push", d]));
    assert!(
        again.contains("3 (2 by tag, 1 in referrers tag)"),
        "{again}"
    );
    let index2 = raw(&tag_of(&s.image.manifest.digest, "")).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&index2).expect("json"),
        index
    );

    // `outrider serve` answers the referrers API: packing from it finds the SBOM that
    // way (one request, no tag schema), the signatures by their tags, and the same bytes.
    let serving = Serving::start(&o, &[b]);
    let again_bundle = dir.path().join("from-serve.zip");
    o.ok(&[
        "pack",
        &format!("{}/apps/app:1.0", serving.host),
        "-o",
        again_bundle.to_str().expect("utf-8 path"),
    ]);
    let log = serving.log();
    assert!(
        log.contains(&format!(
            "method=GET path=/v2/apps/app/referrers/{} status=200",
            s.image.manifest.digest
        )),
        "pack asked the referrers API:\n{log}"
    );
    assert!(
        !log.contains(&format!(
            "/manifests/{} status",
            tag_of(&s.image.manifest.digest, "")
        )),
        "pack asked for the tag schema although the API answered:\n{log}"
    );
    let via_api = inspect_artifacts(&o, again_bundle.to_str().expect("utf-8 path"));
    let digests = |list: &[serde_json::Value]| -> Vec<String> {
        list.iter()
            .map(|a| a["digest"].as_str().expect("digest").to_owned())
            .collect()
    };
    assert_eq!(digests(&via_api), digests(&found));
    drop(serving);

    // Tars hold the image only, and a real consumer reads it.
    let tar = dir.path().join("app.tar");
    o.ok(&[
        "unpack",
        b,
        "--docker-save",
        tar.to_str().expect("utf-8 path"),
    ]);
    let names = tar_names(&tar);
    for a in [&s.sig, &s.sbom, &s.sbom_sig] {
        let hex = a.manifest.digest.trim_start_matches("sha256:");
        assert!(
            !names.iter().any(|n| n.ends_with(hex)),
            "artifact {} was written into the tar",
            a.manifest.digest
        );
    }
    let inspected = std::process::Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("oci-archive:{}", tar.display()))
        .output()
        .expect("run");
    assert!(
        inspected.status.success(),
        "{}",
        String::from_utf8_lossy(&inspected.stderr)
    );
    assert_eq!(
        inspected.stdout, s.image.manifest.bytes,
        "skopeo reads the tar's image, byte-exact"
    );
    let docker = std::process::Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("docker-archive:{}", tar.display()))
        .output()
        .expect("run");
    assert!(
        docker.status.success(),
        "the tar's manifest.json is readable too"
    );
}

#[test]
fn referrers_can_be_left_behind_or_chosen_by_type() {
    let s = signed();
    let o = Outrider::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let image_ref = format!("{}/apps/app:1.0", s.source.host);
    let none = dir.path().join("none.zip");
    o.ok(&[
        "pack",
        &image_ref,
        "--no-referrers",
        "-o",
        none.to_str().expect("utf-8 path"),
    ]);
    assert!(inspect_artifacts(&o, none.to_str().expect("utf-8 path")).is_empty());
    let index = zip_index(&none);
    assert_eq!(
        index["formatVersion"], 1,
        "a bundle without referrers stays version 1, for older readers"
    );
    let sboms = dir.path().join("sboms.zip");
    o.ok(&[
        "pack",
        &image_ref,
        "--referrers-type",
        SPDX,
        "-o",
        sboms.to_str().expect("utf-8 path"),
    ]);
    let found = inspect_artifacts(&o, sboms.to_str().expect("utf-8 path"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["digest"], s.sbom.manifest.digest);
    let index = zip_index(&sboms);
    // One image: a version 2 reader, which ignores `repositories`, places its artifacts
    // the same, so the bundle stays readable by it.
    assert_eq!(index["formatVersion"], 2);
    // Each relation says where it was found: the image's name.
    assert_eq!(
        index["referrers"][0]["repositories"],
        serde_json::json!([format!("{}/apps/app", s.source.host)])
    );
}

/// Week 1 carried the image; then it was signed. Week 2's bundle carries only the new
/// signature, and the push puts it beside the image already there.
#[test]
fn a_new_signature_travels_alone() {
    let source = Registry::plain();
    let h = &source.host;
    let image = images::image(
        vec![images::layer(111, 30_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(h, "apps/web", "2", &image);
    let o = Outrider::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let week1 = dir.path().join("week1.zip");
    let week2 = dir.path().join("week2.zip");
    let image_ref = format!("{h}/apps/web:2");
    o.ok(&[
        "pack",
        &image_ref,
        "-o",
        week1.to_str().expect("utf-8 path"),
    ]);
    let dest = Registry::plain();
    o.ok(&[
        "unpack",
        week1.to_str().expect("utf-8 path"),
        "--push",
        &dest.host,
    ]);

    let sig = cosign_signature(&format!("{h}/apps/web"), &image.manifest.digest, 7);
    sig.push(h, "apps/web", &tag_of(&image.manifest.digest, ".sig"));
    o.ok(&[
        "pack",
        &image_ref,
        "--since",
        week1.to_str().expect("utf-8 path"),
        "-o",
        week2.to_str().expect("utf-8 path"),
    ]);
    let mut expected: Vec<String> = vec![sig.manifest.digest.clone()];
    expected.extend(sig.blobs.iter().map(|b| b.digest.clone()));
    expected.sort();
    assert_eq!(carried(&week2), expected, "only the signature is carried");
    // Week 3, nothing new: the signature week 2 carried is not carried again.
    let week3 = dir.path().join("week3.zip");
    o.ok(&[
        "pack",
        &image_ref,
        "--since",
        week1.to_str().expect("utf-8 path"),
        "--since",
        week2.to_str().expect("utf-8 path"),
        "-o",
        week3.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(carried(&week3), Vec::<String>::new());
    let (table, _) = text(&o.ok(&[
        "unpack",
        week2.to_str().expect("utf-8 path"),
        "--push",
        &dest.host,
    ]));
    assert!(table.contains("1 (1 by tag)"), "{table}");
    assert_eq!(
        skopeo_raw(
            &dest.host,
            "apps/web",
            &tag_of(&image.manifest.digest, ".sig"),
            &[]
        )
        .as_deref(),
        Some(&sig.manifest.bytes[..])
    );
}

/// Digests a bundle stores (not external), sorted.
fn carried(bundle: &std::path::Path) -> Vec<String> {
    let index = zip_index(bundle);
    let mut out: Vec<String> = index["manifests"]
        .as_array()
        .expect("array")
        .iter()
        .chain(index["blobs"].as_array().expect("array"))
        .filter(|e| e.get("entry").is_some())
        .map(|e| e["digest"].as_str().expect("digest").to_owned())
        .collect();
    out.sort();
    out
}

fn zip_index(bundle: &std::path::Path) -> serde_json::Value {
    let out = std::process::Command::new("unzip")
        .args(["-p"])
        .arg(bundle)
        .arg("outrider.json")
        .output()
        .expect("run");
    serde_json::from_slice(&out.stdout).expect("json")
}

fn tar_names(tar: &std::path::Path) -> Vec<String> {
    let mut archive = tar::Archive::new(std::fs::File::open(tar).expect("tar"));
    archive
        .entries()
        .expect("tar entries")
        .map(|e| {
            let e = e.expect("tar entry");
            e.path().expect("tar path").to_string_lossy().into_owned()
        })
        .collect()
}

/// Bundles written before referrers existed (format version 1) are still read by every
/// command: kept in `fixtures/`, written by the last outrider that wrote only version 1.
#[test]
fn version_1_bundles_are_still_read() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/bundle-v1.zip");
    let digest = "sha256:0e135850398fcb66ea630a10987ec214b6882c0da652d8629c003ab9cb1eaec9";
    let o = Outrider::new();
    o.ok(&["verify", fixture]);
    let out = o.ok(&["inspect", "--json", fixture]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["formatVersion"], 1);
    assert_eq!(v["images"][0]["digest"], digest);
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = dir.path().join("hello.tar");
    o.ok(&[
        "unpack",
        fixture,
        "--docker-save",
        tar.to_str().expect("utf-8 path"),
    ]);
    let dest = Registry::plain();
    o.ok(&["unpack", fixture, "--push", &dest.host]);
    let pushed = skopeo_raw(&dest.host, "outrider/hello", "1.0", &[]).expect("pushed");
    assert_eq!(crate::support::digest(&pushed), digest);
}
