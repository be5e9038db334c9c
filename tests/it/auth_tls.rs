//! Authentication and TLS against real registries: htpasswd basic auth (flags and
//! docker config), token auth through a token server, TLS from a test CA.

use crate::support::images::{self, Flavour};
use crate::support::token::TokenServer;
use crate::support::{Auth, Outrider, Registry, Tls, skopeo_raw, text};
use base64::Engine as _;
use std::sync::atomic::Ordering;

/// A bundle of one small image from a plain registry, and that image.
pub(crate) fn small_bundle(dir: &std::path::Path) -> (std::path::PathBuf, images::Image) {
    let source = Registry::plain();
    let img = images::image(
        vec![images::layer(11, 30_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(&source.host, "team/api", "2", &img);
    let bundle = dir.join("small.zip");
    Outrider::new().ok(&[
        "pack",
        "-o",
        bundle.to_str().expect("utf8"),
        &format!("{}/team/api:2", source.host),
    ]);
    (bundle, img)
}

#[test]
fn basic_auth_from_flags_env_and_docker_config() {
    let work = tempfile::tempdir().expect("tmp");
    let (bundle, img) = small_bundle(work.path());
    let b = bundle.to_str().expect("utf8");
    let reg = Registry::start(Auth::Basic("alice", "s3cret"), false);
    let o = Outrider::new();

    let denied = o.run(&["unpack", b, "--push", &reg.host]);
    assert_eq!(denied.status.code(), Some(1));
    let (_, err) = text(&denied);
    assert!(
        err.contains("requires login") && err.contains("hint"),
        "{err}"
    );

    let out = o
        .cmd()
        .args(["unpack", b, "--push", &reg.host])
        .env("OUTRIDER_USERNAME", "alice")
        .env("OUTRIDER_PASSWORD", "s3cret")
        .output()
        .expect("run");
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("s3cret"), "password printed: {err}");

    // Pack back from it with credentials from the docker config only.
    let docker = o.home.path().join(".docker");
    std::fs::create_dir_all(&docker).expect("mkdir");
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    std::fs::write(
        docker.join("config.json"),
        serde_json::json!({ "auths": { reg.host.clone(): { "auth": auth } } }).to_string(),
    )
    .expect("write");
    let back = work.path().join("back.zip");
    o.ok(&[
        "pack",
        "-o",
        back.to_str().expect("utf8"),
        &format!("{}/team/api:2", reg.host),
    ]);
    let info: serde_json::Value = serde_json::from_slice(
        &o.ok(&["inspect", "--json", back.to_str().expect("utf8")])
            .stdout,
    )
    .expect("json");
    assert_eq!(
        info["images"][0]["digest"].as_str(),
        Some(img.manifest.digest.as_str())
    );
    let bytes = std::fs::read(&back).expect("read");
    assert!(
        !bytes.windows(6).any(|w| w == b"s3cret"),
        "password stored in the bundle"
    );
}

#[test]
fn token_auth_with_cached_tokens() {
    let work = tempfile::tempdir().expect("tmp");
    let (bundle, img) = small_bundle(work.path());
    let b = bundle.to_str().expect("utf8");
    let server = TokenServer::start("bob", "tok-pass");
    let issued = server.issued.clone();
    // The token server is another origin over plain HTTP: it gets the password only when
    // the user names it with --plain-http.
    let realm = server.realm();
    let token_host = realm
        .trim_start_matches("http://")
        .trim_end_matches("/token")
        .to_owned();
    let reg = Registry::start(Auth::Token(server), false);
    let o = Outrider::new();

    let denied = o.run(&["unpack", b, "--push", &reg.host]);
    let (_, err) = text(&denied);
    assert_eq!(denied.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("`{}` requires login", reg.host)),
        "{err}"
    );

    let out = o
        .cmd()
        .args([
            "unpack",
            b,
            "--push",
            &reg.host,
            "-vv",
            "--plain-http",
            &token_host,
        ])
        .env("OUTRIDER_USERNAME", "bob")
        .env("OUTRIDER_PASSWORD", "tok-pass")
        .output()
        .expect("run");
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("tok-pass"), "password printed at -vv");
    // Scopes: push on team/api (blobs, manifests, read-back). Tokens are cached per scope.
    let n = issued.load(Ordering::SeqCst);
    assert!((1..=3).contains(&n), "{n} tokens issued for one repository");

    let back = work.path().join("back.zip");
    o.cmd()
        .args([
            "pack",
            "-o",
            back.to_str().expect("utf8"),
            &format!("{}/team/api:2", reg.host),
            "--plain-http",
            &token_host,
        ])
        .env("OUTRIDER_USERNAME", "bob")
        .env("OUTRIDER_PASSWORD", "tok-pass")
        .output()
        .map(|o| assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr)))
        .expect("run");
    assert_eq!(digest_of_first_image(&o, &back), img.manifest.digest);
}

fn digest_of_first_image(o: &Outrider, bundle: &std::path::Path) -> String {
    let info: serde_json::Value = serde_json::from_slice(
        &o.ok(&["inspect", "--json", bundle.to_str().expect("utf8")])
            .stdout,
    )
    .expect("json");
    info["images"][0]["digest"]
        .as_str()
        .expect("digest")
        .to_owned()
}

#[test]
fn tls_is_verified_unless_told_otherwise() {
    let work = tempfile::tempdir().expect("tmp");
    let (bundle, img) = small_bundle(work.path());
    let b = bundle.to_str().expect("utf8");
    let reg = Registry::start(Auth::None, true);
    let ca = reg.ca.clone().expect("ca");
    let o = Outrider::new();

    let refused = o.run(&["unpack", b, "--push", &reg.host, "--retries", "0"]);
    let (_, err) = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    // A CA file with no certificate in it (a key, a typo'd path to the wrong file) is an
    // error, not silently no extra trust.
    let not_a_ca = work.path().join("not-a-ca.pem");
    std::fs::write(&not_a_ca, "just some text\n").expect("write");
    let out = o.run(&[
        "unpack",
        b,
        "--push",
        &reg.host,
        "--ca-file",
        not_a_ca.to_str().expect("utf8"),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not-a-ca.pem") && err.contains("no PEM certificate"),
        "{err}"
    );

    o.ok(&[
        "unpack",
        b,
        "--push",
        &reg.host,
        "--ca-file",
        ca.to_str().expect("utf8"),
    ]);
    assert_eq!(
        skopeo_raw(&reg.host, "team/api", "2", &[]).as_deref(),
        Some(&img.manifest.bytes[..])
    );

    let reg2 = Registry::start(Auth::None, true);
    o.ok(&[
        "unpack",
        b,
        "--push",
        &reg2.host,
        "--insecure-skip-verify",
        &reg2.host,
    ]);
    assert_eq!(
        skopeo_raw(&reg2.host, "team/api", "2", &[]).as_deref(),
        Some(&img.manifest.bytes[..])
    );
}

#[test]
fn mutual_tls_presents_the_client_certificate() {
    let work = tempfile::tempdir().expect("tmp");
    let (bundle, img) = small_bundle(work.path());
    let b = bundle.to_str().expect("utf8");
    let reg = Registry::start_with(Auth::None, Tls::Mutual);
    let dir = reg.dir.path();
    let ca = dir.join("ca.pem");
    let o = Outrider::new();
    let without = o.run(&[
        "unpack",
        b,
        "--push",
        &reg.host,
        "--ca-file",
        ca.to_str().expect("utf8"),
        "--retries",
        "0",
    ]);
    assert_eq!(
        without.status.code(),
        Some(1),
        "a registry demanding a client certificate let us in without one"
    );
    o.ok(&[
        "unpack",
        b,
        "--push",
        &reg.host,
        "--ca-file",
        ca.to_str().expect("utf8"),
        "--cert",
        dir.join("client.pem").to_str().expect("utf8"),
        "--key",
        dir.join("client.key").to_str().expect("utf8"),
    ]);
    let raw = std::process::Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("--cert-dir={}", cert_dir(dir).display()))
        .arg(format!("docker://{}/team/api:2", reg.host))
        .output()
        .expect("skopeo");
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(raw.stdout, img.manifest.bytes);
}

/// A containers-style cert dir (ca.crt, client.cert, client.key) for skopeo.
fn cert_dir(dir: &std::path::Path) -> std::path::PathBuf {
    let d = dir.join("skopeo-certs");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::copy(dir.join("ca.pem"), d.join("ca.crt")).expect("copy");
    std::fs::copy(dir.join("client.pem"), d.join("client.cert")).expect("copy");
    std::fs::copy(dir.join("client.key"), d.join("client.key")).expect("copy");
    d
}

#[test]
fn credential_helpers_are_asked_and_their_secret_never_printed() {
    let work = tempfile::tempdir().expect("tmp");
    let (bundle, _) = small_bundle(work.path());
    let b = bundle.to_str().expect("utf8");
    let reg = Registry::start(Auth::Basic("carol", "from-helper"), false);
    let o = Outrider::new();
    // A docker-credential-* helper on PATH, as `credHelpers` names it.
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let helper = bin.join("docker-credential-outridertest");
    std::fs::write(
        &helper,
        format!("#!/bin/sh\nread server\n[ \"$1\" = get ] && [ \"$server\" = \"{}\" ] || exit 1\necho '{{\"Username\":\"carol\",\"Secret\":\"from-helper\"}}'\n", reg.host),
    )
    .expect("write");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&helper)
        .status()
        .expect("chmod");
    let docker = o.home.path().join(".docker");
    std::fs::create_dir_all(&docker).expect("mkdir");
    std::fs::write(
        docker.join("config.json"),
        serde_json::json!({ "credHelpers": { reg.host.clone(): "outridertest" } }).to_string(),
    )
    .expect("write");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = o
        .cmd()
        .args(["unpack", b, "--push", &reg.host, "-vv"])
        .env("PATH", path)
        .output()
        .expect("run");
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("from-helper"), "helper secret printed");
}

#[test]
fn per_registry_credentials_from_the_config() {
    let work = tempfile::tempdir().expect("tmp");
    let (bundle, img) = small_bundle(work.path());
    let reg = Registry::start(Auth::Basic("dave", "cfg-pass"), false);
    let o = Outrider::new();
    o.cmd()
        .args([
            "unpack",
            bundle.to_str().expect("utf8"),
            "--push",
            &reg.host,
        ])
        .env("OUTRIDER_USERNAME", "dave")
        .env("OUTRIDER_PASSWORD", "cfg-pass")
        .output()
        .map(|out| {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .expect("run");
    let config = work.path().join("config.yaml");
    std::fs::write(&config, format!("images:\n  - {h}/team/api:2\nregistries:\n  {h}:\n    username: dave\n    password_env: SITE_REGISTRY_PASSWORD\n", h = reg.host)).expect("write");
    let out_path = work.path().join("from-config.zip");
    let without = o.run(&[
        "pack",
        "-c",
        config.to_str().expect("utf8"),
        "-o",
        out_path.to_str().expect("utf8"),
    ]);
    assert_ne!(
        without.status.code(),
        Some(0),
        "the password variable is unset, yet it packed"
    );
    let with = o
        .cmd()
        .args([
            "pack",
            "-c",
            config.to_str().expect("utf8"),
            "-o",
            out_path.to_str().expect("utf8"),
        ])
        .env("SITE_REGISTRY_PASSWORD", "cfg-pass")
        .output()
        .expect("run");
    let (_, err) = text(&with);
    assert!(with.status.success(), "{err}");
    assert!(!err.contains("cfg-pass"));
    assert_eq!(digest_of_first_image(&o, &out_path), img.manifest.digest);
}
