//! Client configurations from the names a push made (issue 32), read by the real
//! clients: skopeo pulls the *original* name through the generated `registries.conf`
//! from a mapped, prefixed repository; the generated `policy.json` requires the key for
//! that name and refuses an unsigned image (the same pull under a policy without the
//! scope succeeds, so the refusal is the policy's), and podman likewise; containerd pulls through the
//! generated `hosts.toml` with the prefix as `override_path`; a per-registry format is
//! refused before any byte moves when names were mapped one by one; `--dry-run` prints.

use crate::destinations::{s, small_image};
use crate::support::crd_schema::problems;
use crate::support::daemons::{Containerd, can_run_daemons};
use crate::support::images;
use crate::support::keys::key_pair;
use crate::support::{Outrider, Registry, digest, text};
use std::path::Path;
use std::process::Command;

/// `skopeo copy docker://NAME dir:OUT` with these client files; Ok(manifest digest).
fn skopeo_pull(
    conf: &Path,
    policy: &Path,
    registries_d: &Path,
    name: &str,
    out: &Path,
) -> Result<String, String> {
    let run = Command::new("skopeo")
        .arg("--registries-conf")
        .arg(conf)
        .arg("--policy")
        .arg(policy)
        .arg("--registries.d")
        .arg(registries_d)
        .args(["copy", "--retry-times", "0"])
        .arg(format!("docker://{name}"))
        .arg(format!("dir:{}", out.display()))
        .output()
        .expect("skopeo");
    if run.status.success() {
        Ok(digest(
            &std::fs::read(out.join("manifest.json")).expect("manifest"),
        ))
    } else {
        Err(String::from_utf8_lossy(&run.stderr).into_owned())
    }
}

#[test]
fn nodes_pull_the_original_names_through_the_configs_written() {
    let src = Registry::plain();
    let dest = Registry::plain();
    let hello = small_image(3221);
    images::push_image(&src.host, "library/hello", "1", &hello);
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let path = |n: &str| work.path().join(n);
    let bundle = path("b.zip");
    o.ok(&[
        "pack",
        "-o",
        &s(&bundle),
        &format!("{}/library/hello:1 as docker.io/library/hello:1", src.host),
    ]);
    let (_, public) = key_pair(work.path(), "site");
    let cfg = path("cfg");
    let at = |n: &str| cfg.join(n);
    let config = |kind: &str, file: &str| format!("{kind}={}", s(&at(file)));

    // containerd's hosts.toml moves a whole registry: names mapped one by one are refused
    // before any byte moves.
    let out = o.run(&[
        "unpack",
        &s(&bundle),
        "--push",
        &dest.host,
        "--prefix",
        "site",
        "--map",
        "docker.io/library=lib",
        "--write-client-config",
        &config("containerd-hosts", "hosts"),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("hosts.toml") && err.contains("docker.io/library/hello"),
        "{err}"
    );
    assert!(holds_nothing(&dest.host), "bytes moved before the refusal");

    // --dry-run prints the files and writes none.
    let out = o.ok(&[
        "unpack",
        &s(&bundle),
        "--push",
        &dest.host,
        "--prefix",
        "site",
        "--map",
        "docker.io/library=lib",
        "--dry-run",
        "--write-client-config",
        &config("registries-conf", "registries.conf"),
    ]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("[[registry.mirror]]") && stdout.contains("site/lib/hello"),
        "{stdout}"
    );
    assert!(!at("registries.conf").exists());

    // Pushed mapped and prefixed, with the files for the nodes.
    std::fs::create_dir_all(&cfg).expect("cfg");
    std::fs::write(at("registries.conf"), "# the node's own\n").expect("old");
    let mirror = format!("{}/site/lib/hello", dest.host);
    let out = o.ok(&[
        "unpack",
        &s(&bundle),
        "--push",
        &dest.host,
        "--prefix",
        "site",
        "--map",
        "docker.io/library=lib",
        "--policy-key",
        &s(&public),
        "--write-client-config",
        &config("registries-conf", "registries.conf"),
        "--write-client-config",
        &config("policy", "policy.json"),
        "--write-client-config",
        &config("registries-d", "registries.d/outrider.yaml"),
        "--write-client-config",
        &config("k3s-registries", "registries.yaml"),
        "--write-client-config",
        &config("openshift-idms", "idms.yaml"),
        "--write-client-config",
        &config("openshift-itms", "itms.yaml"),
    ]);
    let (_, err) = text(&out);
    assert_eq!(
        std::fs::read_to_string(at("registries.conf.outrider-backup")).expect("backup"),
        "# the node's own\n",
        "{err}"
    );
    // k3s: one anchored rewrite for the repository moved by itself.
    let k3s = std::fs::read_to_string(at("registries.yaml")).expect("k3s");
    assert!(
        k3s.contains("^library/hello$") && k3s.contains("site/lib/hello"),
        "{k3s}"
    );
    // OpenShift's mirror sets fit the published CRD schemas; a broken one does not.
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/openshift-crds");
    for (file, crd) in [
        ("idms.yaml", "imagedigestmirrorsets.crd.yaml"),
        ("itms.yaml", "imagetagmirrorsets.crd.yaml"),
    ] {
        let crd = std::fs::read_to_string(crds.join(crd)).expect("crd");
        let doc = std::fs::read_to_string(at(file)).expect("mirror set");
        assert!(doc.contains(&mirror), "{doc}");
        let found = problems(&crd, &doc);
        assert!(found.is_empty(), "{file}: {found:?}\n{doc}");
        let broken = doc.replace(&mirror, &mirror.replace("site", "Site/"));
        assert!(!problems(&crd, &broken).is_empty(), "{broken}");
        let unknown = doc.replace("mirrors:", "mirorrs:");
        assert!(!problems(&crd, &unknown).is_empty(), "{unknown}");
    }

    // The policy as containers/image reads it: the original scope requires the key with
    // the original identity; the mirror's scope maps back to it.
    let policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(at("policy.json")).expect("policy")).expect("json");
    let original = &policy["transports"]["docker"]["docker.io/library/hello"][0];
    assert_eq!(original["type"], "sigstoreSigned", "{policy}");
    assert_eq!(original["keyPath"], s(&public));
    assert_eq!(original["signedIdentity"]["type"], "matchRepository");
    let mirrored = &policy["transports"]["docker"][&mirror][0];
    assert_eq!(
        mirrored["signedIdentity"]["type"], "remapIdentity",
        "{policy}"
    );
    assert_eq!(mirrored["signedIdentity"]["prefix"], mirror);
    assert_eq!(
        mirrored["signedIdentity"]["signedPrefix"],
        "docker.io/library/hello"
    );

    // skopeo pulls the original name from the mapped repository...
    let open = path("open-policy.json");
    std::fs::write(&open, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).expect("policy");
    let pulled = skopeo_pull(
        &at("registries.conf"),
        &open,
        &at("registries.d"),
        "docker.io/library/hello:1",
        &path("open"),
    );
    assert_eq!(pulled, Ok(hello.manifest.digest.clone()));
    // ...and with the policy written, the unsigned image is refused by the signature check.
    let refused = skopeo_pull(
        &at("registries.conf"),
        &at("policy.json"),
        &at("registries.d"),
        "docker.io/library/hello:1",
        &path("strict"),
    )
    .expect_err("an unsigned image was accepted");
    assert!(
        refused.contains("A signature was required, but no signature exists"),
        "{refused}"
    );

    // podman, the issue's client, the same way.
    let podman = |policy: &Path| -> Result<(), String> {
        let store = tempfile::tempdir().expect("store");
        let d = store.path();
        let out = Command::new("podman")
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "none", "pull", "--quiet"])
            .arg("--signature-policy")
            .arg(policy)
            .arg("docker.io/library/hello:1")
            .env("HOME", d)
            .env("CONTAINERS_REGISTRIES_CONF", at("registries.conf"))
            .output()
            .expect("podman");
        match out.status.success() {
            true => Ok(()),
            false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        }
    };
    assert_eq!(podman(&open), Ok(()));
    let refused = podman(&at("policy.json")).expect_err("podman accepted an unsigned image");
    assert!(
        refused.contains("A signature was required, but no signature exists"),
        "{refused}"
    );

    // containerd: a registry moved whole under the prefix, through hosts.toml.
    let hosts = path("hosts");
    o.ok(&[
        "unpack",
        &s(&bundle),
        "--push",
        &dest.host,
        "--prefix",
        "site",
        "--write-client-config",
        &format!("containerd-hosts={}", s(&hosts)),
        "--write-client-config",
        &format!("talos={}", s(&path("talos.yaml"))),
    ]);
    let toml = std::fs::read_to_string(hosts.join("docker.io/hosts.toml")).expect("hosts.toml");
    assert!(
        toml.contains("override_path = true") && toml.contains("/v2/site"),
        "{toml}"
    );
    if can_run_daemons("containerd pulling through the hosts.toml written") {
        let containerd = Containerd::start();
        let name = "docker.io/library/hello:1";
        containerd.ctr(
            "k8s.io",
            &["images", "pull", "--hosts-dir", &s(&hosts), name],
        );
        assert_eq!(
            containerd.images("k8s.io").get(name),
            Some(&hello.manifest.digest)
        );
    }
}

/// Whether `host` holds no repository yet.
fn holds_nothing(host: &str) -> bool {
    let out = Command::new("curl")
        .args(["-s", &format!("http://{host}/v2/_catalog")])
        .output()
        .expect("curl");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["repositories"].as_array().is_none_or(|r| r.is_empty())
}

#[test]
fn serve_writes_the_same_configs_for_the_names_it_serves() {
    let src = Registry::plain();
    let hello = small_image(3231);
    images::push_image(&src.host, "library/hello", "1", &hello);
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let path = |n: &str| work.path().join(n);
    let bundle = path("b.zip");
    o.ok(&[
        "pack",
        "-o",
        &s(&bundle),
        &format!("{}/library/hello:1 as docker.io/library/hello:1", src.host),
    ]);
    let conf = path("registries.conf");
    let idms = path("idms.yaml");
    let port = crate::support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = o
        .cmd()
        .arg("serve")
        .arg(&bundle)
        .args([
            "--listen",
            &listen,
            "--prefix",
            "site",
            "--map",
            "docker.io/library=lib",
        ])
        .args(["--max-depth", "2"])
        .arg("--write-client-config")
        .arg(format!("registries-conf={}", s(&conf)))
        .arg("--write-client-config")
        .arg(format!("openshift-idms={}", s(&idms)))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(path("serve.log")).expect("log"))
        .spawn()
        .expect("serve");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(&listen).is_err() {
        if let Ok(Some(status)) = server.try_wait() {
            panic!(
                "serve exited ({status}): {}",
                std::fs::read_to_string(path("serve.log")).unwrap_or_default()
            );
        }
        assert!(std::time::Instant::now() < deadline, "serve did not listen");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&conf).expect("registries.conf");
    assert!(text.contains(&format!("{listen}/site/lib-hello")), "{text}");
    let doc = std::fs::read_to_string(&idms).expect("idms");
    let crd = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/openshift-crds/imagedigestmirrorsets.crd.yaml"),
    )
    .expect("crd");
    assert_eq!(problems(&crd, &doc), Vec::<String>::new(), "{doc}");
    let open = path("open-policy.json");
    std::fs::write(&open, r#"{"default":[{"type":"insecureAcceptAnything"}]}"#).expect("policy");
    let pulled = skopeo_pull(
        &conf,
        &open,
        work.path(),
        "docker.io/library/hello:1",
        &path("out"),
    );
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(pulled, Ok(hello.manifest.digest.clone()));
}
