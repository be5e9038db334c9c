//! Every image source a user has, written by the real producers: skopeo and podman
//! layouts and archives, a Docker engine's `docker save`, docker-charon payloads; a
//! digest-pinned index; and the refusals that must name their cause.

use crate::support::daemons::{Containerd, Dockerd, Podman, can_run_daemons};
use crate::support::images::{self, Flavour, Image};
use crate::support::{Outrider, Registry, skopeo_raw, text};
use std::path::Path;
use std::process::Command;

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

/// The images of a bundle as `inspect --json` lists them.
fn inspect(o: &Outrider, bundle: &Path) -> Vec<serde_json::Value> {
    let out = o.ok(&["inspect", "--json", s(bundle)]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["images"].as_array().expect("images").clone()
}

fn oci_image(seed: u64) -> Image {
    images::image(
        vec![
            images::layer(seed, 30_000, Flavour::Oci),
            images::layer(seed + 1, 5_000, Flavour::Oci),
        ],
        "amd64",
        Flavour::Oci,
        false,
    )
}

/// Docker schema 2, the only manifest type docker-charon's client asks for.
pub(crate) fn docker_image(seed: u64) -> Image {
    images::image(
        vec![
            images::layer(seed, 30_000, Flavour::Docker),
            images::layer(seed + 1, 5_000, Flavour::Docker),
        ],
        "amd64",
        Flavour::Docker,
        false,
    )
}

#[test]
fn a_digest_pinned_index_arrives_whole_and_resolves_by_digest() {
    let src = Registry::plain();
    let dst = Registry::plain();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let (children, index) = images::push_multi_platform(
        &src.host,
        "apps/pinned",
        "1",
        &[
            (81, "linux/amd64"),
            (82, "linux/arm64"),
            (83, "unknown/unknown"),
        ],
    );
    let pinned = format!("{}/apps/pinned@{}", src.host, index.digest);
    let bundle = w.path().join("pinned.zip");
    let out = o.ok(&["pack", "-o", s(&bundle), &pinned]);
    let (_, err) = text(&out);
    assert!(
        err.contains("is pinned to an index digest: carrying all 3 of its manifests"),
        "{err}"
    );
    let out = o.ok(&["unpack", s(&bundle), "--push", &dst.host]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains(&format!("{}/apps/pinned@{}", dst.host, index.digest)),
        "the table names the pinned digest: {stdout}"
    );
    assert_eq!(
        skopeo_raw(&dst.host, "apps/pinned", &index.digest, &[]).as_deref(),
        Some(&index.bytes[..]),
        "the index is served byte-exact under its digest"
    );
    for child in &children {
        assert_eq!(
            skopeo_raw(&dst.host, "apps/pinned", &child.manifest.digest, &[]).as_deref(),
            Some(&child.manifest.bytes[..])
        );
    }
    // skopeo pulls the arm64 image through the pinned index.
    let copied = w.path().join("arm64");
    run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            "--override-arch",
            "arm64",
            &format!("docker://{}/apps/pinned@{}", dst.host, index.digest),
            &format!("oci:{}:x", copied.display()),
        ],
    );
    let layout: serde_json::Value =
        serde_json::from_slice(&std::fs::read(copied.join("index.json")).expect("index.json"))
            .expect("json");
    assert_eq!(
        layout["manifests"][0]["digest"].as_str(),
        Some(children[1].manifest.digest.as_str())
    );

    // An attestation is never "the image for a platform".
    let out = o.run(&[
        "pack",
        "--platform",
        "unknown/unknown",
        "-o",
        s(&w.path().join("no.zip")),
        &format!("{}/apps/pinned:1", src.host),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is not an image platform"), "{err}");
}

#[test]
fn layouts_and_archives_from_skopeo_and_podman() {
    let src = Registry::plain();
    let dst = Registry::plain();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let p = |n: &str| w.path().join(n);
    let image = oci_image(90);
    images::push_image(&src.host, "apps/src", "1", &image);
    let from = format!("docker://{}/apps/src:1", src.host);
    let full = "docker.io/library/busybox:1.36";

    // skopeo writes ref.name as the full reference it was given.
    let dir = p("skopeo-dir");
    run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            &from,
            &format!("oci:{}:{full}", dir.display()),
        ],
    );
    let archive = p("skopeo.tar");
    run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            &from,
            &format!("oci-archive:{}:{full}", archive.display()),
        ],
    );
    for (i, source) in [
        format!("oci:{}", dir.display()),
        format!("oci:{}:{full}", dir.display()),
        format!("oci:{}:busybox:1.36", dir.display()),
        format!("oci:{}:1.36", dir.display()),
        format!("oci-archive:{}", archive.display()),
        format!("oci-archive:{}:1.36", archive.display()),
    ]
    .iter()
    .enumerate()
    {
        let bundle = p(&format!("s{i}.zip"));
        o.ok(&["pack", "-o", s(&bundle), source]);
        let listed = inspect(&o, &bundle);
        assert_eq!(listed[0]["reference"], full, "{source}");
        assert_eq!(
            listed[0]["digest"],
            image.manifest.digest.as_str(),
            "{source}"
        );
    }
    // Docker 25 and later: `docker save` writes an OCI layout (index.json annotated with
    // containerd's image name) beside its manifest.json. Made here from skopeo's layout, as
    // Debian's Docker is older; the digest must be kept, not rebuilt.
    let docker25 = p("docker25.tar");
    {
        let mut t = tar::Builder::new(std::fs::File::create(&docker25).expect("create"));
        let mut index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("index.json")).expect("index"))
                .expect("json");
        index["manifests"][0]["annotations"] = serde_json::json!({
            "io.containerd.image.name": full,
            "org.opencontainers.image.ref.name": "1.36",
        });
        let manifest_json = serde_json::json!([{
            "Config": format!("blobs/sha256/{}", &image.config.digest[7..]),
            "RepoTags": ["busybox:1.36"],
            "Layers": image.layers.iter().map(|l| format!("blobs/sha256/{}", &l.digest[7..])).collect::<Vec<_>>(),
        }]);
        let mut add = |name: &str, body: &[u8]| {
            let mut h = tar::Header::new_ustar();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            t.append_data(&mut h, name, body).expect("tar");
        };
        add(
            "oci-layout",
            &std::fs::read(dir.join("oci-layout")).expect("marker"),
        );
        add("index.json", &serde_json::to_vec(&index).expect("json"));
        add(
            "manifest.json",
            &serde_json::to_vec(&manifest_json).expect("json"),
        );
        for entry in std::fs::read_dir(dir.join("blobs/sha256")).expect("blobs") {
            let entry = entry.expect("entry");
            let name = format!("blobs/sha256/{}", entry.file_name().to_string_lossy());
            add(&name, &std::fs::read(entry.path()).expect("blob"));
        }
        t.finish().expect("tar");
    }
    let bundle = p("docker25.zip");
    o.ok(&[
        "pack",
        "-o",
        s(&bundle),
        &format!("docker-archive:{}:busybox:1.36", docker25.display()),
    ]);
    let listed = inspect(&o, &bundle);
    assert_eq!(listed[0]["reference"], full);
    assert_eq!(listed[0]["digest"], image.manifest.digest.as_str());

    let out = o.run(&[
        "pack",
        "-o",
        s(&p("none.zip")),
        &format!("oci:{}:1.37", dir.display()),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("has no image `1.37` (it has: docker.io/library/busybox:1.36)"),
        "{err}"
    );

    // `as` names the image and is where the push puts it.
    let renamed = p("renamed.zip");
    o.ok(&[
        "pack",
        "-o",
        s(&renamed),
        &format!(
            "oci-archive:{} as site.example/team/box:2",
            archive.display()
        ),
    ]);
    o.ok(&["unpack", s(&renamed), "--push", &dst.host]);
    assert_eq!(
        skopeo_raw(&dst.host, "team/box", "2", &[]).as_deref(),
        Some(&image.manifest.bytes[..])
    );

    // podman: oci-dir, oci-archive and docker-archive of an image it pulled.
    if !can_run_daemons("podman save") {
        return;
    }
    let podman = Podman::new();
    let name = format!("{}/apps/src:1", src.host);
    podman.run(&["pull", "--tls-verify=false", "-q", &name]);
    let id = podman.run(&["images", "--no-trunc", "--format", "{{.ID}}", &name]);
    let id = id.trim().trim_start_matches("sha256:").to_owned();
    for (format, out_name) in [
        ("oci-dir", "podman-dir"),
        ("oci-archive", "podman-oci.tar"),
        ("docker-archive", "podman-docker.tar"),
    ] {
        let out = p(out_name);
        podman.run(&["save", "--format", format, "-o", s(&out), &name]);
        let prefix = match format {
            "oci-dir" => "oci",
            other => other,
        };
        let bundle = p(&format!("{out_name}.zip"));
        let packed = o.ok(&[
            "pack",
            "-o",
            s(&bundle),
            &format!("{prefix}:{}", out.display()),
        ]);
        let (_, err) = text(&packed);
        let listed = inspect(&o, &bundle);
        assert_eq!(listed[0]["reference"], name.as_str(), "{format}: {err}");
        let digest = listed[0]["digest"].as_str().expect("digest").to_owned();
        if format == "docker-archive" {
            assert!(
                err.contains("without registry manifests: built one") && err.contains(&digest),
                "the new digest is reported: {err}"
            );
        }
        let repo = format!("podman/{}", format.replace('-', ""));
        let named = p(&format!("{out_name}-named.zip"));
        o.ok(&[
            "pack",
            "-o",
            s(&named),
            &format!("{prefix}:{} as {}/{repo}:1", out.display(), dst.host),
        ]);
        o.ok(&["unpack", s(&named), "--push", &dst.host]);
        let pushed = skopeo_raw(&dst.host, &repo, "1", &[]).expect("pushed");
        assert_eq!(crate::support::digest(&pushed), digest, "{format}");
        // The config (the image ID) is the one podman holds: the same image.
        let manifest: serde_json::Value = serde_json::from_slice(&pushed).expect("json");
        assert_eq!(
            manifest["config"]["digest"].as_str(),
            Some(format!("sha256:{id}").as_str()),
            "{format}"
        );
        let back = Podman::new();
        back.run(&[
            "pull",
            "--tls-verify=false",
            "-q",
            &format!("{}/{repo}:1", dst.host),
        ]);
    }
}

#[test]
fn docker_save_tars_from_a_docker_engine() {
    if !can_run_daemons("docker save") {
        return;
    }
    let src = Registry::plain();
    let dst = Registry::plain();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let p = |n: &str| w.path().join(n);
    let image = oci_image(95);
    let other = oci_image(97);
    images::push_image(&src.host, "apps/one", "1", &image);
    images::push_image(&src.host, "apps/two", "2", &other);
    let containerd = Containerd::start();
    let dockerd = Dockerd::start(&containerd);
    let one = format!("{}/apps/one:1", src.host);
    let two = format!("{}/apps/two:2", src.host);
    dockerd.docker(&["pull", "-q", &one]);
    dockerd.docker(&["pull", "-q", &two]);
    let tar = p("saved.tar");
    dockerd.docker(&["save", "-o", s(&tar), &one, &two]);
    // Two images in one tar: named, each is found by its RepoTags.
    let bundle = p("saved.zip");
    let out = o.run(&[
        "pack",
        "-o",
        s(&bundle),
        &format!("docker-archive:{}", tar.display()),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("holds several, so name one"), "{err}");
    o.ok(&[
        "pack",
        "-o",
        s(&bundle),
        &format!("docker-archive:{}:{one}", tar.display()),
        &format!("docker-archive:{}:{two}", tar.display()),
    ]);
    let listed = inspect(&o, &bundle);
    assert_eq!(listed[0]["reference"], one.as_str());
    assert_eq!(listed[1]["reference"], two.as_str());
    o.ok(&["verify", s(&bundle)]);
    o.ok(&["unpack", s(&bundle), "--push", &dst.host]);
    // The engine pulls them back from the far side's registry as the same images.
    for (name, repo, tag) in [(&one, "apps/one", "1"), (&two, "apps/two", "2")] {
        let id = dockerd.docker(&["image", "inspect", "--format", "{{.Id}}", name]);
        let pushed = format!("{}/{repo}:{tag}", dst.host);
        dockerd.docker(&["pull", "-q", &pushed]);
        let back = dockerd.docker(&["image", "inspect", "--format", "{{.Id}}", &pushed]);
        assert_eq!(back.trim(), id.trim(), "{name}");
    }
}

/// A payload made by the `docker-charon` package from a plain-HTTP registry, through its
/// Python API: its CLI's `--insecure` flag sets `secure` to true.
pub(crate) fn make_payload(out: &Path, images: &[&str], already: &[&str], registry: &str) {
    let script = "import json, sys, docker_charon\n\
        a = json.loads(sys.argv[1])\n\
        docker_charon.make_payload(a['out'], a['images'], a['already'], registry=a['registry'], secure=False)\n";
    let args = serde_json::json!({
        "out": s(out), "images": images, "already": already, "registry": registry,
    });
    run("python3", &["-c", script, &args.to_string()]);
}

#[test]
fn docker_charon_payloads_unpack_with_their_digests() {
    let src = Registry::plain();
    let dst = Registry::plain();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let p = |n: &str| w.path().join(n);
    let first = docker_image(101);
    let second = docker_image(103);
    images::push_image(&src.host, "ubuntu", "22.04", &first);
    images::push_image(&src.host, "team/app", "1", &second);
    let payload = p("payload.zip");
    make_payload(&payload, &["ubuntu:22.04", "team/app:1"], &[], &src.host);
    let listed = inspect(&o, &payload);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["digest"], second.manifest.digest.as_str());
    assert_eq!(listed[1]["digest"], first.manifest.digest.as_str());
    o.ok(&["verify", s(&payload)]);
    o.ok(&["unpack", s(&payload), "--push", &dst.host]);
    // Where docker-charon itself would have pushed them, byte-exact.
    assert_eq!(
        skopeo_raw(&dst.host, "ubuntu", "22.04", &[]).as_deref(),
        Some(&first.manifest.bytes[..])
    );
    assert_eq!(
        skopeo_raw(&dst.host, "team/app", "1", &[]).as_deref(),
        Some(&second.manifest.bytes[..])
    );
    let tar = p("payload.tar");
    o.ok(&["unpack", s(&payload), "--docker-save", s(&tar)]);
    run(
        "skopeo",
        &[
            "inspect",
            &format!("docker-archive:{}:localhost/ubuntu:22.04", tar.display()),
        ],
    );

    // An update payload: the shared blobs stay in the registry; with --push they mount.
    let update = p("update.zip");
    images::push_image(&src.host, "ubuntu", "24.04", &docker_image(105));
    make_payload(&update, &["ubuntu:24.04"], &["ubuntu:22.04"], &src.host);
    o.ok(&["verify", s(&update)]);
    o.ok(&["unpack", s(&update), "--push", &dst.host]);
    assert!(skopeo_raw(&dst.host, "ubuntu", "24.04", &[]).is_some());

    // A payload with a blob swapped is refused before anything is pushed.
    let bad = p("bad.zip");
    let entries = crate::support::rawzip::read(&payload);
    let mut changed = false;
    let tampered: Vec<_> = entries
        .into_iter()
        .map(|mut e| {
            if !changed && e.name.starts_with("blobs/") && e.data.len() > 1000 {
                e.data[500] ^= 1;
                e.crc = None;
                changed = true;
            }
            e
        })
        .collect();
    std::fs::write(&bad, crate::support::rawzip::write(&tampered)).expect("write");
    let out = o.run(&["verify", s(&bad)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
}

#[test]
fn refusals_name_their_cause() {
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let p = |n: &str| w.path().join(n);
    // A layout holding a Docker schema 1 manifest.
    let dir = p("schema1");
    std::fs::create_dir_all(dir.join("blobs/sha256")).expect("mkdir");
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("w");
    let v1 = br#"{"schemaVersion":1,"name":"library/old","tag":"1","architecture":"amd64","fsLayers":[],"history":[]}"#;
    let d = crate::support::digest(v1);
    std::fs::write(dir.join("blobs/sha256").join(&d[7..]), v1).expect("w");
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion":2,"manifests":[{
            "mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws",
            "digest": d, "size": v1.len(),
            "annotations": {"org.opencontainers.image.ref.name": "1"}}]}))
        .expect("json"),
    )
    .expect("w");
    let out = o.run(&[
        "pack",
        "-o",
        s(&p("a.zip")),
        &format!("oci:{}", dir.display()),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("Docker image manifest schema 1 is deprecated and not supported"),
        "{err}"
    );

    // Docker 25's `docker save` of nothing: `"manifests": null`.
    let tar = p("empty.tar");
    {
        let mut t = tar::Builder::new(std::fs::File::create(&tar).expect("create"));
        for (name, body) in [
            ("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]),
            (
                "index.json",
                &br#"{"schemaVersion":2,"manifests":null}"#[..],
            ),
            ("manifest.json", &b"null"[..]),
        ] {
            let mut h = tar::Header::new_ustar();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            t.append_data(&mut h, name, body).expect("tar");
        }
        t.finish().expect("tar");
    }
    let out = o.run(&[
        "pack",
        "-o",
        s(&p("b.zip")),
        &format!("docker-archive:{}", tar.display()),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("lists no images"), "{err}");

    // A compressed archive: the fix is named.
    let gz = p("x.tar.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &std::fs::read(&tar).expect("read")).expect("gz");
    std::fs::write(&gz, enc.finish().expect("gz")).expect("w");
    let out = o.run(&[
        "pack",
        "-o",
        s(&p("c.zip")),
        &format!("oci-archive:{}", gz.display()),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("decompress it first with `gunzip`"), "{err}");

    // A name given with `as` cannot carry a digest.
    let out = o.run(&[
        "pack",
        "-o",
        s(&p("d.zip")),
        &format!("oci:{} as x/y@sha256:{}", dir.display(), "a".repeat(64)),
    ]);
    let (_, err) = text(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("cannot hold a digest"), "{err}");
}
