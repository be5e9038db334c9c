//! Host keys and logging in: unknown and changed keys refused, RSA/ECDSA keys, ssh-agent,
//! passwords and encrypted keys, against real sshd.

use super::{config, setup};
use crate::support::daemons::can_run_daemons;
use crate::support::sshd::Sshd;
use crate::support::{Outrider, text};

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
