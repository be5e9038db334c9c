//! An interrupted pack resumes: `kill -9` at any point leaves the `.partial` file(s) and
//! the journal; the same command fetches only what is missing (the half-done layer with
//! `Range`, nothing that was complete) and writes the same bytes as a pack that never
//! stopped. Other options start fresh with a note; `--no-resume` starts over. Volumes
//! resume the same way.

use crate::lying_registry::{Lie, STALL_UNRANGED, serve_recording};
use crate::support::images::{self, Flavour, Image};
use crate::support::{Outrider, text};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Site {
    /// This test's slot in [`STALL_UNRANGED`].
    slot: usize,
    host: String,
    img: Image,
    seen: Arc<Mutex<Vec<String>>>,
    work: tempfile::TempDir,
}

impl Site {
    fn args(&self, out: &Path, extra: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = ["pack", "--plain-http", &self.host, "--timeout", "120", "-o"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.push(out.to_str().expect("utf8").to_owned());
        a.extend(extra.iter().map(|s| s.to_string()));
        a.push(format!("{}/lie/img:1", self.host));
        a
    }

    fn spawn(&self, out: &Path, extra: &[&str]) -> Child {
        Outrider::new()
            .cmd()
            .args(self.args(out, extra))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    }

    fn run(&self, out: &Path, extra: &[&str]) -> String {
        let args = self.args(out, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = Outrider::new().run(&args);
        let (_, err) = text(&out);
        assert!(out.status.success(), "{err}");
        err
    }

    /// Every layer request since the `from`th request the server saw.
    fn layer_gets(&self, from: usize, layer: usize) -> Vec<String> {
        let path = format!("/v2/lie/img/blobs/{}", self.img.layers[layer].digest);
        self.seen.lock().expect("lock")[from..]
            .iter()
            .filter(|t| t.starts_with(&path))
            .cloned()
            .collect()
    }

    /// Whether whole-blob GETs of the first layer stall from now on.
    fn stall(&self, on: bool) {
        STALL_UNRANGED[self.slot].store(on, Ordering::SeqCst);
    }

    fn requests(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }

    /// Waits until the journal for `out`, under a key other than `not_key`, records the
    /// small layers complete and part of the stalled one; then `kill -9`. Returns the key
    /// and what the killed run printed.
    fn kill_when_stalled(&self, mut child: Child, out: &Path, not_key: &str) -> (String, String) {
        let journal = journal_path(out);
        let deadline = Instant::now() + Duration::from_secs(60);
        let key = loop {
            let text = std::fs::read_to_string(&journal).unwrap_or_default();
            let key = text.lines().nth(1).unwrap_or_default().to_owned();
            let has = |word: &str, layer: usize| {
                text.lines()
                    .any(|l| l.starts_with(&format!("{word} {}", self.img.layers[layer].digest)))
            };
            if key != not_key && has("have", 0) && has("done", 1) && has("done", 2) {
                break key;
            }
            assert!(
                Instant::now() < deadline,
                "the journal never showed the stall:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        child.kill().expect("kill -9");
        let killed = child.wait_with_output().expect("wait");
        assert!(!killed.status.success());
        (key, text(&killed).1)
    }
}

fn journal_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().expect("name").to_os_string();
    name.push(".journal");
    out.with_file_name(name)
}

fn site(slot: usize) -> Site {
    let img = images::image(
        vec![
            images::layer(61, 4_000_000, Flavour::Docker),
            images::layer(62, 1_500_000, Flavour::Docker),
            images::layer(63, 1_500_000, Flavour::Docker),
        ],
        "amd64",
        Flavour::Docker,
        false,
    );
    let (host, _, seen) = serve_recording(img.clone(), Lie::StallUnrangedWhileFlagged(slot));
    Site {
        slot,
        host,
        img,
        seen,
        work: tempfile::tempdir().expect("tmp"),
    }
}

/// The byte the resumed GET of the first layer starts from (it must name one).
fn resumed_from(gets: &[String]) -> u64 {
    assert_eq!(gets.len(), 1, "one GET of the half-done layer: {gets:?}");
    gets[0]
        .rsplit("Range:")
        .next()
        .and_then(|r| r.trim_end_matches('-').parse().ok())
        .unwrap_or_else(|| panic!("the resumed GET names no Range: {gets:?}"))
}

fn files_named(dir: &Path, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

/// `sha256sum -c SHA256SUMS` in `dir` passes: the sums pack took while writing (of bytes
/// fetched now and bytes found on disk from the run it resumed) are the files' own.
fn sums_hold(dir: &Path) {
    let (passed, said) = crate::cut_copies::sha256sum_check(dir);
    assert!(passed, "{said}");
}

#[test]
fn a_pack_killed_with_sigkill_resumes_and_writes_the_same_bytes() {
    let s = site(0);
    let out = s.work.path().join("x.zip");
    let half = s.img.layers[0].bytes.len() as u64 / 2;

    // 1. Killed while the big layer stalls halfway: nothing looks finished.
    s.stall(true);
    let (key, _) = s.kill_when_stalled(s.spawn(&out, &[]), &out, "");
    assert_eq!(
        files_named(s.work.path(), "x.zip"),
        ["x.zip.journal", "x.zip.partial"]
    );

    // 2. The same command resumes: the half-done layer from where it stood, the complete
    //    ones not at all.
    let before = s.requests();
    let err = s.run(&out, &[]);
    assert!(err.contains("resuming the interrupted pack"), "{err}");
    assert!(
        err.contains("resumed: 2 blobs found complete on disk"),
        "{err}"
    );
    let from = resumed_from(&s.layer_gets(before, 0));
    assert!(from > 0 && from <= half, "resumed from {from}");
    assert!(s.layer_gets(before, 1).is_empty() && s.layer_gets(before, 2).is_empty());
    assert_eq!(files_named(s.work.path(), "x.zip"), ["x.zip"]);
    Outrider::new().ok(&["verify", out.to_str().expect("utf8")]);
    sums_hold(s.work.path());
    let resumed = std::fs::read(&out).expect("read");

    // 3. --no-resume starts over, even with a journal there, and writes the same bytes.
    let (again, _) = s.kill_when_stalled(s.spawn(&out, &[]), &out, "");
    assert_eq!(again, key, "the same pack has the same journal key");
    s.stall(false);
    let before = s.requests();
    let err = s.run(&out, &["--no-resume"]);
    assert!(!err.contains("resum"), "{err}");
    assert_eq!(s.layer_gets(before, 0).len(), 1);
    assert!(!s.layer_gets(before, 0)[0].contains("Range"));
    assert_eq!(s.layer_gets(before, 1).len(), 1, "fetched again");
    assert!(
        std::fs::read(&out).expect("read") == resumed,
        "not byte-identical"
    );
    assert_eq!(files_named(s.work.path(), "x.zip"), ["x.zip"]);
}

#[test]
fn volumes_resume_too_and_other_options_start_fresh() {
    let s = site(1);
    let out = s.work.path().join("v.zip");
    s.stall(true);
    let (first, _) = s.kill_when_stalled(s.spawn(&out, &["--volume-size", "3MiB"]), &out, "");

    // Another volume size is another pack: set aside with a note, started fresh.
    let opts = ["--volume-size", "2MiB"];
    let (second, err) = s.kill_when_stalled(s.spawn(&out, &opts), &out, &first);
    assert!(
        err.contains("set aside") && err.contains("starting fresh"),
        "{err}"
    );

    let before = s.requests();
    let err = s.run(&out, &opts);
    assert!(
        err.contains("resumed: 2 blobs found complete on disk"),
        "{err}"
    );
    resumed_from(&s.layer_gets(before, 0));
    assert!(s.layer_gets(before, 1).is_empty() && s.layer_gets(before, 2).is_empty());
    let volumes = files_named(s.work.path(), "v.");
    assert!(
        volumes.len() >= 3 && volumes.iter().all(|v| v.ends_with(".zip")),
        "{volumes:?}"
    );
    let paths: Vec<String> = volumes
        .iter()
        .map(|v| s.work.path().join(v).to_string_lossy().into_owned())
        .collect();
    let mut verify = vec!["verify"];
    verify.extend(paths.iter().map(String::as_str));
    Outrider::new().ok(&verify);
    sums_hold(s.work.path());
    let resumed: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();

    // An uninterrupted pack of the same writes the same bytes.
    s.stall(false);
    s.run(&out, &["--volume-size", "2MiB", "--no-resume"]);
    assert_ne!(second, first);
    for (p, bytes) in paths.iter().zip(&resumed) {
        assert!(&std::fs::read(p).expect("read") == bytes, "{p} differs");
    }
}

#[test]
fn a_partial_file_shorter_than_its_journal_is_fetched_again_not_a_dead_end() {
    let s = site(2);
    let out = s.work.path().join("s.zip");

    // Killed mid-layer, then the `.partial` loses its second half, as a power loss
    // before the file was flushed leaves it: the journal claims more than is there.
    s.stall(true);
    s.kill_when_stalled(s.spawn(&out, &[]), &out, "");
    let partial = s.work.path().join("s.zip.partial");
    let len = std::fs::metadata(&partial).expect("partial").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&partial)
        .expect("open")
        .set_len(len / 2)
        .expect("truncate");

    // The same command resumes: what the short file cannot give back is fetched again,
    // with a note saying why; the rest is reused.
    s.stall(false);
    let err = s.run(&out, &[]);
    assert!(err.contains("resuming the interrupted pack"), "{err}");
    assert!(
        err.contains("did not match their record and were fetched again")
            && err.contains("shorter than the journal says"),
        "{err}"
    );
    assert_eq!(
        files_named(s.work.path(), "s.zip"),
        ["s.zip"],
        "nothing of the resume is left behind"
    );
    Outrider::new().ok(&["verify", out.to_str().expect("utf8")]);
    let resumed = std::fs::read(&out).expect("read");

    // Byte-identical to a pack that never stopped.
    let fresh = s.work.path().join("fresh.zip");
    s.run(&fresh, &[]);
    assert!(
        std::fs::read(&fresh).expect("read") == resumed,
        "not byte-identical"
    );
}
