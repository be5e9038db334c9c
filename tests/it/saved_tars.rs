//! `docker save` tars as other tools write them, from go-containerregistry's test data
//! (`fixtures/ggcr/`): a Bazel-made tar of two images whose RepoTags are bare repository
//! names, and Docker 25's `docker save <image-id>`, whose index.json lists nothing. Each
//! image must arrive under a name of its own with its own digest; a REF that names
//! several images gets one line naming what to write instead.

use crate::support::{Outrider, Registry, digest, skopeo_inspect, skopeo_raw, text};
use std::io::Read;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/ggcr")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

/// The bytes of entry `name` of the tar at `path`.
fn entry(path: &Path, name: &str) -> Vec<u8> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).expect("open"));
    for e in archive.entries().expect("entries") {
        let mut e = e.expect("entry");
        if e.path().expect("path").to_str() == Some(name) {
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).expect("read");
            return bytes;
        }
    }
    panic!("{} has no {name}", path.display());
}

/// The images of a bundle as `inspect --json` lists them: (reference, digest).
fn listed(o: &Outrider, bundle: &Path) -> Vec<(String, String)> {
    let out = o.ok(&["inspect", "--json", s(bundle)]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| {
            (
                i["reference"].as_str().expect("reference").to_owned(),
                i["digest"].as_str().expect("digest").to_owned(),
            )
        })
        .collect()
}

#[test]
fn two_images_of_one_tar_push_to_two_names_with_their_own_digests() {
    let dst = Registry::plain();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let tar = fixture("test_bundle.tar");
    let bundle = w.path().join("two.zip");
    o.ok(&[
        "pack",
        "-o",
        s(&bundle),
        &format!("docker-archive:{}:test_image_1", tar.display()),
        &format!("docker-archive:{}:test_image_2:latest", tar.display()),
    ]);
    let images = listed(&o, &bundle);
    let names: Vec<&str> = images.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        names,
        [
            "docker.io/library/test_image_1:latest",
            "docker.io/library/test_image_2:latest"
        ]
    );
    assert_ne!(images[0].1, images[1].1, "two images, two digests");
    o.ok(&["unpack", s(&bundle), "--push", &dst.host]);
    // Each name holds its own image: the manifest packed for it, over the config file
    // manifest.json gives it (the image ID), and skopeo reads its config.
    let configs = [
        "6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e.json",
        "930705ce23e3b6ed4c08746b6fe880089c864fbaf62482702ae3fdd66b8c7fe9.json",
    ];
    for ((name, packed), config) in images.iter().zip(configs) {
        let repo = name
            .strip_prefix("docker.io/")
            .and_then(|n| n.strip_suffix(":latest"))
            .expect("name");
        let pushed = skopeo_raw(&dst.host, repo, "latest", &[]).expect("pushed");
        assert_eq!(&digest(&pushed), packed, "{name}");
        let manifest: serde_json::Value = serde_json::from_slice(&pushed).expect("json");
        assert_eq!(
            manifest["config"]["digest"].as_str(),
            Some(digest(&entry(&tar, config)).as_str()),
            "{name}"
        );
        skopeo_inspect(&dst.host, &format!("{repo}:latest")).expect("skopeo reads it");
    }

    // One name for both, asked with `as`: refused, naming both and the fix.
    let out = o.run(&[
        "pack",
        "-o",
        s(&w.path().join("clash.zip")),
        &format!(
            "docker-archive:{}:test_image_1 as site.example/x:1",
            tar.display()
        ),
        &format!(
            "docker-archive:{}:test_image_2 as site.example/x:1",
            tar.display()
        ),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "`docker-archive:{0}:test_image_1 as site.example/x:1` and `docker-archive:{0}:test_image_2 as site.example/x:1` would both arrive as `x:1` with different digests; name one otherwise with `SOURCE as NAME`",
            tar.display()
        )),
        "{err}"
    );
    // Both named by the same registry: keeping registries in the path cannot part them.
    assert!(!err.contains("--registry-path"), "{err}");
}

#[test]
fn a_ref_naming_several_images_gets_one_line_listing_full_names() {
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let tar = fixture("test_bundle.tar");
    let out = o.run(&[
        "pack",
        "-o",
        s(&w.path().join("a.zip")),
        &format!("docker-archive:{}:latest", tar.display()),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = format!(
        "`{t}` has 2 images that `latest` names; name one in full as `docker-archive:{t}:REF`, REF one of: docker.io/library/test_image_2:latest, docker.io/library/test_image_1:latest",
        t = tar.display()
    );
    assert_eq!(
        err.lines().find(|l| l.starts_with("error:")),
        Some(format!("error: `docker-archive:{}:latest`: {line}", tar.display()).as_str()),
        "{err}"
    );

    // An OCI layout whose two images are both tagged `1.0` and named nowhere else: only
    // their digests tell them apart, so those are offered, and pick.
    let dir = w.path().join("twice");
    std::fs::create_dir_all(dir.join("blobs/sha256")).expect("mkdir");
    let hello = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hello-oci");
    std::fs::copy(hello.join("oci-layout"), dir.join("oci-layout")).expect("copy");
    for b in std::fs::read_dir(hello.join("blobs/sha256")).expect("blobs") {
        let b = b.expect("blob");
        std::fs::copy(b.path(), dir.join("blobs/sha256").join(b.file_name())).expect("copy");
    }
    let v25 = fixture("hello-world-v25.tar");
    let other = "411caf340c828657e915a83ed561a79d2b8150dabad4dc079d881cbfe6f86afe";
    for hex in [
        other,
        "ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44",
        "12660636fe55438cc3ae7424da7ac56e845cdb52493ff9cf949c47a7f57f8b43",
    ] {
        let name = format!("blobs/sha256/{hex}");
        std::fs::write(dir.join(&name), entry(&v25, &name)).expect("write");
    }
    let first = "0e135850398fcb66ea630a10987ec214b6882c0da652d8629c003ab9cb1eaec9";
    let entry_of = |hex: &str, size: usize| {
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{hex}"), "size": size,
            "annotations": {"org.opencontainers.image.ref.name": "1.0"},
        })
    };
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [
        entry_of(first, 401), entry_of(other, 447),
    ]});
    std::fs::write(dir.join("index.json"), index.to_string()).expect("write");
    let out = o.run(&[
        "pack",
        "-o",
        s(&w.path().join("b.zip")),
        &format!("oci:{}:1.0", dir.display()),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "`{d}` has 2 images that `1.0` names; name one in full as `oci:{d}:REF`, REF one of: sha256:{} (1.0), sha256:{} (1.0)",
            &first[..12],
            &other[..12],
            d = dir.display()
        )),
        "{err}"
    );
    let bundle = w.path().join("c.zip");
    o.ok(&[
        "pack",
        "-o",
        s(&bundle),
        &format!("oci:{}:sha256:{}", dir.display(), &first[..12]),
        &format!("oci:{}:sha256:{other}", dir.display()),
    ]);
    assert_eq!(
        listed(&o, &bundle),
        [
            (
                format!("localhost/twice:{}", &first[..12]),
                format!("sha256:{first}")
            ),
            (
                format!("localhost/twice:{}", &other[..12]),
                format!("sha256:{other}")
            ),
        ]
    );
}

#[test]
fn docker_25_save_by_image_id_keeps_its_manifest() {
    let dst = Registry::plain();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let tar = fixture("hello-world-v25.tar");
    let manifest = entry(
        &tar,
        "blobs/sha256/411caf340c828657e915a83ed561a79d2b8150dabad4dc079d881cbfe6f86afe",
    );
    let kept = digest(&manifest);
    let bundle = w.path().join("v25.zip");
    let out = o.ok(&[
        "pack",
        "-o",
        s(&bundle),
        &format!("docker-archive:{}", tar.display()),
    ]);
    let (_, err) = text(&out);
    // No RepoTags: named by the image ID, and told so.
    let name = "localhost/hello-world-v25:ee301c921b8a";
    assert!(
        err.contains(&format!("lists `{name}` in its manifest.json only"))
            && err.contains(&format!("its manifest {kept} is kept"))
            && err.contains("named by its image ID"),
        "{err}"
    );
    assert_eq!(listed(&o, &bundle), [(name.to_owned(), kept.clone())]);
    o.ok(&["unpack", s(&bundle), "--push", &dst.host]);
    let pushed = skopeo_raw(&dst.host, "hello-world-v25", "ee301c921b8a", &[]).expect("pushed");
    assert_eq!(pushed, manifest, "the manifest in the tar, byte for byte");
    skopeo_inspect(&dst.host, "hello-world-v25:ee301c921b8a").expect("skopeo reads it");
}
