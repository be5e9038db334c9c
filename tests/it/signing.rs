//! Trust across the gap: a bundle signed by `pack --sign` is checked by openssl alone and
//! refused by every reader when one byte of its index changed, when it is unsigned, or
//! when another key signed it; images whose cosign signatures do not verify offline never
//! reach the registry or a tar. Keys are made by openssl; one image carries a real cosign
//! signature from sigstore-rs's test data, verified with its published key.

use crate::support::artifacts::{
    Artifact, SIGSTORE_BUNDLE, referrers_index, signed_by, sigstore_bundle_signed_by,
    simple_signing, tag_of,
};
use crate::support::images::{self, Flavour, Image};
use crate::support::keys::{key_pair, openssl_verifies};
use crate::support::rawzip::{self, Entry};
use crate::support::{Outrider, Registry, skopeo_raw, text};
use std::path::Path;
use std::process::Command;

const FIXTURE_LAYOUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hello-oci");
const COSIGN_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/cosign");

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `sha256:` of the key's DER SubjectPublicKeyInfo, as openssl computes it.
fn openssl_fingerprint(public: &Path) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "openssl pkey -pubin -in '{}' -outform DER | sha256sum",
            public.display()
        ))
        .output()
        .expect("run openssl");
    let hex = String::from_utf8_lossy(&out.stdout);
    format!(
        "sha256:{}",
        hex.split_whitespace().next().unwrap_or_default()
    )
}

/// The bundle with its `outrider.json` replaced by `edit(index)`, the zip otherwise
/// intact (CRCs right), as someone altering it on the way would write it.
fn rewrite_index(bundle: &Path, out: &Path, edit: impl Fn(Vec<u8>) -> Vec<u8>, keep_sig: bool) {
    let entries: Vec<Entry> = rawzip::read(bundle)
        .into_iter()
        .filter(|e| keep_sig || e.name != "outrider.json.sig")
        .map(|e| {
            if e.name == "outrider.json" {
                Entry::new(&e.name, edit(e.data))
            } else {
                e
            }
        })
        .collect();
    std::fs::write(out, rawzip::write(&entries)).expect("write bundle");
}

/// Runs `outrider ARGS` with `OUTRIDER_TRUSTED_KEYS=dir`.
fn with_keys_dir(o: &Outrider, args: &[&str], dir: &Path) -> std::process::Output {
    o.cmd()
        .args(args)
        .env("OUTRIDER_TRUSTED_KEYS", dir)
        .output()
        .expect("run outrider")
}

fn refused(o: &Outrider, args: &[&str], why: &str) -> String {
    let out = o.run(args);
    let (_, err) = text(&out);
    assert!(
        !out.status.success(),
        "outrider {args:?} accepted the bundle:\n{err}"
    );
    assert!(
        err.contains(why),
        "outrider {args:?}: expected `{why}` in:\n{err}"
    );
    err
}

#[test]
fn a_signed_bundle_is_checked_by_openssl_and_refused_when_altered_or_untrusted() {
    let o = Outrider::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (key, public) = key_pair(d, "site");
    let (_, other) = key_pair(d, "other");
    let bundle = d.join("b.zip");
    let image = format!("oci:{FIXTURE_LAYOUT}:1.0");
    o.ok(&["pack", &image, "-o", s(&bundle), "--sign", s(&key)]);

    // Anyone can check it with openssl alone, as README says.
    let (ok, said) = openssl_verifies(&public, &bundle);
    assert!(ok, "openssl: {said}");

    // Unchecked, it says who signed it; checked, every reader accepts it.
    let fingerprint = openssl_fingerprint(&public);
    let out = o.ok(&["inspect", "--json", s(&bundle)]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["signature"]["signer"], fingerprint.as_str(), "{v}");
    assert_eq!(v["signature"]["checked"], false, "{v}");
    let (shown, _) = text(&o.ok(&["inspect", s(&bundle)]));
    assert!(
        shown.contains(&format!("signed by {fingerprint}, not checked")),
        "{shown}"
    );
    let (_, err) = text(&o.ok(&["verify", s(&bundle), "--trusted-key", s(&public)]));
    assert!(
        err.contains(&format!("signed by {fingerprint} (`")),
        "{err}"
    );
    let tar = d.join("ok.tar");
    o.ok(&[
        "unpack",
        s(&bundle),
        "--trusted-key",
        s(&public),
        "--docker-save",
        s(&tar),
    ]);
    assert!(tar.exists());
    // The keys of OUTRIDER_TRUSTED_KEYS count too.
    let keys = d.join("keys");
    std::fs::create_dir(&keys).expect("mkdir");
    std::fs::copy(&public, keys.join("site.pub")).expect("copy key");
    let out = with_keys_dir(&o, &["verify", s(&bundle)], &keys);
    assert!(out.status.success(), "{}", text(&out).1);

    // Every reader refuses a bundle signed by another key, before writing anything.
    let not_trusted = "which is not a trusted key";
    let untrusted_tar = d.join("untrusted.tar");
    for args in [
        vec!["verify", s(&bundle), "--trusted-key", s(&other)],
        vec!["inspect", s(&bundle), "--trusted-key", s(&other)],
        vec![
            "unpack",
            s(&bundle),
            "--trusted-key",
            s(&other),
            "--docker-save",
            s(&untrusted_tar),
        ],
    ] {
        refused(&o, &args, not_trusted);
    }
    assert!(!untrusted_tar.exists(), "a refused unpack wrote a tar");
    let out = Command::new("timeout")
        .args(["30", env!("CARGO_BIN_EXE_outrider"), "serve", s(&bundle)])
        .args(["--listen", "127.0.0.1:0", "--trusted-key", s(&other)])
        .output()
        .expect("run serve");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    assert!(text(&out).1.contains(not_trusted), "{}", text(&out).1);

    // One byte of the index changed (the zip rewritten with right CRCs): refused.
    let tampered = d.join("tampered.zip");
    rewrite_index(
        &bundle,
        &tampered,
        |index| {
            let text = String::from_utf8(index).expect("utf-8 index");
            text.replacen("\"outrider 0.", "\"outrider 9.", 1)
                .into_bytes()
        },
        true,
    );
    let err = refused(
        &o,
        &["verify", s(&tampered), "--trusted-key", s(&public)],
        "does not match its index",
    );
    assert!(!err.contains("panicked"), "{err}");
    refused(
        &o,
        &[
            "unpack",
            s(&tampered),
            "--trusted-key",
            s(&public),
            "--docker-save",
            s(&untrusted_tar),
        ],
        "does not match its index",
    );
    // A signature stripped from a signed bundle is noticed even without keys.
    let stripped = d.join("stripped.zip");
    rewrite_index(&bundle, &stripped, |i| i, false);
    refused(&o, &["inspect", s(&stripped)], "the signature was removed");

    // An unsigned bundle is refused when a key is required, and fine otherwise.
    let unsigned = d.join("unsigned.zip");
    o.ok(&["pack", &image, "-o", s(&unsigned)]);
    o.ok(&["verify", s(&unsigned)]);
    refused(
        &o,
        &["verify", s(&unsigned), "--trusted-key", s(&public)],
        "it is not signed",
    );
    let out = with_keys_dir(&o, &["inspect", s(&unsigned)], &keys);
    assert!(!out.status.success() && text(&out).1.contains("it is not signed"));
    // A trusted-keys directory without keys is a mistake, not "trust nothing".
    let empty = d.join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let out = with_keys_dir(&o, &["verify", s(&unsigned)], &empty);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    assert!(text(&out).1.contains("holds no `*.pub` or `*.pem`"));
}

#[test]
fn a_cosign_key_file_signs_with_its_password() {
    let o = Outrider::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("b.zip");
    let image = format!("oci:{FIXTURE_LAYOUT}:1.0");
    let key = format!("{COSIGN_FIXTURES}/sigstore-rs-encrypted.key");
    let public = format!("{COSIGN_FIXTURES}/sigstore-rs-encrypted.pub");
    let pack = |password: &str| {
        o.cmd()
            .args(["pack", &image, "-o", s(&bundle), "--sign", &key])
            .env("COSIGN_PASSWORD", password)
            .output()
            .expect("run pack")
    };
    let out = pack("wrong");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    assert!(text(&out).1.contains("wrong password"), "{}", text(&out).1);
    assert!(!bundle.exists());
    let out = pack("123");
    assert!(out.status.success(), "{}", text(&out).1);
    o.ok(&["verify", s(&bundle), "--trusted-key", &public]);
}

/// Pushes `image` as `repo:1.0` and attaches `signature` by cosign's tag.
fn push_with_tag_signature(host: &str, repo: &str, image: &Image, signature: Option<&Artifact>) {
    images::push_image(host, repo, "1.0", image);
    if let Some(sig) = signature {
        sig.push(host, repo, &tag_of(&image.manifest.digest, ".sig"));
    }
}

#[test]
fn images_without_a_valid_cosign_signature_never_arrive() {
    let source = Registry::plain();
    let h = source.host.as_str();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (key, public) = key_pair(d, "release");
    let (other_key, _) = key_pair(d, "intruder");
    let image = |seed: u64| {
        images::image(
            vec![images::layer(seed, 4_000, Flavour::Oci)],
            "amd64",
            Flavour::Oci,
            false,
        )
    };
    // Signed by the release key, in each of cosign's forms.
    let good = image(501);
    push_with_tag_signature(
        h,
        "apps/good",
        &good,
        Some(&signed_by(
            &key,
            &format!("{h}/apps/good"),
            &good.manifest.digest,
        )),
    );
    let bundled = image(502);
    images::push_image(h, "apps/bundled", "1.0", &bundled);
    let sigstore = sigstore_bundle_signed_by(&key, &bundled.manifest);
    sigstore.push(h, "apps/bundled", &sigstore.manifest.digest);
    images::push_manifest(
        h,
        "apps/bundled",
        &tag_of(&bundled.manifest.digest, ""),
        &referrers_index(&[(&sigstore, SIGSTORE_BUNDLE)]),
    );
    // Signed by another key.
    let intruded = image(503);
    push_with_tag_signature(
        h,
        "apps/intruded",
        &intruded,
        Some(&signed_by(
            &other_key,
            &format!("{h}/apps/intruded"),
            &intruded.manifest.digest,
        )),
    );
    // A real cosign signature (sigstore-rs's test data), valid for its key, but of
    // another image: moved onto this one.
    let moved = image(504);
    let payload = std::fs::read(format!(
        "{COSIGN_FIXTURES}/sigstore-rs-busybox.payload.json"
    ))
    .expect("fixture");
    let signature = std::fs::read_to_string(format!("{COSIGN_FIXTURES}/sigstore-rs-busybox.sig"))
        .expect("fixture");
    push_with_tag_signature(
        h,
        "apps/moved",
        &moved,
        Some(&simple_signing(payload, signature.trim())),
    );
    // Not signed at all.
    let bare = image(505);
    push_with_tag_signature(h, "apps/bare", &bare, None);

    let o = Outrider::new();
    let bundle = d.join("b.zip");
    let names = ["good", "bundled", "intruded", "moved", "bare"];
    let refs: Vec<String> = names.iter().map(|n| format!("{h}/apps/{n}:1.0")).collect();
    let mut args: Vec<&str> = vec!["pack", "-o", s(&bundle), "--sign", s(&key)];
    args.extend(refs.iter().map(String::as_str));
    o.ok(&args);
    let fixture_key = format!("{COSIGN_FIXTURES}/sigstore-rs.pub");
    let keys = ["--cosign-key", s(&public), "--cosign-key", &fixture_key];

    // verify reports each image's verdict, and fails.
    let mut args = vec!["verify", "--json", s(&bundle)];
    args.extend(keys);
    let out = o.run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let verdicts = v["images"].as_array().expect("images");
    let verdict = |name: &str| {
        verdicts
            .iter()
            .find(|i| {
                i["image"]
                    .as_str()
                    .is_some_and(|r| r.contains(&format!("/apps/{name}:")))
            })
            .unwrap_or_else(|| panic!("no verdict for {name}: {v}"))
            .clone()
    };
    assert_eq!(verdict("good")["verified"], true, "{v}");
    assert_eq!(verdict("good")["form"], "simple signing");
    assert_eq!(verdict("bundled")["verified"], true, "{v}");
    assert_eq!(verdict("bundled")["form"], "sigstore bundle");
    let reasons = |name: &str| verdict(name)["reasons"].to_string();
    assert!(
        reasons("intruded").contains("not made by a trusted key"),
        "{v}"
    );
    assert!(
        reasons("moved").contains(
            "it signs sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b, not this image"
        ),
        "{v}"
    );
    assert!(
        reasons("bare").contains("carries no cosign signature"),
        "{v}"
    );

    // unpack --push: the verified images arrive, the others do not, exit 1.
    let dest = Registry::plain();
    let mut args = vec!["unpack", s(&bundle), "--push", dest.host.as_str()];
    args.extend(keys);
    args.extend(["--trusted-key", s(&public)]);
    let out = o.run(&args);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for (name, img) in [("good", &good), ("bundled", &bundled)] {
        let got = skopeo_raw(&dest.host, &format!("apps/{name}"), "1.0", &[]);
        assert_eq!(
            got.as_deref(),
            Some(img.manifest.bytes.as_slice()),
            "{name}: {err}"
        );
    }
    for name in ["intruded", "moved", "bare"] {
        assert!(
            err.contains(&format!("/apps/{name}:1.0` (")) && err.contains("is left out"),
            "{name} not named: {err}"
        );
        assert_eq!(
            skopeo_raw(&dest.host, &format!("apps/{name}"), "1.0", &[]),
            None,
            "{name} reached the registry"
        );
    }

    // An incremental bundle of `good` lists its signature as external: it is checked
    // from the earlier bundle given with --base, and refused without it.
    let week2 = d.join("week2.zip");
    o.ok(&["pack", &refs[0], "-o", s(&week2), "--since", s(&bundle)]);
    let out = o.run(&[
        "unpack",
        s(&week2),
        "--push",
        dest.host.as_str(),
        "--cosign-key",
        s(&public),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    assert!(text(&out).1.contains("with --base"), "{}", text(&out).1);
    o.ok(&[
        "unpack",
        s(&week2),
        "--push",
        dest.host.as_str(),
        "--cosign-key",
        s(&public),
        "--base",
        s(&bundle),
    ]);

    // --strict: nothing at all is pushed.
    let strict_dest = Registry::plain();
    let mut args = vec![
        "unpack",
        s(&bundle),
        "--push",
        strict_dest.host.as_str(),
        "--strict",
    ];
    args.extend(keys);
    let out = o.run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    assert!(
        text(&out).1.contains("--strict: 3 of 5 images"),
        "{}",
        text(&out).1
    );
    assert_eq!(skopeo_raw(&strict_dest.host, "apps/good", "1.0", &[]), None);

    // Tars hold only the verified images.
    let tar = d.join("signed.tar");
    let mut args = vec!["unpack", s(&bundle), "--docker-save", s(&tar)];
    args.extend(keys);
    assert_eq!(o.run(&args).status.code(), Some(1));
    let listing = Command::new("tar")
        .args(["-xOf", s(&tar), "manifest.json"])
        .output()
        .expect("run tar");
    let manifest = String::from_utf8_lossy(&listing.stdout);
    assert!(
        manifest.contains("/apps/good:1.0") && manifest.contains("/apps/bundled:1.0"),
        "{manifest}"
    );
    for name in ["intruded", "moved", "bare"] {
        assert!(!manifest.contains(&format!("/apps/{name}:")), "{manifest}");
    }
}
