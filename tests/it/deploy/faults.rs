//! Targets that fail mid-deploy, against real sshd: a frozen target (its sshd session
//! stopped with SIGSTOP) is given up on within its timeout while the others finish, and
//! one whose sshd is stopped before it says a word fails on `connect_timeout`; a
//! killed upload leaves nothing under the final name and a rerun completes; a
//! `remote_tar_path` beginning with `-` is a file name; an upload that outlasts
//! `command_timeout` while its bytes keep moving completes.

use super::{Setup, config, setup, setup_with_layer};
use crate::support::daemons::can_run_daemons;
use crate::support::sshd::Sshd;
use crate::support::{Outrider, digest, text};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// A `cat` for the targets' PATH that touches `started`, waits a second (so a test can
/// act while the upload is under way), runs the real cat, then writes its status to
/// `finished`. Returns the `SetEnv` line that puts it first.
fn slow_cat(s: &Setup, started: &Path, finished: &Path) -> String {
    cat_first_on_path(
        s,
        "slowbin",
        &format!(
            "#!/bin/sh\ntouch {}\nsleep 1\n/bin/cat \"$@\"\necho $? > {}\n",
            started.display(),
            finished.display()
        ),
    )
}

/// Writes `script` as an executable `cat` in the test's folder `dir` and returns the
/// `SetEnv` line that puts that folder first on the targets' PATH.
fn cat_first_on_path(s: &Setup, dir: &str, script: &str) -> String {
    let bin = s.work.path().join(dir);
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::fs::write(bin.join("cat"), script).expect("write");
    let chmod = std::process::Command::new("chmod")
        .arg("+x")
        .arg(bin.join("cat"))
        .status()
        .expect("chmod");
    assert!(chmod.success());
    format!(
        "SetEnv PATH={}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
        bin.display()
    )
}

fn wait_for(path: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{what}: no {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs outrider with `args`; once `marker` exists, calls `during`; then waits for it to
/// end, failing the test (and killing it) if it has not ended within `limit`.
fn run_until(
    o: &Outrider,
    args: &[&str],
    marker: &Path,
    during: impl FnOnce(),
    limit: Duration,
) -> Output {
    let child = o
        .cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run outrider");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !marker.exists() {
        if let Ok(out) = rx.try_recv() {
            let (stdout, err) = text(&out.expect("wait"));
            panic!("outrider ended before {}: {stdout}{err}", marker.display());
        }
        assert!(Instant::now() < deadline, "no {}", marker.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    during();
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("outrider still ran {limit:?} after the target was stopped: it never gave up");
        }
    }
}

/// An sshd whose user `deployer` logs in with /bin/sh and has its own home under the
/// test's folder (root's shell startup files on the machine have no say).
fn sshd(s: &Setup, home: &str, extra_config: &str) -> (Sshd, PathBuf) {
    let home = s.work.path().join(home);
    std::fs::create_dir_all(&home).expect("mkdir");
    let sshd = Sshd::start_as(
        &s.key.with_extension("pub"),
        "deployer",
        &home,
        extra_config,
    );
    (sshd, home)
}

/// The test config for `ports`, logging in as `deployer`.
fn config_as_deployer(
    s: &Setup,
    ports: &[u16],
    known: &Path,
    transport: &str,
    post: &str,
) -> PathBuf {
    let cfg = config(s, ports, known, transport, post);
    let text = std::fs::read_to_string(&cfg).expect("read").replace(
        "  - host: 127.0.0.1\n",
        "  - host: 127.0.0.1\n    user: deployer\n",
    );
    std::fs::write(&cfg, text).expect("write");
    cfg
}

fn known_hosts(s: &Setup, sshds: &[&Sshd]) -> PathBuf {
    let known = s.work.path().join("known_hosts");
    std::fs::write(
        &known,
        sshds
            .iter()
            .map(|d| d.known_hosts_line())
            .collect::<String>(),
    )
    .expect("write");
    known
}

#[test]
fn a_frozen_target_is_given_up_on_within_its_timeout_and_the_others_go_on() {
    if !can_run_daemons("sshd targets") {
        return;
    }
    let s = setup();
    let started = s.work.path().join("cat-started");
    let finished = s.work.path().join("cat-finished");
    let (frozen, _) = sshd(&s, "home-frozen", &slow_cat(&s, &started, &finished));
    let (healthy, _) = sshd(&s, "home-healthy", "");
    // One that never gets as far as a banner.
    let (mute, _) = sshd(&s, "home-mute", "");
    mute.signal("STOP");
    let known = known_hosts(&s, &[&frozen, &healthy, &mute]);
    let post = "  plugin: generic_ssh\n  options:\n    command: echo deployed\n";
    let o = Outrider::new();
    // Once with a command timeout shorter than the idle one, once the other way round:
    // each is what gives up on a target stopped in the middle of the upload.
    for (transport, setting) in [
        ("    command_timeout: 5\n", "command_timeout"),
        (
            "    idle_timeout: 4\n    command_timeout: 600\n",
            "idle_timeout",
        ),
    ] {
        let _ = std::fs::remove_file(&started);
        let ports = [frozen.port, healthy.port, mute.port];
        let cfg = config_as_deployer(&s, &ports, &known, transport, post);
        let out = run_until(
            &o,
            &[
                "unpack",
                s.bundle.to_str().expect("utf8"),
                "-c",
                cfg.to_str().expect("utf8"),
                "--json",
                // The mute target would stop the run at the checks made first: this is
                // about each target failing on its own.
                "--no-target-checks",
            ],
            &started,
            || assert!(frozen.signal_sessions("STOP", false) > 0, "nothing to stop"),
            Duration::from_secs(60),
        );
        let (stdout, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
        let reports: serde_json::Value = serde_json::from_str(&stdout).expect("json");
        let result = reports["targets"][0]["result"].as_str().unwrap_or("");
        assert!(
            result.contains(&format!("127.0.0.1:{}", frozen.port))
                && result.contains("upload")
                && result.contains(&format!("`{setting}`")),
            "{result}"
        );
        assert_eq!(
            reports["targets"][1]["ok"].as_bool(),
            Some(true),
            "the healthy target did not finish: {reports}"
        );
        let result = reports["targets"][2]["result"].as_str().unwrap_or("");
        assert!(
            result.contains(&format!("127.0.0.1:{}", mute.port))
                && result.contains("connecting")
                && result.contains("`connect_timeout`"),
            "{result}"
        );
        frozen.signal_sessions("KILL", false);
        assert!(
            !s.work
                .path()
                .join(format!("remote-{}/images.tar", frozen.port))
                .exists(),
            "a tar under the final name on the frozen target"
        );
    }
}

#[test]
fn a_killed_upload_leaves_no_file_under_the_final_name_and_a_rerun_completes() {
    if !can_run_daemons("sshd targets") {
        return;
    }
    // Bigger than sshd's channel window and the pipe to `cat`, so a kill truncates it.
    let s = setup_with_layer(8 << 20);
    let started = s.work.path().join("cat-started");
    let finished = s.work.path().join("cat-finished");
    let (sshd, _) = sshd(&s, "home", &slow_cat(&s, &started, &finished));
    let known = known_hosts(&s, &[&sshd]);
    let post = "  plugin: generic_ssh\n  options:\n    command: echo deployed\n";
    let local = s.work.path().join("local.tar");
    let cfg = config_as_deployer(&s, &[sshd.port], &known, "", post);
    let text_cfg = std::fs::read_to_string(&cfg).expect("read");
    std::fs::write(&cfg, format!("output_tar: {}\n{text_cfg}", local.display())).expect("write");
    let args = [
        "unpack",
        s.bundle.to_str().expect("utf8"),
        "-c",
        cfg.to_str().expect("utf8"),
        "--json",
    ];
    let o = Outrider::new();
    // Kill sshd's processes for the connection, not the command: `cat` then reads an end
    // of input, as it does when a channel drops, and exits 0 with part of the tar.
    let out = run_until(
        &o,
        &args,
        &started,
        || assert!(sshd.signal_sessions("KILL", true) > 0, "nothing to kill"),
        Duration::from_secs(60),
    );
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    assert!(
        stdout.contains(&format!("127.0.0.1:{}", sshd.port)),
        "{stdout}"
    );
    wait_for(&finished, "the remote cat did not finish");
    let remote = s
        .work
        .path()
        .join(format!("remote-{}/images.tar", sshd.port));
    let partial = remote.with_extension("tar.partial");
    let whole = std::fs::metadata(&local).expect("local tar").len();
    let cut = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    assert!(
        cut < whole,
        "the upload was not cut short ({cut} of {whole} bytes)"
    );
    assert!(!remote.exists(), "a truncated tar under the final name");

    // Again: the upload starts over and the tar lands whole.
    let _ = std::fs::remove_file(&started);
    let again = o.run(&args);
    let (stdout, err) = text(&again);
    assert!(again.status.success(), "{stdout}{err}");
    let sent = digest(&std::fs::read(&local).expect("local tar"));
    assert_eq!(digest(&std::fs::read(&remote).expect("remote tar")), sent);
    assert!(!partial.exists(), "the .partial file was left");
}

/// A `cat` for the targets' PATH that takes 64 KiB every 50 ms (about 1.3 MB/s) when it
/// copies standard input. Returns the `SetEnv` line that puts it first.
fn throttled_cat(s: &Setup) -> String {
    cat_first_on_path(
        s,
        "throttled",
        "#!/bin/sh\n[ $# -eq 0 ] || exec /bin/cat \"$@\"\nexec python3 -c 'import sys, time\nwhile True:\n    b = sys.stdin.buffer.read(65536)\n    if not b: break\n    sys.stdout.buffer.write(b); sys.stdout.flush(); time.sleep(0.05)'\n",
    )
}

#[test]
fn an_upload_longer_than_the_command_timeout_that_keeps_moving_completes() {
    if !can_run_daemons("sshd targets") {
        return;
    }
    // About 6 s through the throttled `cat`, twice `command_timeout`; no wait on the
    // target (a chunk taken, the command's end after sshd's 2 MiB window) is that long.
    let s = setup_with_layer(8 << 20);
    let (sshd, _) = sshd(&s, "home", &throttled_cat(&s));
    let known = known_hosts(&s, &[&sshd]);
    let post = "  plugin: generic_ssh\n  options:\n    command: echo deployed\n";
    let cfg = config_as_deployer(&s, &[sshd.port], &known, "    command_timeout: 3\n", post);
    let started = Instant::now();
    let out = Outrider::new().run(&[
        "unpack",
        s.bundle.to_str().expect("utf8"),
        "-c",
        cfg.to_str().expect("utf8"),
    ]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{stdout}{err}");
    assert!(
        started.elapsed() > Duration::from_secs(4),
        "the upload was not slowed down, so this shows nothing ({:?})",
        started.elapsed()
    );
    let remote = s
        .work
        .path()
        .join(format!("remote-{}/images.tar", sshd.port));
    assert!(
        std::fs::metadata(&remote).expect("remote tar").len() > 8 << 20,
        "no whole tar on the target"
    );
}

#[test]
fn a_remote_tar_path_beginning_with_a_dash_is_a_file_name() {
    if !can_run_daemons("sshd with a namespaced test user") {
        return;
    }
    let s = setup();
    let (sshd, home) = sshd(&s, "home", "");
    let known = known_hosts(&s, &[&sshd]);
    let sums = s.work.path().join("sums");
    // The user's command has no `--`: the path it gets cannot be read as an option.
    let post = format!(
        "  plugin: generic_ssh\n  options:\n    command: sha256sum {{tar_path}} > {}\n",
        sums.display()
    );
    let local = s.work.path().join("local.tar");
    let base = std::fs::read_to_string(config_as_deployer(&s, &[sshd.port], &known, "", &post))
        .expect("read");
    let remote_line = base
        .lines()
        .find(|l| l.starts_with("remote_tar_path:"))
        .expect("remote_tar_path")
        .to_owned();
    let cfg = s.work.path().join("dash.yaml");
    std::fs::write(
        &cfg,
        format!("output_tar: {}\n", local.display())
            + &base.replace(&remote_line, "remote_tar_path: -x.tar"),
    )
    .expect("write");
    let args = [
        "unpack",
        s.bundle.to_str().expect("utf8"),
        "-c",
        cfg.to_str().expect("utf8"),
        "--json",
    ];
    let o = Outrider::new();
    let out = o.run(&args);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{stdout}{err}");
    let sent = digest(&std::fs::read(&local).expect("local tar"));
    assert_eq!(
        digest(&std::fs::read(home.join("-x.tar")).expect("remote tar")),
        sent
    );
    assert!(!home.join("-x.tar.partial").exists());
    let sums = std::fs::read_to_string(&sums).expect("plugin ran");
    assert!(
        sums.contains(&sent[7..]) && sums.contains("./-x.tar"),
        "{sums}"
    );
    // Again: the check on the target finds the same tar there, and sends nothing.
    let again = o.ok(&args);
    let reports: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(
        reports["targets"][0]["bytes"].as_u64(),
        Some(0),
        "{reports}"
    );
}
