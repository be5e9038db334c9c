//! The operator at 3 a.m.: every network, TLS and login failure is one line naming the
//! cause and the fix, reached without retries; credentials and certificates are found
//! where podman and docker users keep them; push locations are taken as users write them.

use crate::support::images::{self, Flavour};
use crate::support::{Auth, Outrider, Registry, free_port, skopeo_raw, text};
use base64::Engine as _;
use std::process::Output;
use std::time::{Duration, Instant};

/// Non-transient failures are not retried: well under the ~7.5 s four retries take.
const NO_RETRY_BOUND: Duration = Duration::from_secs(4);

/// Three small images in a plain registry, packed into one bundle.
fn three_image_bundle(dir: &std::path::Path) -> (std::path::PathBuf, Vec<images::Image>) {
    let source = Registry::plain();
    let mut refs = Vec::new();
    let mut imgs = Vec::new();
    for (i, repo) in ["team/a", "team/b", "team/c"].iter().enumerate() {
        let img = images::image(
            vec![images::layer(40 + i as u64, 20_000, Flavour::Oci)],
            "amd64",
            Flavour::Oci,
            false,
        );
        images::push_image(&source.host, repo, "1", &img);
        refs.push(format!("{}/{repo}:1", source.host));
        imgs.push(img);
    }
    let bundle = dir.join("three.zip");
    let mut args = vec!["pack", "-o", bundle.to_str().expect("utf8")];
    args.extend(refs.iter().map(String::as_str));
    Outrider::new().ok(&args);
    (bundle, imgs)
}

/// Runs and times a command.
fn timed(o: &Outrider, args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let out = o.run(args);
    (out, start.elapsed())
}

/// The `error:` lines of stderr.
fn error_lines(err: &str) -> Vec<&str> {
    err.lines().filter(|l| l.starts_with("error:")).collect()
}

/// One failing run: exit 1, fast, and its first error line (checked to hold `needles`).
fn fails_once_fast(o: &Outrider, args: &[&str], needles: &[&str]) -> String {
    let (out, took) = timed(o, args);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert!(took < NO_RETRY_BOUND, "{args:?} took {took:?}: {err}");
    let first = error_lines(&err)
        .first()
        .copied()
        .unwrap_or_default()
        .to_owned();
    for n in needles {
        assert!(
            first.contains(n),
            "{args:?}: first error line lacks {n:?}:\n{err}"
        );
    }
    assert!(
        !err.contains("UnknownIssuer") && !err.contains("rustls") && !err.contains("hyper"),
        "library log lines leaked into the default output:\n{err}"
    );
    err
}

#[test]
fn an_untrusted_certificate_is_one_line_with_both_fixes_and_certs_d_fixes_it() {
    let work = tempfile::tempdir().expect("tmp");
    let (bundle, imgs) = three_image_bundle(work.path());
    let b = bundle.to_str().expect("utf8");
    let reg = Registry::start(Auth::None, true);
    let o = Outrider::new();

    let trust = format!("--insecure-skip-verify {}", reg.host);
    let err = fails_once_fast(
        &o,
        &["unpack", b, "--push", &reg.host],
        &[
            &format!("the certificate of `{}` is not trusted", reg.host),
            "--ca-file CA.pem",
            &trust,
        ],
    );
    assert_eq!(
        error_lines(&err).len(),
        1,
        "one error for the registry:\n{err}"
    );

    // Reading three images from it: the cause once, then the images it stopped.
    let out_path = work.path().join("back.zip");
    let refs: Vec<String> = ["team/a", "team/b", "team/c"]
        .iter()
        .map(|r| format!("{}/{r}:1", reg.host))
        .collect();
    let mut args = vec!["pack", "-o", out_path.to_str().expect("utf8")];
    args.extend(refs.iter().map(String::as_str));
    let err = fails_once_fast(&o, &args, &["is not trusted"]);
    assert_eq!(err.matches("is not trusted").count(), 1, "{err}");
    assert!(
        err.contains("images it stopped") && err.contains("team/c"),
        "{err}"
    );
    assert!(!out_path.exists(), "a failed pack left a bundle");

    // A host flag without the port matches nothing: said so, not silently ignored.
    let (out, _) = timed(
        &o,
        &[
            "unpack",
            b,
            "--push",
            &reg.host,
            "--insecure-skip-verify",
            "127.0.0.1",
        ],
    );
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("warning: --insecure-skip-verify `127.0.0.1` matched no registry"),
        "{err}"
    );

    // The CA in a certs.d folder named for the registry, as podman and docker keep it.
    let certs_d = o.home.path().join("certs.d").join(&reg.host);
    std::fs::create_dir_all(&certs_d).expect("mkdir");
    std::fs::copy(reg.ca.as_ref().expect("ca"), certs_d.join("ca.crt")).expect("copy");
    o.ok(&["unpack", b, "--push", &reg.host]);
    assert_eq!(
        skopeo_raw(&reg.host, "team/c", "1", &[]).as_deref(),
        Some(&imgs[2].manifest.bytes[..])
    );
}

#[test]
fn rejected_credentials_and_missing_login_are_told_apart_and_podman_logins_work() {
    let work = tempfile::tempdir().expect("tmp");
    let (bundle, imgs) = three_image_bundle(work.path());
    let b = bundle.to_str().expect("utf8");
    let reg = Registry::start(Auth::Basic("alice", "s3cret"), false);
    let o = Outrider::new();

    let err = fails_once_fast(
        &o,
        &["unpack", b, "--push", &reg.host],
        &[
            "requires login",
            "docker login",
            "podman login",
            "--username",
        ],
    );
    assert_eq!(error_lines(&err).len(), 1, "{err}");

    let (out, took) = {
        let start = Instant::now();
        let out = o
            .cmd()
            .args(["unpack", b, "--push", &reg.host])
            .env("OUTRIDER_USERNAME", "alice")
            .env("OUTRIDER_PASSWORD", "wrong")
            .output()
            .expect("run");
        (out, start.elapsed())
    };
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(took < NO_RETRY_BOUND, "{took:?}");
    let errors = error_lines(&err);
    assert_eq!(errors.len(), 1, "one error, not one per blob:\n{err}");
    assert!(
        errors[0].contains(&format!(
            "`{}` rejected the credentials for `alice`",
            reg.host
        )),
        "{err}"
    );

    // `podman login` writes $XDG_RUNTIME_DIR/containers/auth.json.
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    let auth_json = serde_json::json!({ "auths": { reg.host.clone(): { "auth": auth } } });
    let run_dir = work.path().join("run");
    std::fs::create_dir_all(run_dir.join("containers")).expect("mkdir");
    std::fs::write(run_dir.join("containers/auth.json"), auth_json.to_string()).expect("write");
    let out = o
        .cmd()
        .args(["unpack", b, "--push", &reg.host])
        .env("XDG_RUNTIME_DIR", &run_dir)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(
        skopeo_raw(&reg.host, "team/a", "1", &["--creds", "alice:s3cret"]).as_deref(),
        Some(&imgs[0].manifest.bytes[..])
    );

    // REGISTRY_AUTH_FILE and --authfile name the one file to read.
    let elsewhere = work.path().join("site-auth.json");
    std::fs::write(&elsewhere, auth_json.to_string()).expect("write");
    let back = work.path().join("back.zip");
    let image = format!("{}/team/a:1", reg.host);
    let out = o
        .cmd()
        .args(["pack", "-o", back.to_str().expect("utf8"), &image])
        .env("REGISTRY_AUTH_FILE", &elsewhere)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out).1);
    let missing = work.path().join("no-such-auth.json");
    let out = o.run(&[
        "pack",
        "-o",
        back.to_str().expect("utf8"),
        "--authfile",
        missing.to_str().expect("utf8"),
        &image,
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no-such-auth.json"), "{err}");
}

#[test]
fn unreachable_registries_fail_at_once_naming_the_cause() {
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let out = work.path().join("x.zip");
    let out = out.to_str().expect("utf8");
    fails_once_fast(
        &o,
        &["plan", "registry.invalid/team/a:1"],
        &["cannot resolve `registry.invalid`"],
    );
    let closed = format!("127.0.0.1:{}", free_port());
    fails_once_fast(
        &o,
        &["pack", "-o", out, &format!("{closed}/team/a:1")],
        &[&format!("`{closed}` refused the connection")],
    );
}

#[test]
fn push_locations_are_taken_as_users_write_them() {
    let work = tempfile::tempdir().expect("tmp");
    let (bundle, imgs) = three_image_bundle(work.path());
    let b = bundle.to_str().expect("utf8");
    let reg = Registry::plain();
    let o = Outrider::new();
    let want = Some(&imgs[1].manifest.bytes[..]);

    // HOST/PATH: the path is the prefix.
    o.ok(&["unpack", b, "--push", &format!("{}/mirror", reg.host)]);
    assert_eq!(
        skopeo_raw(&reg.host, "mirror/team/b", "1", &[]).as_deref(),
        want
    );
    // http:// is plain HTTP; docker:// and a trailing slash are understood. -vv logs each
    // request: method, URL without its query, status, bytes, milliseconds.
    let out = o.ok(&[
        "unpack",
        b,
        "--push",
        &format!("http://{}/plain", reg.host),
        "-vv",
    ]);
    let (_, err) = text(&out);
    let put = err
        .lines()
        .find(|l| {
            l.contains(&format!(
                "PUT http://{}/v2/plain/team/b/manifests/1",
                reg.host
            ))
        })
        .unwrap_or_else(|| panic!("no request line for the tag's PUT:\n{err}"));
    assert!(put.contains("status=201") && put.contains("ms="), "{put}");
    assert!(
        !err.contains("_state="),
        "an upload session's query was logged:\n{err}"
    );
    assert_eq!(
        skopeo_raw(&reg.host, "plain/team/b", "1", &[]).as_deref(),
        want
    );
    o.ok(&["unpack", b, "--push", &format!("docker://{}/d/", reg.host)]);
    assert_eq!(skopeo_raw(&reg.host, "d/team/b", "1", &[]).as_deref(), want);

    for (bad, says) in [
        (format!("ftp://{}", reg.host), "ftp://"),
        (format!("user:pw@{}", reg.host), "do not belong"),
        (format!("{}/Upper", reg.host), "not a repository prefix"),
        ("https://".to_owned(), "not a registry"),
    ] {
        let (out, took) = timed(&o, &["unpack", b, "--push", &bad]);
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(took < NO_RETRY_BOUND);
        assert!(err.contains(says), "{bad}: {err}");
        assert!(!err.contains("pw@"), "a password was echoed: {err}");
    }
    let out = o.run(&[
        "unpack",
        b,
        "--push",
        &format!("{}/mirror", reg.host),
        "--prefix",
        "other",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
}
