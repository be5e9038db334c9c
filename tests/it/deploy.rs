//! `unpack -c config`: the tar to many targets over SSH (real sshd), host keys checked,
//! plugins run; one failing target does not stop the others.

use crate::support::daemons::{Containerd, can_run_daemons};
use crate::support::images::{self, Flavour};
use crate::support::sshd::{Sshd, keygen};
use crate::support::{Outrider, Registry, free_port, text};
use std::path::Path;

struct Setup {
    _source: Registry,
    bundle: std::path::PathBuf,
    key: std::path::PathBuf,
    work: tempfile::TempDir,
    image: String,
}

fn setup() -> Setup {
    let source = Registry::plain();
    let img = images::image(
        vec![images::layer(91, 20_000, Flavour::Docker)],
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
    ]);
    let reports: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(
        reports["targets"][0]["bytes"].as_u64(),
        Some(0),
        "{reports}"
    );
}

#[test]
fn host_keys_fail_closed() {
    if !can_run_daemons("sshd targets") {
        return;
    }
    let s = setup();
    let sshd = Sshd::start(&s.key.with_extension("pub"));
    let other = Sshd::start(&s.key.with_extension("pub"));
    let o = Outrider::new();
    let post = "  plugin: generic_ssh\n  options:\n    command: echo ok\n";
    let b = s.bundle.to_str().expect("utf8");

    // Unknown host: refused, with the fingerprint and the fix.
    let empty = s.work.path().join("empty_known_hosts");
    std::fs::write(&empty, "").expect("write");
    let cfg = config(&s, &[sshd.port], &empty, "", post);
    let out = o.run(&["unpack", b, "-c", cfg.to_str().expect("utf8")]);
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    assert!(
        stdout.contains("is unknown (SHA256:") && stdout.contains("ssh-keyscan"),
        "{stdout}"
    );

    // A changed key (another host's key recorded for this port): refused, always.
    let wrong = s.work.path().join("wrong_known_hosts");
    std::fs::write(
        &wrong,
        other
            .known_hosts_line()
            .replace(&other.port.to_string(), &sshd.port.to_string()),
    )
    .expect("write");
    let cfg = config(
        &s,
        &[sshd.port],
        &wrong,
        "    accept_new_host_keys: true\n",
        post,
    );
    let out = o.run(&["unpack", b, "-c", cfg.to_str().expect("utf8")]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.contains("CHANGED"), "{stdout}");

    // accept_new_host_keys learns an unknown key, and the next run checks against it.
    let learn = s.work.path().join("learn_known_hosts");
    let cfg = config(
        &s,
        &[sshd.port],
        &learn,
        "    accept_new_host_keys: true\n",
        post,
    );
    o.ok(&["unpack", b, "-c", cfg.to_str().expect("utf8")]);
    let learned = std::fs::read_to_string(&learn).expect("known_hosts written");
    assert!(learned.contains(&format!("{}", sshd.port)), "{learned}");
    let cfg = config(&s, &[sshd.port], &learn, "", post);
    o.ok(&["unpack", b, "-c", cfg.to_str().expect("utf8")]);
    let _ = sshd.dir();
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
fn rsa_and_ecdsa_keys_and_ssh_agent() {
    if !can_run_daemons("sshd targets") {
        return;
    }
    let s = setup();
    let dir = s.work.path();
    for (kind, bits) in [("rsa", "3072"), ("ecdsa", "256")] {
        let out = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-b", bits, "-N", "", "-f"])
            .arg(dir.join(format!("id_{kind}")))
            .output()
            .expect("ssh-keygen");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let authorized = dir.join("authorized_keys");
    let keys: String = ["id_ed25519.pub", "id_rsa.pub", "id_ecdsa.pub"]
        .iter()
        .map(|k| std::fs::read_to_string(dir.join(k)).expect("pub"))
        .collect();
    std::fs::write(&authorized, keys).expect("write");
    let sshd = Sshd::start(&authorized);
    let known = dir.join("known_hosts");
    std::fs::write(&known, sshd.known_hosts_line()).expect("write");
    let post = "  plugin: generic_ssh\n  options:\n    command: echo key-ok\n";
    let o = Outrider::new();
    let b = s.bundle.to_str().expect("utf8");
    for kind in ["rsa", "ecdsa"] {
        let base = config(&s, &[sshd.port], &known, "", post);
        let text = std::fs::read_to_string(&base).expect("read").replace(
            &s.key.display().to_string(),
            &dir.join(format!("id_{kind}")).display().to_string(),
        );
        let cfg = dir.join(format!("{kind}.yaml"));
        std::fs::write(&cfg, text).expect("write");
        o.ok(&["unpack", b, "-c", cfg.to_str().expect("utf8")]);
    }

    // No key_file: the key comes from a running ssh-agent.
    let sock = dir.join("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent");
    for _ in 0..100 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let added = std::process::Command::new("ssh-add")
        .arg(&s.key)
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .expect("ssh-add");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let base = config(&s, &[sshd.port], &known, "", post);
    let agent_config = std::fs::read_to_string(&base)
        .expect("read")
        .replace(&format!("    key_file: {}\n", s.key.display()), "");
    let cfg = dir.join("agent.yaml");
    std::fs::write(&cfg, agent_config).expect("write");
    let without = o.run(&["unpack", b, "-c", cfg.to_str().expect("utf8")]);
    assert_eq!(
        without.status.code(),
        Some(1),
        "no key and no agent, yet it logged in"
    );
    let with = o
        .cmd()
        .args(["unpack", b, "-c", cfg.to_str().expect("utf8")])
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .expect("run");
    let _ = agent.kill();
    let _ = agent.wait();
    let (stdout, err) = text(&with);
    assert!(with.status.success(), "{stdout}{err}");
}

#[test]
fn password_authentication() {
    if !can_run_daemons("sshd with a namespaced test user") {
        return;
    }
    let s = setup();
    let sshd = Sshd::start_with_password(
        &s.key.with_extension("pub"),
        "deployer",
        "pw-for-deploy-test",
    );
    let known = s.work.path().join("known_hosts");
    std::fs::write(&known, sshd.known_hosts_line()).expect("write");
    let post = "  plugin: generic_ssh\n  options:\n    command: echo logged in as $(id -un)\n";
    let base = std::fs::read_to_string(config(
        &s,
        &[sshd.port],
        &known,
        "    password: pw-for-deploy-test\n",
        post,
    ))
    .expect("read");
    let text = base
        .replace(&format!("    key_file: {}\n", s.key.display()), "")
        .replace(
            "  - host: 127.0.0.1\n",
            "  - host: 127.0.0.1\n    user: deployer\n",
        );
    let cfg = s.work.path().join("password.yaml");
    std::fs::write(&cfg, text).expect("write");
    let o = Outrider::new();
    let out = o.run(&[
        "unpack",
        s.bundle.to_str().expect("utf8"),
        "-c",
        cfg.to_str().expect("utf8"),
        "-vv",
    ]);
    let (stdout, err) = crate::support::text(&out);
    assert!(out.status.success(), "{stdout}{err}");
    assert!(stdout.contains("ok: logged in as"), "{stdout}");
    assert!(
        !stdout.contains("pw-for-deploy-test") && !err.contains("pw-for-deploy-test"),
        "the password was printed"
    );
    let wrong = std::fs::read_to_string(&cfg)
        .expect("read")
        .replace("pw-for-deploy-test", "not-the-password");
    std::fs::write(&cfg, wrong).expect("write");
    let out = o.run(&[
        "unpack",
        s.bundle.to_str().expect("utf8"),
        "-c",
        cfg.to_str().expect("utf8"),
    ]);
    let (stdout, _) = crate::support::text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.contains("refused authentication as `deployer`"),
        "{stdout}"
    );
}

#[test]
fn an_encrypted_key_takes_its_passphrase_from_the_environment() {
    if !can_run_daemons("sshd targets") {
        return;
    }
    let s = setup();
    let key = s.work.path().join("id_encrypted");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "a-key-passphrase", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen");
    assert!(out.status.success());
    let sshd = Sshd::start(&key.with_extension("pub"));
    let known = s.work.path().join("known_hosts");
    std::fs::write(&known, sshd.known_hosts_line()).expect("write");
    let post = "  plugin: generic_ssh\n  options:\n    command: echo ok\n";
    let cfg_text = std::fs::read_to_string(config(
        &s,
        &[sshd.port],
        &known,
        "    passphrase_env: OUTRIDER_TEST_PASSPHRASE\n",
        post,
    ))
    .expect("read")
    .replace(&s.key.display().to_string(), &key.display().to_string());
    let cfg = s.work.path().join("encrypted.yaml");
    std::fs::write(&cfg, &cfg_text).expect("write");
    let o = Outrider::new();
    let b = s.bundle.to_str().expect("utf8");
    let out = o
        .cmd()
        .args(["unpack", b, "-c", cfg.to_str().expect("utf8"), "-vv"])
        .env("OUTRIDER_TEST_PASSPHRASE", "a-key-passphrase")
        .output()
        .expect("run");
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{stdout}{err}");
    assert!(
        !stdout.contains("a-key-passphrase") && !err.contains("a-key-passphrase"),
        "the passphrase was printed"
    );
    // Without it, and no terminal to ask on: a clear error, before any target is contacted.
    std::fs::write(
        &cfg,
        cfg_text.replace("    passphrase_env: OUTRIDER_TEST_PASSPHRASE\n", ""),
    )
    .expect("write");
    let out = o.run(&["unpack", b, "-c", cfg.to_str().expect("utf8")]);
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{err}");
    assert!(
        err.contains("is encrypted") && err.contains("passphrase_env"),
        "{err}"
    );
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
