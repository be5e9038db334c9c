//! Every target is asked before the long work (host key, login, room, the plugin's
//! command): failing ones are all named in one pass and the run stops before a registry
//! or the bundle is read. Real sshd, a real registry behind a counting proxy, a tmpfs.

use super::{setup, setup_with_layer};
use crate::support::daemons::can_run_daemons;
use crate::support::proxy::{self, Pass};
use crate::support::sshd::Sshd;
use crate::support::tmpfs::Tmpfs;
use crate::support::{Outrider, text};
use std::sync::{Arc, Mutex};

/// A config for `targets` (`(port, user)`), checked against `known_hosts`.
fn config_for(
    s: &super::Setup,
    targets: &[(u16, &str)],
    known_hosts: &std::path::Path,
    remote_dir: &std::path::Path,
    post: &str,
    images: &str,
) -> std::path::PathBuf {
    let targets: String = targets
        .iter()
        .map(|(p, u)| format!("  - host: 127.0.0.1\n    port: {p}\n    user: {u}\n"))
        .collect();
    let text = format!(
        "{images}transport:\n  type: ssh\n  options:\n    key_file: {key}\n    known_hosts: {kh}\n    connect_timeout: 5\ntargets:\n{targets}remote_tar_path: {dir}/remote-{{port}}/images.tar\npost_instructions:\n{post}",
        key = s.key.display(),
        kh = known_hosts.display(),
        dir = remote_dir.display()
    );
    let path = s.work.path().join("checks.yaml");
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn an_unknown_host_key_and_a_refused_login_stop_a_deploy_before_the_registry_is_asked() {
    if !can_run_daemons("sshd targets") {
        return;
    }
    let s = setup();
    let stranger = Sshd::start(&s.key.with_extension("pub"));
    let known = Sshd::start(&s.key.with_extension("pub"));
    let known_hosts = s.work.path().join("known_hosts");
    std::fs::write(&known_hosts, known.known_hosts_line()).expect("write");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let source = s.image.split('/').next().expect("host").to_owned();
    let host = proxy::start(source.clone(), move |line| {
        log.lock().expect("lock").push(line.to_owned());
        Pass::Whole
    });
    let image = s.image.replacen(&source, &host, 1);
    let post = "  plugin: generic_ssh\n  options:\n    command: echo deployed\n";
    let cfg = config_for(
        &s,
        &[(stranger.port, "root"), (known.port, "no-such-user-here")],
        &known_hosts,
        s.work.path(),
        post,
        &format!("images:\n  - {image}\n"),
    );
    let o = Outrider::new();
    for dry_run in [false, true] {
        let mut args = vec![
            "deploy",
            "-c",
            cfg.to_str().expect("utf8"),
            "--plain-http",
            &host,
        ];
        if dry_run {
            args.push("--dry-run");
        }
        let started = std::time::Instant::now();
        let out = o.run(&args);
        let (stdout, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!(":{}", stranger.port))
                    && l.contains("is unknown (SHA256:")
                    && l.contains("ssh-keyscan")),
            "{stdout}"
        );
        assert!(
            lines.iter().any(|l| l.contains(&format!(":{}", known.port))
                && l.contains("refused authentication as `no-such-user-here`")),
            "{stdout}"
        );
        assert!(err.contains("2 of 2 targets failed the checks"), "{err}");
        assert!(
            seen.lock().expect("lock").is_empty(),
            "the registry was asked: {:?}",
            seen.lock().expect("lock")
        );
        assert!(started.elapsed().as_secs() < 10, "slow checks");
    }
}

#[test]
fn too_little_room_or_a_missing_command_on_a_target_stops_unpack_before_the_upload() {
    if !can_run_daemons("sshd targets and a tmpfs") {
        return;
    }
    let s = setup_with_layer(3_000_000);
    let small = Sshd::start(&s.key.with_extension("pub"));
    let known_hosts = s.work.path().join("known_hosts");
    std::fs::write(&known_hosts, small.known_hosts_line()).expect("write");
    let disk = Tmpfs::mount("1m");
    let b = s.bundle.to_str().expect("utf8");
    let o = Outrider::new();

    // The tar (3 MB) cannot fit the 1 MiB remote folder: refused with both numbers.
    let post = "  plugin: generic_ssh\n  options:\n    command: echo deployed\n";
    let cfg = config_for(
        &s,
        &[(small.port, "root")],
        &known_hosts,
        disk.path(),
        post,
        "",
    );
    let out = o.run(&["unpack", b, "-c", cfg.to_str().expect("utf8")]);
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    assert!(
        stdout.contains("the tar needs 2.9 MiB") && stdout.contains("free in"),
        "{stdout}{err}"
    );
    assert!(
        std::fs::read_dir(disk.path())
            .expect("dir")
            .next()
            .is_none(),
        "something was uploaded"
    );

    // A plugin whose command is not there: named, before anything is written.
    let post = "  plugin: k3s_airgap\n  options:\n    k3s_path: /no/such/k3s\n";
    let cfg = config_for(
        &s,
        &[(small.port, "root")],
        &known_hosts,
        s.work.path(),
        post,
        "",
    );
    let out = o.run(&["unpack", b, "-c", cfg.to_str().expect("utf8")]);
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    assert!(
        stdout.contains("`/no/such/k3s` is not found there"),
        "{stdout}{err}"
    );

    // All well: each check is one line with -v, and the deploy goes on.
    let post = "  plugin: generic_ssh\n  options:\n    command: echo deployed\n";
    let cfg = config_for(
        &s,
        &[(small.port, "root")],
        &known_hosts,
        s.work.path(),
        post,
        "",
    );
    let out = o.run(&["-v", "unpack", b, "-c", cfg.to_str().expect("utf8")]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{stdout}{err}");
    assert!(
        err.contains("target check: `root@127.0.0.1:") && err.contains("ready (host key, login"),
        "{err}"
    );
    assert!(stdout.contains("ok: deployed"), "{stdout}");
}
