//! Plain files carried as OCI artifacts the way `oras push` writes them: a file by URL
//! with its checksum pin, its download cut mid-way and resumed with a range; an unpinned
//! URL refused unless allowed; a local `file:`; at the far side written back into a
//! folder by title (`unpack --files`), checked, and pushed to a registry as an artifact.
//! The large file is 64 MiB (not the 1 GiB) to keep the suite fast: the resume
//! path is the same at any size.

use crate::support::web_files::{Setup, WebFiles};
use crate::support::{Outrider, Registry, digest, skopeo_raw, text};
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

/// `n` bytes that do not compress: a xorshift stream.
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(n);
    out
}

#[test]
fn a_file_by_url_is_resumed_after_a_cut_and_written_back_by_title() {
    let big = noise(64 << 20, 0x5eed);
    let small = b"#!/bin/sh\necho installed\n".to_vec();
    let mut setup = Setup::default();
    setup.files.insert("/dl/k3s-airgap.bin".into(), big.clone());
    setup.files.insert("/dl/install.sh".into(), small.clone());
    setup.cut = Some(("/dl/k3s-airgap.bin".into(), 20 << 20));
    let web = WebFiles::start(setup);
    let dst = Registry::plain();
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("files.zip");
    let hex = digest(&big).trim_start_matches("sha256:").to_owned();
    let url = format!("http://{}/dl/k3s-airgap.bin#sha256={hex}", web.host);
    let unpinned = format!("http://{}/dl/install.sh", web.host);

    // A URL without its checksum is refused, with the fix.
    let out = o.run(&["pack", "-o", s(&bundle), &url, &unpinned]);
    let (_, err) = text(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("#sha256=") && err.contains("--allow-unpinned"),
        "{err}"
    );

    let local = work.path().join("notes.txt");
    std::fs::write(&local, b"site notes\n").expect("write");
    let local_arg = format!("file:{} as files/site-notes:1", s(&local));
    let mut resumed = false;
    for _ in 0..2 {
        let out = o.run(&[
            "pack",
            "-o",
            s(&bundle),
            &url,
            &unpinned,
            &local_arg,
            "--allow-unpinned",
        ]);
        if out.status.success() {
            break;
        }
        // A cut that the run did not retry leaves a partial bundle the next run resumes.
        resumed = true;
    }
    assert!(bundle.exists(), "packed");
    let ranged: Vec<String> = web
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("GET /dl/k3s-airgap.bin range=bytes=") && !r.contains("bytes=0-"))
        .collect();
    assert!(
        !ranged.is_empty(),
        "the download went on from where it was cut (resumed by a rerun: {resumed}): {:?}",
        web.requests()
    );

    // Written back by title, byte for byte.
    let out_dir = work.path().join("site");
    o.ok(&["unpack", s(&bundle), "--files", s(&out_dir)]);
    assert_eq!(
        std::fs::read(out_dir.join("k3s-airgap.bin")).expect("big"),
        big
    );
    assert_eq!(
        std::fs::read(out_dir.join("install.sh")).expect("small"),
        small
    );
    assert_eq!(
        std::fs::read(out_dir.join("notes.txt")).expect("local"),
        b"site notes\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&out_dir)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty());
    // Again: the same bytes are left alone; other bytes are never overwritten.
    let out = o.ok(&["unpack", s(&bundle), "--files", s(&out_dir)]);
    assert!(text(&out).0.contains("already there"));
    std::fs::write(out_dir.join("install.sh"), b"changed").expect("write");
    let out = o.run(&["unpack", s(&bundle), "--files", s(&out_dir)]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("already exists"), "{}", text(&out).1);

    // Pushed as ORAS writes a file: empty config, one titled layer, its media type.
    o.ok(&["unpack", s(&bundle), "--push", &dst.host]);
    let raw = skopeo_raw(&dst.host, "files/k3s-airgap.bin", "latest", &[]).expect("pushed");
    let m: serde_json::Value = serde_json::from_slice(&raw).expect("json");
    assert_eq!(m["artifactType"], "application/vnd.unknown.artifact.v1");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar"
    );
    assert_eq!(
        m["layers"][0]["annotations"]["org.opencontainers.image.title"],
        "k3s-airgap.bin"
    );
    assert_eq!(m["layers"][0]["digest"], digest(&big));
    assert!(skopeo_raw(&dst.host, "files/site-notes", "1", &[]).is_some());
}

/// `oras pull` with the ORAS Python client (`pip install oras`; run-tests.sh installs
/// it): the files it wrote, by name.
fn oras_pull(target: &str, dir: &Path) -> Vec<String> {
    let script = format!(
        "import oras.client, json\nprint(json.dumps(oras.client.OrasClient(insecure=True).pull(target={target:?}, outdir={:?})))",
        s(dir)
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "the ORAS client (pip install oras, as run-tests.sh does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("paths")
}

#[test]
fn an_oras_client_pulls_a_carried_file_and_chart_back() {
    let dst = Registry::plain();
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let file = work.path().join("site-tool.bin");
    let body = noise(300_000, 7);
    std::fs::write(&file, &body).expect("write");
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/charts/frobnitz-1.2.3.tgz");
    let bundle = work.path().join("b.zip");
    o.ok(&[
        "pack",
        "-o",
        s(&bundle),
        &format!("file:{} as tools/site-tool:2.0", s(&file)),
        &format!("chart:{}", s(&chart)),
    ]);
    o.ok(&["unpack", s(&bundle), "--push", &dst.host]);
    let out = work.path().join("pulled");
    std::fs::create_dir(&out).expect("dir");
    let got = oras_pull(&format!("{}/tools/site-tool:2.0", dst.host), &out);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].ends_with("/site-tool.bin"),
        "ORAS names it by its title: {got:?}"
    );
    assert_eq!(std::fs::read(&got[0]).expect("pulled"), body);
    // A chart layer has no title: ORAS writes it under its digest, byte for byte.
    let got = oras_pull(&format!("{}/charts/frobnitz:1.2.3", dst.host), &out);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        std::fs::read(&got[0]).expect("pulled"),
        std::fs::read(&chart).expect("fixture")
    );
}
