//! Copies that went wrong on the way to the far side, and failures that must leave
//! nothing behind: a bundle cut short is named as such (with the fix), `SHA256SUMS`
//! beside it lets `sha256sum -c` catch the cut before outrider runs, a FIFO in a local
//! source is refused at once, and a full disk leaves no `.partial` and no empty folder,
//! and never hides the push table.

use crate::support::daemons::can_run_daemons;
use crate::support::images::{self, Flavour, Image};
use crate::support::tmpfs::Tmpfs;
use crate::support::{Outrider, Registry, skopeo_raw, text};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn seed() -> (Registry, Image) {
    let source = Registry::plain();
    let img = images::image(
        vec![
            images::layer(91, 200_000, Flavour::Oci),
            images::layer(92, 60_000, Flavour::Oci),
        ],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(&source.host, "cut/app", "1", &img);
    (source, img)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

/// `sha256sum -c SHA256SUMS` run in `dir`: whether it passed, and what it said.
pub(crate) fn sha256sum_check(dir: &Path) -> (bool, String) {
    let out = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .expect("sha256sum");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The first `len` bytes of `from`, as `to`, with `SHA256SUMS` beside it: a copy that
/// stopped early.
fn cut_copy(from: &Path, to_dir: &Path, len: u64) -> PathBuf {
    std::fs::create_dir_all(to_dir).expect("mkdir");
    let bytes = std::fs::read(from).expect("read");
    let to = to_dir.join(from.file_name().expect("name"));
    std::fs::write(&to, &bytes[..len as usize]).expect("write");
    std::fs::copy(from.with_file_name("SHA256SUMS"), to_dir.join("SHA256SUMS")).expect("copy sums");
    to
}

/// Where the central directory of the zip at `path` starts (from its end record).
fn central_directory_offset(path: &Path) -> u64 {
    let bytes = std::fs::read(path).expect("read");
    let eocd = &bytes[bytes.len() - 22..];
    assert_eq!(&eocd[..4], b"PK\x05\x06", "the bundle ends with its EOCD");
    u32::from_le_bytes(eocd[16..20].try_into().expect("4 bytes")) as u64
}

#[test]
fn a_cut_bundle_says_the_copy_stopped_early_and_sha256sums_catches_it() {
    let (source, img) = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let near = w.path().join("near");
    std::fs::create_dir(&near).expect("mkdir");
    let bundle = near.join("b.zip");
    let packed = o.ok(&[
        "pack",
        "-o",
        s(&bundle),
        &format!("{}/cut/app:1", source.host),
    ]);
    let (_, err) = text(&packed);

    // pack prints the file's size and sha256, and SHA256SUMS holds the same.
    let bytes = std::fs::read(&bundle).expect("read");
    let sha = crate::support::digest(&bytes);
    let hex = sha.trim_start_matches("sha256:");
    assert!(
        err.contains(&format!("{} bytes", bytes.len())) && err.contains(hex),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(near.join("SHA256SUMS")).expect("SHA256SUMS"),
        format!("{hex}  b.zip\n")
    );
    let (ok, said) = sha256sum_check(&near);
    assert!(ok, "sha256sum -c on a fresh pack: {said}");
    assert!(!near.join("SHA256SUMS.partial").exists());

    let len = bytes.len() as u64;
    let cuts = [
        ("half", len / 2),
        (
            "in the central directory",
            central_directory_offset(&bundle) + 10,
        ),
    ];
    for (what, at) in cuts {
        let far = w.path().join(what.replace(' ', "-"));
        let copy = cut_copy(&bundle, &far, at);
        let (ok, said) = sha256sum_check(&far);
        assert!(
            !ok && said.contains("FAILED"),
            "{what}: sha256sum -c passed: {said}"
        );
        let dest = Registry::plain();
        for args in [
            vec!["verify", s(&copy)],
            vec!["inspect", s(&copy)],
            vec!["unpack", s(&copy), "--push", &dest.host],
        ] {
            let out = o.run(&args);
            let (_, err) = text(&out);
            assert!(!out.status.success(), "{what}: {args:?} passed: {err}");
            assert!(
                err.contains("the copy stopped early")
                    && err.contains("the end of the file is missing")
                    && err.contains(&format!("{at} bytes"))
                    && err.contains("b.zip")
                    && err.contains("sha256sum -c SHA256SUMS")
                    && !err.contains("EOCD"),
                "{what}: {args:?}: {err}"
            );
        }
        assert!(skopeo_raw(&dest.host, "cut/app", "1", &[]).is_none());
    }
    let _ = img;

    // --no-checksums writes no list; a bundle named like the list is refused.
    let other = w.path().join("other");
    std::fs::create_dir(&other).expect("mkdir");
    let image = format!("{}/cut/app:1", source.host);
    o.ok(&[
        "pack",
        "--no-checksums",
        "-o",
        s(&other.join("b.zip")),
        &image,
    ]);
    assert!(!other.join("SHA256SUMS").exists());
    let out = o.run(&["pack", "-o", s(&other.join("SHA256SUMS")), &image]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("checksum list"), "{err}");
    assert!(!other.join("SHA256SUMS").exists());
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn a_fifo_in_an_oci_layout_is_refused_at_once() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/hello-oci");
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let copy = |name: &str| {
        let dir = w.path().join(name);
        let ok = Command::new("cp")
            .arg("-r")
            .arg(&fixture)
            .arg(&dir)
            .status()
            .expect("cp")
            .success();
        assert!(ok);
        dir
    };
    let blob_dir = copy("blob");
    let blobs: Vec<PathBuf> = std::fs::read_dir(blob_dir.join("blobs/sha256"))
        .expect("blobs")
        .map(|e| e.expect("entry").path())
        .collect();
    // The largest blob is the layer: the one a pack streams, not parses.
    let layer = blobs
        .iter()
        .max_by_key(|p| std::fs::metadata(p).expect("stat").len())
        .expect("a blob")
        .clone();
    std::fs::remove_file(&layer).expect("rm");
    mkfifo(&layer);
    let index_dir = copy("index");
    std::fs::remove_file(index_dir.join("index.json")).expect("rm");
    mkfifo(&index_dir.join("index.json"));
    let tar = w.path().join("saved.tar");
    mkfifo(&tar);

    for (source, named) in [
        (format!("oci:{}", s(&blob_dir)), layer.clone()),
        (
            format!("oci:{}", s(&index_dir)),
            index_dir.join("index.json"),
        ),
        (format!("docker-archive:{}", s(&tar)), tar.clone()),
    ] {
        let out_file = w.path().join("x.zip");
        let out = o.run_within(
            &["pack", &source, "-o", s(&out_file)],
            Duration::from_secs(30),
        );
        let (_, err) = text(&out);
        assert!(!out.status.success(), "{source}: {err}");
        assert!(
            err.contains("a FIFO") && err.contains(s(&named)),
            "{source}: {err}"
        );
        assert!(!out_file.exists());
    }
}

/// A 64 KiB tmpfs, filled up: what is written next finds no room.
fn full_disk() -> Tmpfs {
    let disk = Tmpfs::mount("64k");
    let _ = std::fs::write(disk.path().join("filler"), vec![0u8; 128 * 1024]);
    disk
}

/// What a command left on the full disk, the filler aside.
fn left(disk: &Tmpfs) -> Vec<String> {
    let mut names = disk.names();
    names.retain(|n| n != "filler");
    names
}

#[test]
fn a_full_disk_leaves_no_partial_file_no_empty_folder_and_the_table_is_printed() {
    if !can_run_daemons("the full-disk test (mounts a tmpfs)") {
        return;
    }
    let (source, img) = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let bundle = w.path().join("b.zip");
    o.ok(&[
        "pack",
        "-o",
        s(&bundle),
        &format!("{}/cut/app:1", source.host),
    ]);
    let disk = full_disk();

    // The push goes through and its table is printed; the receipt's failure is the exit.
    let dest = Registry::plain();
    let receipt = disk.path().join("r.json");
    let out = o.run(&[
        "unpack",
        s(&bundle),
        "--push",
        &dest.host,
        "--receipt",
        s(&receipt),
    ]);
    let (stdout, err) = text(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        stdout.contains("SOURCE") && stdout.contains("cut/app"),
        "no table: {stdout}\n{err}"
    );
    assert!(
        err.contains("r.json") && err.contains("receipt") && err.contains("No space left"),
        "{err}"
    );
    assert_eq!(
        skopeo_raw(&dest.host, "cut/app", "1", &[]).as_deref(),
        Some(&img.manifest.bytes[..])
    );
    assert!(left(&disk).is_empty(), "left {:?}", left(&disk));

    // A pack into a full disk has nothing to resume: no 0-byte `.partial`, no journal.
    // (Past the check that would refuse it up front: this is about what a late ENOSPC leaves.)
    let out = o.run(&[
        "pack",
        "--no-space-check",
        "-o",
        s(&disk.path().join("full.zip")),
        &format!("{}/cut/app:1", source.host),
    ]);
    let (_, err) = text(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("No space left"), "{err}");
    assert!(left(&disk).is_empty(), "left {:?}: {err}", left(&disk));

    // One tar per image into a full disk: no empty folder stays.
    let per = disk.path().join("per");
    let out = o.run(&[
        "unpack",
        s(&bundle),
        "--docker-save",
        s(&per),
        "--per-image",
        "--no-space-check",
    ]);
    let (_, err) = text(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("No space left"), "{err}");
    assert!(left(&disk).is_empty(), "left {:?}", left(&disk));
}
