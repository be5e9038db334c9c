//! Credentials stay on the registry's origin, and no body a peer sends is read without a
//! limit. The registry is the real distribution (htpasswd or token auth); a proxy in front
//! of it names "another origin" — a recording server on its own loopback port — in a
//! referrers `Link`, an upload `Location` or a token realm, or answers with an endless body.

use crate::support::peers::{self, Act, Origin};
use crate::support::token::TokenServer;
use crate::support::{Auth, Outrider, Registry, text};
use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

const USER: &str = "alice";
const PASSWORD: &str = "pw-f0r-0ne-origin";

/// A bundle of one small image (`team/api:2`) packed from a plain registry.
fn small_bundle(dir: &Path) -> PathBuf {
    crate::auth_tls::small_bundle(dir).0
}

/// Runs outrider with `user`/`password` in the environment.
fn run_as(o: &Outrider, user: &str, password: &str, args: &[&str]) -> Output {
    o.cmd()
        .args(args)
        .env("OUTRIDER_USERNAME", user)
        .env("OUTRIDER_PASSWORD", password)
        .output()
        .expect("run outrider")
}

/// Fails unless no request head `origin` got carries credentials or the password.
fn assert_no_credentials(origin: &Origin, password: &str) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{password}"));
    for head in origin.heads() {
        let lower = head.to_ascii_lowercase();
        assert!(
            !lower.contains("\nauthorization:"),
            "sent credentials: {head}"
        );
        assert!(
            !head.contains(password) && !head.contains(&encoded),
            "sent the password: {head}"
        );
    }
}

/// A basic-auth registry holding `team/api:2`, pushed there by outrider.
fn basic_registry_with_image(work: &Path) -> (Registry, PathBuf) {
    let bundle = small_bundle(work);
    let reg = Registry::start(Auth::Basic(USER, PASSWORD), false);
    let out = run_as(
        &Outrider::new(),
        USER,
        PASSWORD,
        &[
            "unpack",
            bundle.to_str().expect("utf8"),
            "--push",
            &reg.host,
        ],
    );
    assert!(out.status.success(), "{}", text(&out).1);
    (reg, bundle)
}

/// A referrers page whose `Link` names another origin: outrider asks it without
/// credentials, does not take its Basic challenge, and fails naming that origin.
#[test]
fn a_referrers_link_to_another_origin_gets_no_credentials() {
    let work = tempfile::tempdir().expect("tmp");
    let (reg, _) = basic_registry_with_image(work.path());
    let liar = Origin::start(|_| {
        Act::Answer(
            "401 Unauthorized",
            vec!["WWW-Authenticate: Basic realm=\"liar\"".into()],
            vec![],
        )
    });
    let next = format!("http://{}/v2/team/api/referrers/next?page=2", liar.host);
    let proxy = peers::proxy(reg.host.clone(), move |line| {
        if line.contains("/referrers/") {
            Act::Answer(
                "200 OK",
                vec![
                    "Content-Type: application/vnd.oci.image.index.v1+json".into(),
                    format!("Link: <{next}>; rel=\"next\""),
                ],
                br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.to_vec(),
            )
        } else {
            Act::Forward
        }
    });
    let out_zip = work.path().join("out.zip");
    let out = run_as(
        &Outrider::new(),
        USER,
        PASSWORD,
        &[
            "pack",
            "-o",
            out_zip.to_str().expect("utf8"),
            &format!("{proxy}/team/api:2"),
        ],
    );
    let (_, err) = text(&out);
    assert!(
        !liar.heads().is_empty(),
        "the next page was never asked for: {err}"
    );
    assert_no_credentials(&liar, PASSWORD);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "answered by `http://{}`, another origin",
            liar.host
        )),
        "{err}"
    );
    assert!(!err.contains(PASSWORD), "{err}");
}

/// An upload `Location` on another origin is refused before anything is sent there:
/// neither the credentials nor the image's bytes leave the registry's origin.
#[test]
fn an_upload_location_on_another_origin_is_refused() {
    let work = tempfile::tempdir().expect("tmp");
    let bundle = small_bundle(work.path());
    let reg = Registry::start(Auth::Basic(USER, PASSWORD), false);
    let liar = Origin::start(|_| Act::Answer("202 Accepted", vec![], vec![]));
    let liar_host = liar.host.clone();
    let proxy = peers::proxy(reg.host.clone(), move |line| {
        if !line.starts_with("POST ") || !line.contains("/blobs/uploads/") {
            return Act::Forward;
        }
        let liar_host = liar_host.clone();
        Act::Rewrite(Box::new(move |head: &str| {
            head.lines()
                .map(|l| match l.split_once(':') {
                    Some((k, v)) if k.eq_ignore_ascii_case("location") => {
                        let path = v.trim().split_once("/v2/").map_or("", |(_, p)| p);
                        format!("Location: http://{liar_host}/v2/{path}")
                    }
                    _ => l.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("\r\n")
        }))
    });
    let out = run_as(
        &Outrider::new(),
        USER,
        PASSWORD,
        &["unpack", bundle.to_str().expect("utf8"), "--push", &proxy],
    );
    // The image's failure is its row's status (stdout); the summary goes to stderr.
    let (table, err) = text(&out);
    let err = format!("{table}{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("http://{}/v2/team/api/blobs/uploads/", liar.host))
            && err.contains("which is not on its own origin")
            && err.contains("refused"),
        "{err}"
    );
    assert!(
        liar.heads().is_empty(),
        "another origin was sent requests: {:?}",
        liar.heads()
    );
    assert_eq!(*liar.body_bytes.lock().expect("lock"), 0);
}

/// A proxy in front of a token registry that moves its realm to `realm`.
fn token_registry_with_realm(realm: String) -> (Registry, String) {
    let reg = Registry::start(Auth::Token(TokenServer::start(USER, PASSWORD)), false);
    let proxy = peers::proxy(reg.host.clone(), move |_| {
        let realm = realm.clone();
        Act::Rewrite(Box::new(move |head: &str| {
            head.lines()
                .map(|l| match l.split_once(':') {
                    Some((k, v)) if k.eq_ignore_ascii_case("www-authenticate") => {
                        let rest = v.split_once(',').map_or("", |(_, r)| r);
                        format!("Www-Authenticate: Bearer realm=\"{realm}\",{rest}")
                    }
                    _ => l.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("\r\n")
        }))
    });
    (reg, proxy)
}

/// A token realm on another origin over plain HTTP is asked without the credentials,
/// with one warning naming it; its refusal then says why and how to allow it.
#[test]
fn a_plain_http_realm_on_another_origin_gets_no_basic_credentials() {
    let work = tempfile::tempdir().expect("tmp");
    let bundle = small_bundle(work.path());
    let liar = Origin::start(|_| Act::Answer("401 Unauthorized", vec![], vec![]));
    let realm = format!("http://{}/token", liar.host);
    let (_reg, proxy) = token_registry_with_realm(realm.clone());
    let out = run_as(
        &Outrider::new(),
        USER,
        PASSWORD,
        &["unpack", bundle.to_str().expect("utf8"), "--push", &proxy],
    );
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!liar.heads().is_empty(), "the realm was never asked: {err}");
    assert_no_credentials(&liar, PASSWORD);
    let warning = format!(
        "sends logins to the token server `{realm}`, on another origin over plain HTTP: asking it for tokens without the credentials"
    );
    assert_eq!(err.matches(&warning).count(), 1, "{err}");
    assert!(
        err.contains(&format!("did not send it the credentials for `{USER}`"))
            && err.contains(&format!("--plain-http {}", liar.host)),
        "{err}"
    );
}

/// Runs `args` and returns its output and how long it took.
fn timed(o: &Outrider, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let out = run_as(o, USER, PASSWORD, args);
    (out, started.elapsed())
}

/// A token server that never stops answering: outrider stops reading at the token limit
/// and fails within seconds. `--plain-http` names the realm's host, so the credentials
/// are sent there (the user allowed it) and no warning is given.
#[test]
fn an_endless_token_reply_is_cut_at_its_limit() {
    let work = tempfile::tempdir().expect("tmp");
    let bundle = small_bundle(work.path());
    let liar = Origin::start(|_| {
        Act::Endless(
            vec!["Content-Type: application/json".into()],
            "{\"token\":\"",
        )
    });
    let realm = format!("http://{}/token", liar.host);
    let (_reg, proxy) = token_registry_with_realm(realm.clone());
    let (out, took) = timed(
        &Outrider::new(),
        &[
            "unpack",
            bundle.to_str().expect("utf8"),
            "--push",
            &proxy,
            "--plain-http",
            &liar.host,
        ],
    );
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("token reply from `{realm}` is over 1048576 bytes")),
        "{err}"
    );
    assert!(took < peers::ENDLESS_FOR / 2, "took {took:?}");
    assert!(!err.contains("warning"), "{err}");
    assert!(!liar.heads().is_empty(), "the realm was never asked: {err}");
    assert!(
        liar.heads()
            .iter()
            .all(|h| h.to_ascii_lowercase().contains("\nauthorization: basic ")),
        "--plain-http named the realm, yet no credentials: {:?}",
        liar.heads()
    );
}

/// `receipt --registry` reads the catalog and tag lists: an endless page of either is
/// cut at the page limit.
#[test]
fn endless_catalog_and_tag_pages_are_cut_at_their_limit() {
    let work = tempfile::tempdir().expect("tmp");
    let (reg, _) = basic_registry_with_image(work.path());
    for (endpoint, said) in [
        ("/v2/_catalog", "catalog page".to_owned()),
        ("/tags/list", "tags of `team/api` page".to_owned()),
    ] {
        let proxy = peers::proxy(reg.host.clone(), move |line| {
            if line.contains(endpoint) {
                Act::Endless(
                    vec!["Content-Type: application/json".into()],
                    "{\"repositories\":[\"",
                )
            } else {
                Act::Forward
            }
        });
        let receipt = work.path().join("receipt.json");
        let (out, took) = timed(
            &Outrider::new(),
            &[
                "receipt",
                "--registry",
                &proxy,
                "-o",
                receipt.to_str().expect("utf8"),
            ],
        );
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("{said} from `{proxy}` is over 16777216 bytes")),
            "{err}"
        );
        assert!(took < peers::ENDLESS_FOR / 2, "took {took:?}");
    }
}

/// A tag list whose pages never end (each 1 MiB, each naming a next one): cut when all
/// its pages together pass the listing limit.
#[test]
fn an_endless_chain_of_tag_pages_is_cut_at_the_listing_limit() {
    let work = tempfile::tempdir().expect("tmp");
    let (reg, _) = basic_registry_with_image(work.path());
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = asked.clone();
    let proxy = peers::proxy(reg.host.clone(), move |line| {
        if !line.contains("/tags/list") {
            return Act::Forward;
        }
        let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let body = format!("{{\"tags\":[\"{}\"]}}", "x".repeat(1024 * 1024));
        Act::Answer(
            "200 OK",
            vec![
                "Content-Type: application/json".into(),
                format!("Link: </v2/team/api/tags/list?n=1000&last=p{n}>; rel=\"next\""),
            ],
            body.into_bytes(),
        )
    });
    let receipt = work.path().join("receipt.json");
    let (out, took) = timed(
        &Outrider::new(),
        &[
            "receipt",
            "--registry",
            &proxy,
            "-o",
            receipt.to_str().expect("utf8"),
        ],
    );
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "tags of `team/api`, all pages together, from `{proxy}` is over 67108864 bytes"
        )),
        "{err}"
    );
    // 64 pages of a little over 1 MiB pass 64 MiB: no 65th is asked for.
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 64, "{err}");
    assert!(took < peers::ENDLESS_FOR / 2, "took {took:?}");
}

/// A mirror is the registry the user configured it for: the credentials given for that
/// registry (or for the mirror itself) reach the mirror, whose origin is its own.
#[test]
fn a_mirror_gets_the_credentials_of_the_registry_it_stands_for() {
    let work = tempfile::tempdir().expect("tmp");
    let (reg, _) = basic_registry_with_image(work.path());
    let o = Outrider::new();
    for auth_for in ["upstream.invalid", reg.host.as_str()] {
        let out_zip = work.path().join("mirrored.zip");
        let out = run_as(
            &o,
            USER,
            PASSWORD,
            &[
                "pack",
                "-o",
                out_zip.to_str().expect("utf8"),
                "--mirror",
                &format!("upstream.invalid={}", reg.host),
                "--auth-for",
                auth_for,
                "upstream.invalid/team/api:2",
            ],
        );
        let (_, err) = text(&out);
        assert!(out.status.success(), "--auth-for {auth_for}: {err}");
    }
}
