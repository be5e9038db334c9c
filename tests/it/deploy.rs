//! `unpack -c config`: the tar to many targets over SSH (real sshd), host keys checked,
//! plugins run; one failing target does not stop the others.

use crate::support::daemons::{Containerd, can_run_daemons};
use crate::support::images::{self, Flavour};
use crate::support::sshd::{Sshd, keygen};
use crate::support::{Outrider, Registry, free_port, text};
use std::path::Path;

mod auth;
mod checks;
mod faults;

struct Setup {
    _source: Registry,
    bundle: std::path::PathBuf,
    key: std::path::PathBuf,
    work: tempfile::TempDir,
    image: String,
}

fn setup() -> Setup {
    setup_with_layer(20_000)
}

/// A bundle of one image whose layer holds `bytes` of incompressible data.
fn setup_with_layer(bytes: usize) -> Setup {
    let source = Registry::plain();
    let img = images::image(
        vec![images::layer(91, bytes, Flavour::Docker)],
        "amd64",
        Flavour::Docker,
        false,
    );
    images::push_image(&source.host, "deploy/app", "1", &img);
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("b.zip");
    let image = format!("{}/deploy/app:1", source.host);
    Outrider::new().ok(&["pack", "-o", bundle.to_str().expect("utf8"), &image]);
    let key = work.path().join("id_ed25519");
    keygen(&key);
    Setup {
        _source: source,
        bundle,
        key,
        work,
        image,
    }
}

fn config(
    s: &Setup,
    ports: &[u16],
    known_hosts: &Path,
    extra_transport: &str,
    post: &str,
) -> std::path::PathBuf {
    let targets: String = ports
        .iter()
        .map(|p| format!("  - host: 127.0.0.1\n    port: {p}\n"))
        .collect();
    let text = format!(
        "transport:\n  type: ssh\n  options:\n    key_file: {key}\n    known_hosts: {kh}\n    connect_timeout: 5\n{extra_transport}targets:\n{targets}remote_tar_path: {dir}/remote-{{port}}/images.tar\npost_instructions:\n{post}",
        key = s.key.display(),
        kh = known_hosts.display(),
        dir = s.work.path().display()
    );
    let path = s.work.path().join(format!(
        "config-{}.yaml",
        ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join("-")
    ));
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn three_targets_one_unreachable() {
    if !can_run_daemons("sshd targets") {
        return;
    }
    let s = setup();
    let sshds: Vec<Sshd> = (0..3)
        .map(|_| Sshd::start(&s.key.with_extension("pub")))
        .collect();
    let known = s.work.path().join("known_hosts");
    std::fs::write(
        &known,
        sshds.iter().map(Sshd::known_hosts_line).collect::<String>(),
    )
    .expect("write");
    let dead = free_port();
    let mut ports: Vec<u16> = sshds.iter().map(|d| d.port).collect();
    ports.push(dead);
    let post = format!(
        "  plugin: generic_ssh\n  options:\n    command: |\n      sha256sum {{tar_path}} > {dir}/done-$(basename $(dirname {{tar_path}}))\n      echo {{images}} >> {dir}/done-$(basename $(dirname {{tar_path}}))\n",
        dir = s.work.path().display()
    );
    let cfg = config(&s, &ports, &known, "", &post);
    let o = Outrider::new();

    let dry = o.ok(&[
        "unpack",
        s.bundle.to_str().expect("utf8"),
        "-c",
        cfg.to_str().expect("utf8"),
        "--dry-run",
        // The dead target would stop the run at the checks made first; this is about
        // each target failing on its own.
        "--no-target-checks",
    ]);
    let (plan, _) = text(&dry);
    assert!(
        plan.contains("[generic_ssh]") && plan.contains(&format!("remote-{dead}")),
        "{plan}"
    );
    assert!(
        !s.work.path().join(format!("remote-{}", ports[0])).exists(),
        "--dry-run touched a target"
    );

    let out = o.run(&[
        "unpack",
        s.bundle.to_str().expect("utf8"),
        "-c",
        cfg.to_str().expect("utf8"),
        "--json",
        "--no-target-checks",
    ]);
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    let reports: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    for (i, port) in ports.iter().enumerate() {
        let ok = reports["targets"][i]["ok"].as_bool().unwrap_or(false);
        if *port == dead {
            assert!(
                !ok && reports["targets"][i]["result"]
                    .as_str()
                    .unwrap_or("")
                    .contains("cannot connect"),
                "{reports}"
            );
            continue;
        }
        assert!(ok, "target {port}: {reports}");
        let done = std::fs::read_to_string(s.work.path().join(format!("done-remote-{port}")))
            .expect("plugin ran");
        assert!(done.contains(&s.image), "{done}");
        let tar = s.work.path().join(format!("remote-{port}/images.tar"));
        let sum = crate::support::digest(&std::fs::read(&tar).expect("uploaded tar"));
        assert!(
            done.contains(&sum[7..]),
            "the plugin saw another tar: {done}"
        );
    }
    // Again: the same tar is already on the targets, so nothing is uploaded.
    let again = o.run(&[
        "unpack",
        s.bundle.to_str().expect("utf8"),
        "-c",
        cfg.to_str().expect("utf8"),
        "--json",
        "--no-target-checks",
    ]);
    let reports: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(
        reports["targets"][0]["bytes"].as_u64(),
        Some(0),
        "{reports}"
    );
}

#[test]
fn k3s_airgap_plugin_imports_into_containerd() {
    if !can_run_daemons("sshd and containerd") {
        return;
    }
    let s = setup();
    let sshd = Sshd::start(&s.key.with_extension("pub"));
    let containerd = Containerd::start();
    let known = s.work.path().join("known_hosts");
    std::fs::write(&known, sshd.known_hosts_line()).expect("write");
    // `k3s ctr …` becomes `ctr -a <socket> …` against the containerd this test started.
    let wrapper = s.work.path().join("k3s");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nshift\nexec ctr -a {} \"$@\"\n",
            containerd.socket.display()
        ),
    )
    .expect("write");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&wrapper)
        .status()
        .expect("chmod");
    let images_dir = s.work.path().join("k3s-images");
    let post = format!(
        "  plugin: k3s_airgap\n  options:\n    k3s_path: {}\n    images_dir: {}\n    cleanup_tar: true\n",
        wrapper.display(),
        images_dir.display()
    );
    let cfg = config(&s, &[sshd.port], &known, "", &post);
    let o = Outrider::new();
    let out = o.ok(&[
        "unpack",
        s.bundle.to_str().expect("utf8"),
        "-c",
        cfg.to_str().expect("utf8"),
    ]);
    let (stdout, _) = text(&out);
    assert!(stdout.contains("k3s: 1 images imported"), "{stdout}");
    assert!(
        containerd.images("k8s.io").contains_key(&s.image),
        "{:?}",
        containerd.images("k8s.io")
    );
    assert!(std::fs::read_dir(&images_dir).expect("images dir").count() == 1);
    assert!(
        !s.work
            .path()
            .join(format!("remote-{}/images.tar", sshd.port))
            .exists(),
        "cleanup_tar left the tar"
    );
}

#[test]
fn deploy_end_to_end_with_the_docker_plugin_and_a_sudo_password() {
    if !can_run_daemons("sshd, containerd and dockerd") {
        return;
    }
    let s = setup();
    let sshd = Sshd::start(&s.key.with_extension("pub"));
    let containerd = Containerd::start();
    let dockerd = crate::support::daemons::Dockerd::start(&containerd);
    let known = s.work.path().join("known_hosts");
    std::fs::write(&known, sshd.known_hosts_line()).expect("write");
    let sudo = std::process::Command::new("sudo")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        sudo || std::env::var("CI").as_deref() != Ok("true"),
        "CI must have sudo (apt-get install sudo)"
    );
    let sudo_options = if sudo {
        "    use_sudo: true\n    sudo_password: s3cr3t-sudo-pw\n"
    } else {
        ""
    };
    let post = format!(
        "  plugin: docker\n  options:\n    docker_cmd: docker -H {}\n{sudo_options}    cleanup_tar: true\n",
        dockerd.host
    );
    let mut cfg_text =
        std::fs::read_to_string(config(&s, &[sshd.port], &known, "", &post)).expect("read");
    cfg_text = format!("images:\n  - {}\n{cfg_text}", s.image);
    let cfg = s.work.path().join("deploy.yaml");
    std::fs::write(&cfg, cfg_text).expect("write");
    let o = Outrider::new();
    let out = o.run(&["deploy", "-c", cfg.to_str().expect("utf8"), "-vv"]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{stdout}{err}");
    assert!(
        stdout.contains(&format!("docker loaded: {}", s.image)),
        "{stdout}"
    );
    assert!(
        !stdout.contains("s3cr3t-sudo-pw") && !err.contains("s3cr3t-sudo-pw"),
        "the sudo password was printed"
    );
    dockerd.docker(&["image", "inspect", &s.image]);
}

#[test]
fn the_config_names_the_bundle_and_a_registry() {
    if !can_run_daemons("sshd targets") {
        return;
    }
    let s = setup();
    let sshd = Sshd::start(&s.key.with_extension("pub"));
    let dest = Registry::plain();
    let known = s.work.path().join("known_hosts");
    std::fs::write(&known, sshd.known_hosts_line()).expect("write");
    let post = "  plugin: generic_ssh\n  options:\n    command: echo deployed\n";
    let text = std::fs::read_to_string(config(&s, &[sshd.port], &known, "", post)).expect("read");
    let cfg = s.work.path().join("with-bundle.yaml");
    std::fs::write(
        &cfg,
        format!("bundle: b.zip\nregistry: {}\n{text}", dest.host),
    )
    .expect("write");
    let o = Outrider::new();
    let out = o.run(&["unpack", "-c", cfg.to_str().expect("utf8")]);
    let (stdout, err) = text_of(&out);
    assert!(out.status.success(), "{stdout}{err}");
    assert!(stdout.contains("ok: deployed"), "{stdout}");
    assert!(
        crate::support::skopeo_raw(&dest.host, "deploy/app", "1", &[]).is_some(),
        "not pushed to the config's registry"
    );
}

fn text_of(out: &std::process::Output) -> (String, String) {
    crate::support::text(out)
}
