//! Far-side names: two registries' images with one `repo:tag` are refused at pack unless
//! each keeps its registry in the path (`--registry-path`), and then pushed and served
//! apart, each pulled by containerd through `?ns=` with its own digest; an artifact stays
//! in the repository it was found in; a local `docker-archive` tar is mirrored under the
//! registry its image names, not its file path; `--listen …:0` writes the bound port.

use crate::support::artifacts::{cosign_signature, tag_of};
use crate::support::daemons::{Containerd, can_run_daemons};
use crate::support::images::{self, Flavour, Image};
use crate::support::proxy::{self, Pass};
use crate::support::{Outrider, Registry, digest, skopeo_raw, text};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn small_image(seed: u64) -> Image {
    images::image(
        vec![images::layer(seed, 40_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    )
}

/// `outrider serve ARGS --listen 127.0.0.1:0`, killed on drop.
struct AnyPort {
    child: Child,
    log: PathBuf,
}

impl AnyPort {
    fn start(o: &Outrider, args: &[&str], log: PathBuf) -> AnyPort {
        let child = o
            .cmd()
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("outrider serve");
        AnyPort { child, log }
    }

    /// Waits for `file` (written before the server listens), and returns the endpoint it names.
    fn endpoint_in(&mut self, file: &Path) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !file.exists() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "serve exited ({status}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "{} not written", file.display());
            std::thread::sleep(Duration::from_millis(50));
        }
        let toml = std::fs::read_to_string(file).expect("hosts.toml");
        let start = toml.find("[host.\"http://").expect("a host entry") + "[host.\"http://".len();
        let end = start + toml[start..].find('"').expect("closing quote");
        let host = toml[start..end].to_owned();
        assert!(!host.ends_with(":0"), "port 0 written: {toml}");
        // Listening follows the write at once.
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(Instant::now() < deadline, "serve did not listen at {host}");
            std::thread::sleep(Duration::from_millis(50));
        }
        host
    }
}

impl Drop for AnyPort {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The digest `serve` answers for `repo:tag` asked as a mirror of `ns`, or the status.
fn served_digest(server: &str, repo: &str, tag: &str, ns: &str) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}"])
        .args([
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json",
        ])
        .arg(format!("http://{server}/v2/{repo}/manifests/{tag}?ns={ns}"))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    text.lines()
        .find_map(|l| l.strip_prefix("docker-content-digest:"))
        .map(|d| d.trim().to_owned())
        .ok_or_else(|| text.lines().last().unwrap_or_default().to_owned())
}

#[test]
fn one_name_from_two_registries_is_refused_or_kept_apart_to_the_last_client() {
    let one = Registry::plain();
    let two = Registry::plain();
    let dest = Registry::plain();
    let a = small_image(601);
    let b = small_image(602);
    images::push_image(&one.host, "library/conf", "1", &a);
    images::push_image(&two.host, "library/conf", "1", &b);
    // One image in two repositories; only `library/bbox` has a signature.
    let s = small_image(603);
    images::push_image(&one.host, "library/bbox", "1", &s);
    images::push_image(&one.host, "team/app", "1", &s);
    let sig = cosign_signature(&format!("{}/library/bbox", one.host), &s.manifest.digest, 1);
    let sig_tag = tag_of(&s.manifest.digest, ".sig");
    sig.push(&one.host, "library/bbox", &sig_tag);

    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let path = |name: &str| work.path().join(name);
    let s_ = |p: &PathBuf| p.to_str().expect("utf8").to_owned();
    let conf_one = format!("{}/library/conf:1", one.host);
    let conf_two = format!("{}/library/conf:1", two.host);

    // Refused before any byte moves, naming both and the ways out.
    let refused = path("refused.zip");
    let out = o.run(&["pack", "-o", &s_(&refused), &conf_one, &conf_two]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&conf_one) && err.contains(&conf_two) && err.contains("library/conf:1"),
        "{err}"
    );
    assert!(
        err.contains("--registry-path") && err.contains(" as "),
        "{err}"
    );
    assert!(!refused.exists() && !path("refused.zip.partial").exists());

    // Kept apart: pushed under each registry's name, the signature only where it was.
    let bundle = path("apart.zip");
    o.ok(&[
        "pack",
        "--registry-path",
        "-o",
        &s_(&bundle),
        &conf_one,
        &conf_two,
        &format!("{}/library/bbox:1", one.host),
        &format!("{}/team/app:1", one.host),
    ]);
    // Through a proxy that records the order of writes.
    let writes = Arc::new(Mutex::new(Vec::new()));
    let log = writes.clone();
    let via = proxy::start(dest.host.clone(), move |line| {
        if line.starts_with("PUT") {
            log.lock().expect("lock").push(line.to_owned());
        }
        Pass::Whole
    });
    o.ok(&["unpack", &s_(&bundle), "--push", &via]);
    let c1 = one.host.replace(':', "_");
    let c2 = two.host.replace(':', "_");
    let at = |repo: &str, reference: &str| skopeo_raw(&dest.host, repo, reference, &[]);
    assert_eq!(
        at(&format!("{c1}/library/conf"), "1").map(|m| digest(&m)),
        Some(a.manifest.digest.clone())
    );
    assert_eq!(
        at(&format!("{c2}/library/conf"), "1").map(|m| digest(&m)),
        Some(b.manifest.digest.clone())
    );
    assert!(at(&format!("{c1}/library/bbox"), &sig_tag).is_some());
    assert!(
        at(&format!("{c1}/team/app"), &sig_tag).is_none(),
        "the signature of library/bbox was pushed to team/app"
    );
    // The signature arrived before the image's tag moved.
    let writes = writes.lock().expect("lock").clone();
    let put = |suffix: &str| {
        writes
            .iter()
            .position(|l| l.starts_with(&format!("PUT /v2/{c1}/library/bbox/manifests/{suffix} ")))
    };
    let (sig_at, tag_at) = (put(&sig_tag), put("1"));
    assert!(
        sig_at.is_some() && tag_at.is_some() && sig_at < tag_at,
        "{writes:?}"
    );

    // Without the option, an artifact found in one of two repositories sharing a manifest
    // needs format 3 (a version 2 reader would put it in both); one image alone does not.
    let format_of = |bundle: &PathBuf| {
        let out = o.ok(&["inspect", "--json", &s_(bundle)]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        v["formatVersion"].as_u64()
    };
    let shared = path("shared.zip");
    let alone = path("alone.zip");
    let bbox = format!("{}/library/bbox:1", one.host);
    o.ok(&[
        "pack",
        "-o",
        &s_(&shared),
        &bbox,
        &format!("{}/team/app:1", one.host),
    ]);
    o.ok(&["pack", "-o", &s_(&alone), &bbox]);
    assert_eq!(format_of(&shared), Some(3));
    assert_eq!(format_of(&alone), Some(2));

    // Served together without the option, two bundles with one name are refused too.
    let only_one = path("one.zip");
    let only_two = path("two.zip");
    o.ok(&["pack", "-o", &s_(&only_one), &conf_one]);
    o.ok(&["pack", "-o", &s_(&only_two), &conf_two]);
    let out = o.run(&[
        "serve",
        &s_(&only_one),
        &s_(&only_two),
        "--listen",
        "127.0.0.1:0",
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--registry-path"), "{err}");

    // A local docker-save tar holding `docker.io/library/conf:1` is mirrored as docker.io.
    let hub = path("hub.zip");
    o.ok(&[
        "pack",
        "--plain-http",
        &one.host,
        "--mirror",
        &format!("docker.io={}", one.host),
        "-o",
        &s_(&hub),
        "library/conf:1",
    ]);
    let tar_dir = path("tars/in a/folder");
    std::fs::create_dir_all(&tar_dir).expect("mkdir");
    let tar = tar_dir.join("conf.tar");
    o.ok(&["unpack", &s_(&hub), "--docker-save", &s_(&tar)]);
    let local = path("local.zip");
    o.ok(&[
        "pack",
        "-o",
        &s_(&local),
        &format!("docker-archive:{}", s_(&tar)),
    ]);

    // The sources are gone: whatever is pulled now comes from the bundles.
    drop(one);
    drop(two);
    let hosts = path("hosts.d");
    let k3s = path("registries.yaml");
    let mut server = AnyPort::start(
        &o,
        &[
            &s_(&bundle),
            "--write-containerd-hosts",
            &s_(&hosts),
            "--write-k3s-registries",
            &s_(&k3s),
        ],
        path("serve.log"),
    );
    let endpoint = server.endpoint_in(
        &hosts
            .join(&conf_one[..conf_one.find('/').expect("/")])
            .join("hosts.toml"),
    );
    let yaml = std::fs::read_to_string(&k3s).expect("registries.yaml");
    assert!(yaml.contains(&endpoint) && !yaml.contains(":0\""), "{yaml}");
    let registry_one = conf_one.split('/').next().expect("host");
    let registry_two = conf_two.split('/').next().expect("host");
    assert_eq!(
        served_digest(&endpoint, "library/conf", "1", registry_one),
        Ok(a.manifest.digest.clone())
    );
    assert_eq!(
        served_digest(&endpoint, "library/conf", "1", registry_two),
        Ok(b.manifest.digest.clone())
    );
    assert_eq!(
        served_digest(&endpoint, "library/conf", "1", "docker.io"),
        Err("404".into())
    );
    assert!(served_digest(&endpoint, "library/bbox", &sig_tag, registry_one).is_ok());
    assert_eq!(
        served_digest(&endpoint, "team/app", &sig_tag, registry_one),
        Err("404".into()),
        "the signature of library/bbox is served in team/app"
    );

    let local_hosts = path("local-hosts.d");
    let mut local_server = AnyPort::start(
        &o,
        &[&s_(&local), "--write-containerd-hosts", &s_(&local_hosts)],
        path("local.log"),
    );
    local_server.endpoint_in(&local_hosts.join("docker.io/hosts.toml"));
    assert_eq!(
        std::fs::read_dir(&local_hosts).expect("dir").count(),
        1,
        "only docker.io is mirrored"
    );

    if can_run_daemons("containerd pulling through ?ns=") {
        let containerd = Containerd::start();
        let pull = |name: &str, dir: &Path| {
            containerd.ctr(
                "k8s.io",
                &[
                    "images",
                    "pull",
                    "--hosts-dir",
                    dir.to_str().expect("utf8"),
                    name,
                ],
            );
            containerd.images("k8s.io").get(name).cloned()
        };
        assert_eq!(pull(&conf_one, &hosts), Some(a.manifest.digest.clone()));
        assert_eq!(pull(&conf_two, &hosts), Some(b.manifest.digest.clone()));
        let hub_name = "docker.io/library/conf:1";
        assert_eq!(
            pull(hub_name, &local_hosts),
            Some(a.manifest.digest.clone())
        );
    }
}
