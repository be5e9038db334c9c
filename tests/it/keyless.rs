//! Keyless signatures verified on the far side with nothing but a carried trusted root and
//! the expected identity. The test makes its own Sigstore-like trust: a root and an
//! intermediate CA, Fulcio-style leaf certificates (SAN, code signing, the OIDC issuer
//! extension) with an embedded SCT from a CT-like log key, a Rekor-like log key that signs
//! entry timestamps and checkpoints, and an RFC 3161 timestamp authority run by `openssl
//! ts` with a certificate openssl issues from the root. The CA certificates and leaves are
//! made with rcgen (already a dependency; openssl 3.0 cannot reissue a certificate with
//! fixed dates, which the embedded SCT needs), signatures with p256. Images are signed as cosign 3 Sigstore bundle
//! referrers and as legacy `.sig` layers with certificate annotations, packed, verified and
//! unpacked; each mismatch is refused with its reason.

mod sigstore;

use crate::support::artifacts::{
    Artifact, SIGSTORE_BUNDLE, referrers_index, sigstore_bundle_signed_by, tag_of,
};
use crate::support::images::{self, Flavour, Image};
use crate::support::keys::key_pair;
use crate::support::serving::Serving;
use crate::support::{Outrider, Registry, skopeo_raw, text};
use sigstore::{Pki, Tsa, bundle_referrer, legacy_sig, now};
use std::path::Path;

const IDENTITY: &str =
    "https://github.com/example/app/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn attach(h: &str, repo: &str, image: &Image, referrer: &Artifact) {
    images::push_image(h, repo, "1.0", image);
    referrer.push(h, repo, &referrer.manifest.digest);
    images::push_manifest(
        h,
        repo,
        &tag_of(&image.manifest.digest, ""),
        &referrers_index(&[(referrer, SIGSTORE_BUNDLE)]),
    );
}

#[test]
fn keyless_signatures_are_verified_on_the_far_side_with_only_the_trusted_root() {
    let source = Registry::plain();
    let h = source.host.as_str();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let pki = Pki::new("fulcio");
    let stranger = Pki::new("stranger");
    let root = d.join("trusted_root.json");
    let tsa = Tsa::new(&pki, d);
    std::fs::write(&root, pki.trusted_root(&tsa.cert_der)).expect("write root");
    let image = |seed: u64| {
        images::image(
            vec![images::layer(seed, 4_000, Flavour::Oci)],
            "amd64",
            Flavour::Oci,
            false,
        )
    };
    let t0 = now() - 86_400;
    let good_leaf = pki.leaf(IDENTITY, ISSUER, t0);

    // Verifiable: a cosign 3 bundle referrer and a legacy .sig.
    let bundled = image(601);
    attach(
        h,
        "apps/bundled",
        &bundled,
        &bundle_referrer(
            &pki,
            &good_leaf,
            (&bundled.manifest, &bundled.manifest),
            Some(t0 + 60),
            None,
        ),
    );
    // Rekor v2 style: an inclusion proof without an integrated time, and an RFC 3161
    // timestamp from the TSA (openssl ts) proving when it was signed.
    let stamped = image(610);
    let fresh_leaf = pki.leaf(IDENTITY, ISSUER, now() - 60);
    attach(
        h,
        "apps/stamped",
        &stamped,
        &bundle_referrer(
            &pki,
            &fresh_leaf,
            (&stamped.manifest, &stamped.manifest),
            None,
            Some(&tsa),
        ),
    );
    let legacy = image(602);
    images::push_image(h, "apps/legacy", "1.0", &legacy);
    legacy_sig(
        &pki,
        &good_leaf,
        &format!("{h}/apps/legacy"),
        &legacy.manifest.digest,
        t0 + 60,
    )
    .push(h, "apps/legacy", &tag_of(&legacy.manifest.digest, ".sig"));
    // Refused, each for its reason.
    let cases: Vec<(&str, Artifact, Image, &str)> = {
        let mut v = Vec::new();
        let img = image(603);
        let leaf = pki.leaf(
            "https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main",
            ISSUER,
            t0,
        );
        v.push((
            "identity",
            bundle_referrer(
                &pki,
                &leaf,
                (&img.manifest, &img.manifest),
                Some(t0 + 60),
                None,
            ),
            img,
            "identity mismatch: the certificate names `https://github.com/evil/app",
        ));
        let img = image(604);
        let leaf = pki.leaf(IDENTITY, "https://issuer.evil", t0);
        v.push((
            "issuer",
            bundle_referrer(
                &pki,
                &leaf,
                (&img.manifest, &img.manifest),
                Some(t0 + 60),
                None,
            ),
            img,
            "from issuer `https://issuer.evil`",
        ));
        let img = image(605);
        v.push((
            "expired",
            bundle_referrer(
                &pki,
                &good_leaf,
                (&img.manifest, &img.manifest),
                Some(t0 + 3_600),
                None,
            ),
            img,
            "time outside certificate",
        ));
        let img = image(606);
        let leaf = stranger.leaf(IDENTITY, ISSUER, t0);
        v.push((
            "untrusted",
            bundle_referrer(
                &pki,
                &leaf,
                (&img.manifest, &img.manifest),
                Some(t0 + 60),
                None,
            ),
            img,
            "certificate chain",
        ));
        let img = image(607);
        v.push((
            "otherdigest",
            bundle_referrer(
                &pki,
                &good_leaf,
                (&img.manifest, &bundled.manifest),
                Some(t0 + 60),
                None,
            ),
            img,
            "not this image",
        ));
        let img = image(608);
        v.push((
            "untimed",
            bundle_referrer(&pki, &good_leaf, (&img.manifest, &img.manifest), None, None),
            img,
            "missing timestamp",
        ));
        // A trusted key never stands in for an identity: a key-signed bundle is refused.
        let img = image(609);
        let (key, _) = key_pair(d, "keyed");
        v.push((
            "keyed",
            sigstore_bundle_signed_by(&key, &img.manifest),
            img,
            "signed with a key, not a certificate",
        ));
        v
    };
    for (name, referrer, img, _) in &cases {
        attach(h, &format!("apps/{name}"), img, referrer);
    }

    let o = Outrider::new();
    let bundle = d.join("b.zip");
    let mut names = vec!["bundled", "legacy", "stamped"];
    names.extend(cases.iter().map(|c| c.0));
    let refs: Vec<String> = names.iter().map(|n| format!("{h}/apps/{n}:1.0")).collect();
    let mut args: Vec<&str> = vec!["pack", "-o", s(&bundle)];
    args.extend(refs.iter().map(String::as_str));
    o.ok(&args);
    let trust = [
        "--trusted-root",
        s(&root),
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ];

    // verify names each image's verdict, one line each, and fails.
    let mut args = vec!["verify", "--json", s(&bundle)];
    args.extend(trust);
    let out = o.run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let verdict = |name: &str| {
        v["keyless"]
            .as_array()
            .expect("keyless verdicts")
            .iter()
            .find(|i| {
                i["image"]
                    .as_str()
                    .is_some_and(|r| r.contains(&format!("/apps/{name}:")))
            })
            .unwrap_or_else(|| panic!("no verdict for {name}: {v}"))
            .clone()
    };
    for name in ["bundled", "legacy", "stamped"] {
        assert_eq!(verdict(name)["verified"], true, "{name}: {v}");
        assert_eq!(verdict(name)["signer"]["identity"], IDENTITY, "{v}");
        assert_eq!(verdict(name)["signer"]["issuer"], ISSUER, "{v}");
    }
    let proof = verdict("stamped")["signer"]["proof"].to_string();
    assert!(proof.contains("RFC 3161 timestamp"), "{v}");
    for (name, _, _, reason) in &cases {
        assert_eq!(verdict(name)["verified"], false, "{name}: {v}");
        assert!(
            verdict(name)["reasons"].to_string().contains(reason),
            "{name}: want `{reason}`: {v}"
        );
    }

    // report: the approver sees each image's keyless signer and issuer, or why not.
    let mut args = vec!["report", "--format", "json", s(&bundle)];
    args.extend(trust);
    let out = o.ok(&args);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report json");
    let signature = |name: &str| {
        r["images"]
            .as_array()
            .expect("images")
            .iter()
            .find(|i| {
                i["reference"]
                    .as_str()
                    .is_some_and(|x| x.contains(&format!("/apps/{name}:")))
            })
            .unwrap_or_else(|| panic!("no image {name}: {r}"))["signature"]
            .clone()
    };
    for name in ["bundled", "legacy", "stamped"] {
        let sig = signature(name);
        assert_eq!(sig["verdict"], "verified", "{name}: {sig}");
        assert_eq!(sig["method"], "keyless", "{sig}");
        assert_eq!(sig["identity"], IDENTITY, "{sig}");
        assert_eq!(sig["issuer"], ISSUER, "{sig}");
    }
    for (name, _, _, reason) in &cases {
        let sig = signature(name);
        assert_eq!(sig["verdict"], "failed", "{name}: {sig}");
        assert!(sig["reasons"].to_string().contains(reason), "{name}: {sig}");
    }

    // unpack --push: the verified images arrive, the others do not.
    let dest = Registry::plain();
    let mut args = vec!["unpack", s(&bundle), "--push", dest.host.as_str()];
    args.extend(trust);
    let out = o.run(&args);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for (name, img) in [
        ("bundled", &bundled),
        ("legacy", &legacy),
        ("stamped", &stamped),
    ] {
        let got = skopeo_raw(&dest.host, &format!("apps/{name}"), "1.0", &[]);
        assert_eq!(
            got.as_deref(),
            Some(img.manifest.bytes.as_slice()),
            "{name}: {err}"
        );
    }
    for (name, _, _, _) in &cases {
        assert!(
            err.contains(&format!("/apps/{name}:1.0` (")) && err.contains("is left out"),
            "{name}: {err}"
        );
        assert_eq!(
            skopeo_raw(&dest.host, &format!("apps/{name}"), "1.0", &[]),
            None,
            "{name} arrived"
        );
    }

    // serve: only the verified images are served.
    let mut args = vec![s(&bundle)];
    args.extend(trust);
    let server = Serving::start(&o, &args);
    for (name, img) in [
        ("bundled", &bundled),
        ("legacy", &legacy),
        ("stamped", &stamped),
    ] {
        let got = skopeo_raw(&server.host, &format!("apps/{name}"), "1.0", &[]);
        assert_eq!(
            got.as_deref(),
            Some(img.manifest.bytes.as_slice()),
            "{name} not served"
        );
    }
    for (name, _, _, _) in &cases {
        let got = skopeo_raw(&server.host, &format!("apps/{name}"), "1.0", &[]);
        assert_eq!(got, None, "{name} was served");
    }
    drop(server);

    // A trusted root alone admits nobody: it is a usage error.
    let out = o.run(&["verify", s(&bundle), "--trusted-root", s(&root)]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    assert!(
        text(&out).1.contains("--certificate-identity"),
        "{}",
        text(&out).1
    );

    // A certificate never stands in for a trusted key: with --cosign-key alone, the
    // keylessly signed images have no valid signature.
    let (_, public) = key_pair(d, "release");
    let out = o.run(&["verify", "--json", s(&bundle), "--cosign-key", s(&public)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).1);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let images = v["images"].as_array().expect("images");
    assert!(images.iter().all(|i| i["verified"] == false), "{v}");

    // pack --verify-signatures carries only what verifies.
    let ok = d.join("ok.zip");
    let mut args = vec![
        "pack",
        "-o",
        s(&ok),
        "--verify-signatures",
        &refs[0],
        &refs[1],
    ];
    args.extend(trust);
    o.ok(&args);
    let refused = d.join("refused.zip");
    let mut args = vec![
        "pack",
        "-o",
        s(&refused),
        "--verify-signatures",
        &refs[0],
        &refs[3],
    ];
    args.extend(trust);
    let out = o.run(&args);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out).1);
    assert!(
        text(&out).1.contains("identity mismatch"),
        "{}",
        text(&out).1
    );
    assert!(!refused.exists(), "an unverified bundle was kept");
}
