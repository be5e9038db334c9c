//! Bundles split into stand-alone volumes: each under the size, zip headers included; a
//! blob larger than a volume cut into parts; any volume found from any other; a missing
//! one blocking only the images it holds; the same inputs giving the same bytes.

mod cut;
mod damage;

use crate::support::images::{self, Flavour, Image};
use crate::support::keys::{key_pair, openssl_verifies};
use crate::support::rawzip;
use crate::support::{Outrider, Registry, digest, skopeo_raw, text};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

const VOLUME: u64 = 300_000;

pub(crate) fn seed() -> (Registry, Vec<(String, Image)>) {
    let source = Registry::plain();
    let big = images::image(
        vec![images::layer(81, 700_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    let small = images::image(
        vec![
            images::layer(82, 120_000, Flavour::Oci),
            images::layer(83, 90_000, Flavour::Oci),
        ],
        "amd64",
        Flavour::Oci,
        false,
    );
    let tiny = images::image(
        vec![images::layer(84, 30_000, Flavour::Docker)],
        "amd64",
        Flavour::Docker,
        false,
    );
    let list = vec![
        ("vol/big".to_owned(), big),
        ("vol/small".to_owned(), small),
        ("vol/tiny".to_owned(), tiny),
    ];
    for (repo, img) in &list {
        images::push_image(&source.host, repo, "1", img);
    }
    (source, list)
}

fn volumes_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".zip"))
        .collect();
    v.sort();
    v
}

pub(crate) fn index_of(volume: &Path) -> serde_json::Value {
    let mut z = zip::ZipArchive::new(std::fs::File::open(volume).expect("open")).expect("zip");
    let mut s = String::new();
    z.by_name("outrider.json")
        .expect("index")
        .read_to_string(&mut s)
        .expect("read");
    serde_json::from_str(&s).expect("json")
}

pub(crate) fn pack(
    o: &Outrider,
    source: &Registry,
    list: &[(String, Image)],
    dir: &Path,
) -> Vec<PathBuf> {
    pack_with(o, source, list, dir, &[])
}

fn pack_with(
    o: &Outrider,
    source: &Registry,
    list: &[(String, Image)],
    dir: &Path,
    extra: &[&str],
) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("mkdir");
    let out = dir.join("site.bundle.zip");
    let mut args = vec![
        "pack".to_owned(),
        "--volume-size".into(),
        VOLUME.to_string(),
        "-o".into(),
        out.to_string_lossy().into_owned(),
    ];
    args.extend(
        list.iter()
            .map(|(repo, _)| format!("{}/{repo}:1", source.host)),
    );
    args.extend(extra.iter().map(|a| a.to_string()));
    o.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        !out.exists(),
        "a single bundle was written besides the volumes"
    );
    volumes_in(dir)
}

#[test]
fn volumes_stay_under_the_size_and_unpack_in_any_order() {
    let (source, list) = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let vols = pack(&o, &source, &list, &w.path().join("a"));
    assert!(vols.len() >= 3, "{vols:?}");
    for (n, v) in vols.iter().enumerate() {
        assert!(
            v.to_string_lossy()
                .ends_with(&format!("site.bundle.{:03}.zip", n + 1)),
            "{v:?}"
        );
        let size = std::fs::metadata(v).expect("stat").len();
        assert!(size <= VOLUME, "{} is {size} bytes", v.display());
        let t = std::process::Command::new("unzip")
            .arg("-tq")
            .arg(v)
            .output()
            .expect("unzip");
        assert!(
            t.status.success(),
            "unzip -t {}: {}",
            v.display(),
            String::from_utf8_lossy(&t.stdout)
        );
        o.ok(&["verify", v.to_str().expect("utf8")]);
    }
    let index = index_of(&vols[1]);
    assert_eq!(index["volume"]["number"], 2);
    assert_eq!(index["volume"]["total"].as_u64(), Some(vols.len() as u64));
    let big_layer = &list[0].1.layers[0].digest;
    let parts: Vec<&serde_json::Value> = index["volume"]["holdings"]
        .as_array()
        .expect("holdings")
        .iter()
        .filter(|h| h["digest"].as_str() == Some(big_layer))
        .collect();
    assert!(
        parts.len() >= 3 && parts.iter().all(|p| p["part"]["digest"].as_str().is_some()),
        "the big layer is not in parts: {parts:?}"
    );
    o.ok(&["verify", "--set", vols[0].to_str().expect("utf8")]);

    // All volumes given, in reverse order.
    let dest = Registry::plain();
    let mut args: Vec<String> = vec!["unpack".into()];
    args.extend(vols.iter().rev().map(|v| v.to_string_lossy().into_owned()));
    args.extend(["--push".into(), dest.host.clone()]);
    o.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    for (repo, img) in &list {
        assert_eq!(
            skopeo_raw(&dest.host, repo, "1", &[]).as_deref(),
            Some(&img.manifest.bytes[..]),
            "{repo}"
        );
    }
    // One volume given: the others are found beside it.
    let dest2 = Registry::plain();
    o.ok(&[
        "unpack",
        vols[vols.len() - 1].to_str().expect("utf8"),
        "--push",
        &dest2.host,
    ]);
    for (repo, img) in &list {
        assert_eq!(
            skopeo_raw(&dest2.host, repo, "1", &[]).as_deref(),
            Some(&img.manifest.bytes[..]),
            "{repo}"
        );
    }
}

#[test]
fn a_missing_volume_blocks_only_its_images() {
    let (source, list) = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let vols = pack(&o, &source, &list, &w.path().join("m"));
    let index = index_of(&vols[0]);
    let gone = vols.len(); // the last volume goes missing
    let blocked = blocked_by(&index, gone as u64, &list);
    std::fs::rename(&vols[gone - 1], w.path().join("elsewhere.zip")).expect("move");

    let dest = Registry::plain();
    let out = o.run(&[
        "unpack",
        vols[0].to_str().expect("utf8"),
        "--push",
        &dest.host,
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("volume {gone}"))
            && err.contains(&format!("site.bundle.{gone:03}.zip")),
        "{err}"
    );
    for ((repo, img), blocked) in list.iter().zip(&blocked) {
        let name = format!("{}/{repo}:1", source.host);
        let pushed = skopeo_raw(&dest.host, repo, "1", &[]);
        if *blocked {
            assert!(err.contains(&name), "blocked image not named: {err}");
            assert!(pushed.is_none(), "{repo} was pushed without its volume");
        } else {
            assert_eq!(
                pushed.as_deref(),
                Some(&img.manifest.bytes[..]),
                "{repo} should have gone through"
            );
        }
    }
    let out = o.run(&["verify", "--set", vols[0].to_str().expect("utf8")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "verify --set passed with a volume missing"
    );
}

#[test]
fn the_same_inputs_give_the_same_bytes() {
    let (source, list) = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let sums = |vols: &[PathBuf]| {
        vols.iter()
            .map(|v| digest(&std::fs::read(v).expect("read")))
            .collect::<Vec<_>>()
    };
    let first = sums(&pack(&o, &source, &list, &w.path().join("one")));
    let second = sums(&pack(&o, &source, &list, &w.path().join("two")));
    assert_eq!(
        first, second,
        "volumes differ between two packs of the same inputs"
    );
    let single = |name: &str| {
        let out = w.path().join(name);
        let mut args = vec![
            "pack".to_owned(),
            "-o".into(),
            out.to_string_lossy().into_owned(),
        ];
        args.extend(
            list.iter()
                .map(|(repo, _)| format!("{}/{repo}:1", source.host)),
        );
        o.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        digest(&std::fs::read(out).expect("read"))
    };
    assert_eq!(
        single("x.zip"),
        single("y.zip"),
        "single bundles differ between two packs"
    );
}

#[test]
fn plan_counts_what_pack_writes() {
    let (source, list) = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let refs: Vec<String> = list
        .iter()
        .map(|(repo, _)| format!("{}/{repo}:1", source.host))
        .collect();
    let mut args = vec!["plan", "--json", "--volume-size", "300000"];
    args.extend(refs.iter().map(String::as_str));
    let planned: serde_json::Value = serde_json::from_slice(&o.ok(&args).stdout).expect("json");
    let vols = pack(&o, &source, &list, &w.path().join("p"));
    assert_eq!(
        planned["volumes"].as_u64(),
        Some(vols.len() as u64),
        "{planned}"
    );
    let big = &list[0].1;
    let big_total =
        (big.manifest.bytes.len() + big.config.bytes.len() + big.layers[0].bytes.len()) as u64;
    assert_eq!(planned["images"][0]["totalBytes"].as_u64(), Some(big_total));
    assert_eq!(planned["alreadyThereBytes"].as_u64(), Some(0));

    // Against what an earlier bundle carried: the small image is already there.
    let first = w.path().join("first.zip");
    o.ok(&["pack", "-o", first.to_str().expect("utf8"), &refs[1]]);
    let mut args = vec!["plan", "--json", "--since", first.to_str().expect("utf8")];
    args.extend(refs.iter().map(String::as_str));
    let planned: serde_json::Value = serde_json::from_slice(&o.ok(&args).stdout).expect("json");
    let small = &planned["images"][1];
    assert_eq!(small["toCarryBytes"].as_u64(), Some(0), "{planned}");
    assert_eq!(small["alreadyThereBytes"], small["totalBytes"]);
    assert_eq!(planned["volumes"].as_u64(), Some(1));
}

#[test]
fn every_volume_carries_its_own_signature() {
    let (source, list) = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let (key, public) = key_pair(w.path(), "k");
    let dir = w.path().join("signed");
    let key_arg = key.to_str().expect("utf-8");
    let vols = pack_with(&o, &source, &list, &dir, &["--sign", key_arg]);
    assert!(vols.len() >= 3, "{vols:?}");
    let public = public.to_str().expect("utf-8");
    for v in &vols {
        assert!(
            std::fs::metadata(v).expect("stat").len() <= VOLUME,
            "{v:?} over the size"
        );
        let (ok, said) = openssl_verifies(Path::new(public), v);
        assert!(ok, "{v:?}: {said}");
    }
    let first = vols[0].to_str().expect("utf-8");
    o.ok(&["verify", "--set", first, "--trusted-key", public]);
    // The second volume's index altered, its zip rewritten with right CRCs: the set is
    // refused, by verify and by unpack, which find it beside the first.
    let mut entries = rawzip::read(&vols[1]);
    for e in entries.iter_mut().filter(|e| e.name == "outrider.json") {
        *e = rawzip::Entry::new(
            "outrider.json",
            String::from_utf8(e.data.clone())
                .expect("utf-8")
                .replacen("\"outrider 0.", "\"outrider 9.", 1)
                .into_bytes(),
        );
    }
    std::fs::write(&vols[1], rawzip::write(&entries)).expect("write");
    let tar = w.path().join("x.tar");
    let tar = tar.to_str().expect("utf-8");
    for args in [
        vec!["verify", "--set", first, "--trusted-key", public],
        vec![
            "unpack",
            first,
            "--trusted-key",
            public,
            "--docker-save",
            tar,
        ],
    ] {
        let out = o.run(&args);
        assert!(!out.status.success(), "{args:?} accepted an altered volume");
        assert!(
            text(&out).1.contains("does not match its index"),
            "{args:?}: {}",
            text(&out).1
        );
    }
}

/// Which of `list`'s images have content in volume `number` (per the set's `index`),
/// asserting the set has both kinds, as the missing- and cut-volume tests need.
pub(crate) fn blocked_by(
    index: &serde_json::Value,
    number: u64,
    list: &[(String, Image)],
) -> Vec<bool> {
    let held: BTreeSet<String> = index["volume"]["holdings"]
        .as_array()
        .expect("holdings")
        .iter()
        .filter(|h| h["volume"].as_u64() == Some(number))
        .filter_map(|h| h["digest"].as_str().map(str::to_owned))
        .collect();
    let blocked: Vec<bool> = list
        .iter()
        .map(|(_, img)| {
            std::iter::once(&img.manifest)
                .chain(std::iter::once(&img.config))
                .chain(img.layers.iter())
                .any(|b| held.contains(&b.digest))
        })
        .collect();
    assert!(
        blocked.iter().any(|b| *b) && blocked.iter().any(|b| !*b),
        "the test needs both kinds: {blocked:?}"
    );
    blocked
}
