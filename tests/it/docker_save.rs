//! `unpack --docker-save / --k3s / --docker` checked by every real consumer: containerd
//! (`ctr images import`, which must keep the registry's manifest digest), `docker load`
//! into a Docker engine the test starts, `podman load`, and `skopeo inspect docker-archive:`.

use crate::support::artifacts;
use crate::support::daemons::{Containerd, Dockerd, Podman, can_run_daemons};
use crate::support::images::{self, Blob, Flavour, Image};
use crate::support::tmpfs::Tmpfs;
use crate::support::{Outrider, Registry, text};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

struct Seeded {
    source: Registry,
    alpha: Image,
    beta: Image,
    multi: Vec<Image>,
    multi_index: Blob,
}

fn seed() -> Seeded {
    let source = Registry::plain();
    let h = &source.host;
    let (alpha, beta) = images::push_alpha_beta(h, 71, 100_000, 20_000);
    let (multi, multi_index) = images::push_multi_platform(
        h,
        "apps/multi",
        "3",
        &[
            (74, "linux/amd64"),
            (75, "linux/arm64"),
            (76, "unknown/unknown"),
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

/// Entry names of a plain tar, and the parsed JSON of one of them.
fn tar_entries(path: &Path) -> Vec<String> {
    let mut a = tar::Archive::new(std::fs::File::open(path).expect("open"));
    a.entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn tar_json(path: &Path, name: &str) -> serde_json::Value {
    let mut a = tar::Archive::new(std::fs::File::open(path).expect("open"));
    for e in a.entries().expect("entries") {
        let mut e = e.expect("entry");
        if e.path().expect("path").to_string_lossy() == name {
            let mut s = String::new();
            e.read_to_string(&mut s).expect("read");
            return serde_json::from_str(&s).expect("json");
        }
    }
    panic!("{name} not in {}", path.display());
}

#[test]
fn every_consumer_loads_the_tar_and_containerd_keeps_the_digests() {
    if !can_run_daemons("docker-save consumers") {
        return;
    }
    let s = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let p = |n: &str| w.path().join(n);
    let src = &s.source.host;
    let names = [
        format!("{src}/apps/alpha:1"),
        format!("{src}/apps/beta:2"),
        format!("{src}/apps/multi:3"),
    ];
    let digests = [
        s.alpha.manifest.digest.clone(),
        s.beta.manifest.digest.clone(),
        s.multi_index.digest.clone(),
    ];
    let all = p("all.zip");
    // A Helm chart travels beside the images; no tar output takes it (every consumer below
    // would refuse the whole tar if one did).
    let chart = artifacts::helm_chart("demo", "0.1.0");
    chart.push(src, "charts/demo", "0.1.0");
    let chart_ref = format!("{src}/charts/demo:0.1.0");
    let mut args = vec!["pack", "--all-platforms", "-o", all.to_str().expect("utf8")];
    args.extend(names.iter().map(String::as_str));
    args.push(&chart_ref);
    o.ok(&args);
    let inspected: serde_json::Value = serde_json::from_slice(
        &o.ok(&["inspect", "--json", all.to_str().expect("utf8")])
            .stdout,
    )
    .expect("json");
    assert_eq!(
        inspected["images"][3]["artifactType"],
        "application/vnd.cncf.helm.config.v1+json"
    );
    assert!(inspected["images"][0].get("artifactType").is_none());

    // One tar: an OCI layout pointing at the original manifests, plus manifest.json.
    let tar = p("all.tar");
    let out = o.ok(&[
        "unpack",
        all.to_str().expect("utf8"),
        "--docker-save",
        tar.to_str().expect("utf8"),
        "--platform",
        "linux/amd64",
    ]);
    let (_, err) = text(&out);
    assert!(err.contains("manifest.json names linux/amd64"), "{err}");
    assert!(
        err.contains(&format!("`{chart_ref}` is an artifact (application/vnd.cncf.helm.config.v1+json), not an image: left out of the tar")),
        "{err}"
    );
    let entries = tar_entries(&tar);
    let blobs: Vec<&String> = entries
        .iter()
        .filter(|e| e.starts_with("blobs/sha256/") && e.len() > 13)
        .collect();
    assert_eq!(
        blobs.len(),
        blobs.iter().collect::<BTreeSet<_>>().len(),
        "a blob appears twice"
    );
    for want in ["oci-layout", "index.json", "manifest.json", "repositories"] {
        assert!(
            entries.iter().any(|e| e == want),
            "{want} missing: {entries:?}"
        );
    }
    let index = tar_json(&tar, "index.json");
    let pointed: Vec<&str> = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .filter_map(|m| m["digest"].as_str())
        .collect();
    assert_eq!(
        pointed,
        digests.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let manifest = tar_json(&tar, "manifest.json");
    assert_eq!(manifest.as_array().map(Vec::len), Some(3), "{manifest}");
    assert_eq!(
        manifest[2]["Config"].as_str(),
        Some(format!("blobs/sha256/{}", &s.multi[0].config.digest[7..]).as_str()),
        "manifest.json names the amd64 config"
    );
    for (i, name) in names.iter().enumerate() {
        let inspected = std::process::Command::new("skopeo")
            .args([
                "inspect",
                &format!("docker-archive:{}:{name}", tar.display()),
            ])
            .output()
            .expect("skopeo");
        assert!(
            inspected.status.success(),
            "skopeo docker-archive {i}: {}",
            String::from_utf8_lossy(&inspected.stderr)
        );
    }

    // containerd keeps the registry's manifest digests.
    let containerd = Containerd::start();
    containerd.import("plain", &tar);
    let imported = containerd.images("plain");
    for (name, digest) in names.iter().zip(&digests) {
        assert_eq!(imported.get(name.as_str()), Some(digest), "{imported:?}");
    }

    // podman load.
    let podman = Podman::new();
    podman.run(&["load", "-i", tar.to_str().expect("utf8")]);
    let listed = podman.run(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    for name in &names {
        assert!(
            listed.lines().any(|l| l == name),
            "podman lacks {name}: {listed}"
        );
    }

    // docker load, streamed by --docker into an engine the test started.
    let dockerd = Dockerd::start(&containerd);
    let out = o
        .cmd()
        .args([
            "unpack",
            all.to_str().expect("utf8"),
            "--docker",
            "--platform",
            "linux/amd64",
        ])
        .env("DOCKER_HOST", &dockerd.host)
        .output()
        .expect("run");
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{err}");
    for name in &names {
        assert!(stdout.contains(&format!("loaded {name}")), "{stdout}");
        dockerd.docker(&["image", "inspect", name]);
    }

    // .tar.zst: a window k3s's decoder accepts, imported by containerd after decompression.
    let zst = p("all.tar.zst");
    o.ok(&[
        "unpack",
        all.to_str().expect("utf8"),
        "--docker-save",
        zst.to_str().expect("utf8"),
    ]);
    let mut decoder =
        zstd::stream::read::Decoder::new(std::fs::File::open(&zst).expect("open")).expect("zstd");
    decoder.window_log_max(25).expect("window");
    let plain = p("from-zst.tar");
    std::io::copy(
        &mut decoder,
        &mut std::fs::File::create(&plain).expect("create"),
    )
    .expect("decompress within a 32 MiB window");
    containerd.import("zst", &plain);
    assert_eq!(containerd.images("zst"), imported);

    // --k3s writes the airgap file and imports it into k8s.io through the ctr given.
    let k3s_dir = p("k3s-images");
    let ctr = format!("ctr -a {}", containerd.socket.display());
    o.ok(&[
        "unpack",
        all.to_str().expect("utf8"),
        "--k3s",
        "--k3s-images-dir",
        k3s_dir.to_str().expect("utf8"),
        "--k3s-ctr",
        &ctr,
    ]);
    assert!(
        k3s_dir.join("all.tar.zst").exists(),
        "{:?}",
        std::fs::read_dir(&k3s_dir).map(|d| d.count())
    );
    assert_eq!(containerd.images("k8s.io"), imported);

    // One platform carried: index.json points at the platform manifest itself.
    let one = p("one.zip");
    o.ok(&[
        "pack",
        "--platform",
        "linux/arm64",
        "-o",
        one.to_str().expect("utf8"),
        &names[2],
    ]);
    let one_tar = p("one.tar");
    o.ok(&[
        "unpack",
        one.to_str().expect("utf8"),
        "--docker-save",
        one_tar.to_str().expect("utf8"),
        "--platform",
        "linux/arm64",
    ]);
    assert_eq!(
        tar_json(&one_tar, "index.json")["manifests"][0]["digest"].as_str(),
        Some(s.multi[1].manifest.digest.as_str())
    );
    containerd.import("one", &one_tar);
    assert_eq!(
        containerd.images("one").get(names[2].as_str()),
        Some(&s.multi[1].manifest.digest)
    );

    // Per image: one tar each.
    let dir = p("per-image");
    o.ok(&[
        "unpack",
        all.to_str().expect("utf8"),
        "--docker-save",
        dir.to_str().expect("utf8"),
        "--per-image",
        "--platform",
        "linux/amd64",
    ]);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 3, "the chart gets no tar: {files:?}");
    for f in files {
        let inspected = std::process::Command::new("skopeo")
            .args(["inspect", &format!("docker-archive:{}", f.display())])
            .output()
            .expect("skopeo");
        assert!(
            inspected.status.success(),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&inspected.stderr)
        );
    }

    // A bundle of nothing but the chart: no tar can hold it, and none is written.
    let charts = p("charts.zip");
    o.ok(&["pack", "-o", charts.to_str().expect("utf8"), &chart_ref]);
    let chart_tar = p("charts.tar");
    let out = o.run(&[
        "unpack",
        charts.to_str().expect("utf8"),
        "--docker-save",
        chart_tar.to_str().expect("utf8"),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("holds only artifacts"), "{err}");
    assert!(!chart_tar.exists());

    // Docker 20.10 cannot load zstd layers: said plainly, nothing loaded.
    let version = dockerd.docker(&["version", "--format", "{{.Server.Version}}"]);
    if version
        .trim()
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok())
        .is_some_and(|m| m < 23)
    {
        let raw = {
            let mut t = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_gnu();
            h.set_size(4);
            h.set_mode(0o644);
            h.set_cksum();
            t.append_data(&mut h, "z.txt", &b"zstd"[..]).expect("tar");
            t.into_inner().expect("tar")
        };
        let mut layer = Blob::new(
            zstd::encode_all(&raw[..], 3).expect("zstd"),
            "application/vnd.oci.image.layer.v1.tar+zstd",
        );
        layer.media_type = "application/vnd.oci.image.layer.v1.tar+zstd".into();
        let img = images::image(
            vec![images::layer(77, 100, Flavour::Oci)],
            "amd64",
            Flavour::Oci,
            false,
        );
        // Rebuild with the zstd layer (diff_ids are not checked before the refusal).
        let zimg = images::image_with_layers(&img, vec![layer]);
        images::push_image(src, "apps/zstd", "1", &zimg);
        let zb = p("zstd.zip");
        o.ok(&[
            "pack",
            "-o",
            zb.to_str().expect("utf8"),
            &format!("{src}/apps/zstd:1"),
        ]);
        let out = o
            .cmd()
            .args(["unpack", zb.to_str().expect("utf8"), "--docker"])
            .env("DOCKER_HOST", &dockerd.host)
            .output()
            .expect("run");
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("cannot load zstd-compressed layers"), "{err}");
    }
}

#[test]
fn bad_requests_leave_no_tar() {
    let s = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let p = |n: &str| w.path().join(n);
    let all = p("all.zip");
    o.ok(&[
        "pack",
        "--all-platforms",
        "-o",
        all.to_str().expect("utf8"),
        &format!("{}/apps/multi:3", s.source.host),
    ]);
    let tar = p("x.tar");
    let a = all.to_str().expect("utf8");
    let t = tar.to_str().expect("utf8");

    let out = o.run(&["unpack", a, "--docker-save", t, "--platform", "linux/s390x"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("linux/s390x") && err.contains("linux/arm64"),
        "{err}"
    );
    let out = o.run(&["unpack", a, "--docker-save", t, "--image", "nope:1"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`nope:1` is not in"), "{err}");
    let out = o.run(&["unpack", a, "--docker-save", t, "--platform", "linux"]);
    assert_eq!(out.status.code(), Some(2));
    let out = o.run(&[
        "unpack",
        a,
        "--k3s",
        "--k3s-images-dir",
        "/proc/outrider-cannot-be-here",
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("/proc/outrider-cannot-be-here"), "{err}");
    assert!(
        !tar.exists() && !p("x.tar.partial").exists(),
        "a tar was left behind"
    );
}

/// `docker load` and `ctr import` print while they read. A consumer that prints 256 KiB on
/// each of stdout and stderr before it reads a byte must still get the whole tar: outrider
/// reads what it prints while it feeds it (before, both sides blocked on full pipes).
#[test]
fn a_consumer_that_prints_before_it_reads_gets_the_whole_tar() {
    let s = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let p = |n: &str| w.path().join(n);
    let all = p("all.zip");
    let a = all.to_str().expect("utf8");
    o.ok(&["pack", "-o", a, &format!("{}/apps/alpha:1", s.source.host)]);
    let reference = p("ref.tar");
    o.ok(&[
        "unpack",
        a,
        "--docker-save",
        reference.to_str().expect("utf8"),
    ]);
    let got = p("got.tar");
    let script = p("chatty-docker");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             head -c 262144 /dev/zero | tr '\\0' x\n\
             head -c 262144 /dev/zero | tr '\\0' y >&2\n\
             cat > '{}'\n\
             echo 'Loaded image: chatty:1'\n",
            got.display()
        ),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let out = o.run_within(
        &[
            "unpack",
            a,
            "--docker",
            "--docker-cmd",
            script.to_str().expect("utf8"),
        ],
        std::time::Duration::from_secs(120),
    );
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        std::fs::read(&got).expect("got") == std::fs::read(&reference).expect("ref"),
        "the consumer did not get the tar --docker-save writes"
    );
}

#[test]
fn an_incremental_bundle_becomes_a_whole_tar_with_its_base() {
    if !can_run_daemons("containerd import") {
        return;
    }
    let s = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let p = |n: &str| w.path().join(n).to_str().expect("utf8").to_owned();
    let src = &s.source.host;
    o.ok(&[
        "pack",
        "-o",
        &p("week1.zip"),
        &format!("{src}/apps/alpha:1"),
    ]);
    o.ok(&[
        "pack",
        "-o",
        &p("week2.zip"),
        "--since",
        &p("week1.zip"),
        &format!("{src}/apps/alpha:1"),
        &format!("{src}/apps/beta:2"),
    ]);

    let out = o.run(&["unpack", &p("week2.zip"), "--docker-save", &p("w2.tar")]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&s.alpha.layers[0].digest) && err.contains("--base"),
        "{err}"
    );
    assert!(!Path::new(&p("w2.tar")).exists());

    o.ok(&[
        "unpack",
        &p("week2.zip"),
        "--docker-save",
        &p("w2.tar"),
        "--base",
        &p("week1.zip"),
    ]);
    let containerd = Containerd::start();
    containerd.import("w2", Path::new(&p("w2.tar")));
    let imported = containerd.images("w2");
    assert_eq!(
        imported.get(format!("{src}/apps/alpha:1").as_str()),
        Some(&s.alpha.manifest.digest)
    );
    assert_eq!(
        imported.get(format!("{src}/apps/beta:2").as_str()),
        Some(&s.beta.manifest.digest)
    );

    // Or the external blobs come from the registry week 1 was pushed to.
    let dest = Registry::plain();
    o.ok(&["unpack", &p("week1.zip"), "--push", &dest.host]);
    o.ok(&[
        "unpack",
        &p("week2.zip"),
        "--docker-save",
        &p("w2r.tar"),
        "--from-registry",
        &dest.host,
    ]);
    containerd.import("w2r", Path::new(&p("w2r.tar")));
    assert_eq!(containerd.images("w2r"), imported);
    // A registry that lacks them is named in a clear error, and nothing is written.
    let empty = Registry::plain();
    let out = o.run(&[
        "unpack",
        &p("week2.zip"),
        "--docker-save",
        &p("none.tar"),
        "--from-registry",
        &empty.host,
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&s.alpha.layers[0].digest) && err.contains("--from-registry"),
        "{err}"
    );
    assert!(!Path::new(&p("none.tar")).exists());
}

#[test]
fn push_with_k3s_mirrors_the_sources_through_the_registry() {
    let s = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let p = |n: &str| w.path().join(n).to_str().expect("utf8").to_owned();
    o.ok(&[
        "pack",
        "-o",
        &p("b.zip"),
        &format!("{}/apps/alpha:1", s.source.host),
    ]);
    let dest = Registry::plain();
    let registries = p("registries.yaml");
    std::fs::write(&registries, "mirrors:\n  other.example:\n    endpoint:\n      - https://keep.me\nconfigs:\n  keep.me:\n    tls:\n      insecure_skip_verify: true\n").expect("write");
    o.ok(&[
        "unpack",
        &p("b.zip"),
        "--push",
        &dest.host,
        "--k3s",
        "--k3s-images-dir",
        &p("images"),
        "--k3s-registries",
        &registries,
    ]);
    let yaml = std::fs::read_to_string(&registries).expect("read");
    assert!(
        yaml.contains(&s.source.host) && yaml.contains(&format!("http://{}", dest.host)),
        "{yaml}"
    );
    assert!(
        yaml.contains("other.example")
            && yaml.contains("https://keep.me")
            && yaml.contains("insecure_skip_verify"),
        "merge lost entries: {yaml}"
    );
    let backup =
        std::fs::read_to_string(format!("{registries}.outrider-backup")).expect("backup kept");
    assert!(backup.contains("https://keep.me") && !backup.contains(&dest.host));
    assert!(Path::new(&p("images")).join("b.tar.zst").exists());
}

#[test]
fn a_full_disk_is_reported_and_leaves_nothing_that_looks_finished() {
    if !can_run_daemons("the full-disk test (mounts a tmpfs)") {
        return;
    }
    let s = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let bundle = w.path().join("b.zip");
    let b = bundle.to_str().expect("utf8");
    let alpha = format!("{}/apps/alpha:1", s.source.host);
    o.ok(&["pack", "-o", b, &alpha]);
    let disk = Tmpfs::mount("64k");
    for (args, name) in [
        // Past the up-front space check: this is about what a late ENOSPC leaves.
        (
            vec!["unpack", b, "--no-space-check", "--docker-save"],
            "full.tar",
        ),
        (vec!["pack", &alpha, "--no-space-check", "-o"], "full.zip"),
    ] {
        let target = disk.path().join(name);
        let mut args = args.clone();
        args.push(target.to_str().expect("utf8"));
        let out = o.run(&args);
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("No space left on device") && err.contains(name),
            "{args:?}: {err}"
        );
        let left = disk.names();
        if name == "full.zip" {
            // A pack keeps what it wrote, under `.partial`, for the same command to resume
            // once there is room.
            assert_eq!(left, ["full.zip.journal", "full.zip.partial"], "{err}");
            assert!(err.contains("the same command resumes it"), "{err}");
        } else {
            assert!(left.is_empty(), "{args:?} left {left:?}");
        }
    }
}
