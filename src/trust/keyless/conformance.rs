//! The Sigstore conformance suite's bundle-verification cases
//! (`fixtures/sigstore-conformance/`, see its README), run as a table through the same
//! verifier the commands use: every case must give the verdict its name promises (`_fail`
//! refused, the others verified), and the cases outrider cannot support are listed in
//! [`REFUSED`] and asserted refused.

use super::bundle::{Trust, verify};
use super::policy::{Matcher, Policies, Policy};
use super::public_key::PublicKey;
use super::trusted_root::TrustedRoot;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

/// Cases that should verify but that outrider refuses, with why (also in the README).
const REFUSED: &[(&str, &str)] = &[];

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sigstore-conformance")
}

fn read(path: &Path) -> Vec<u8> {
    fs_err::read(path).expect("fixture readable")
}

fn text_or(path: &Path, default: &str) -> String {
    fs_err::read_to_string(path).map_or_else(|_| default.to_owned(), |s| s.trim().to_owned())
}

/// One case's verdict: `Ok(description)` or the refusal.
fn run(case: &Path) -> Result<String, String> {
    let base = fixtures();
    let artifact = if case.join("artifact").exists() {
        read(&case.join("artifact"))
    } else {
        read(&base.join("bundle-verify/a.txt"))
    };
    let digest = Sha256::digest(&artifact);
    let root_path = if case.join("trusted_root.json").exists() {
        case.join("trusted_root.json")
    } else {
        base.join("public-good-trusted_root.json")
    };
    let root = TrustedRoot::from_json(&read(&root_path)).map_err(|e| e.to_string())?;
    let bundle = read(&case.join("bundle.sigstore.json"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let key_file = case.join("key.pub");
    let verdict = if key_file.exists() {
        let pem = String::from_utf8(read(&key_file)).map_err(|e| e.to_string())?;
        let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = super::trusted_root::b64(&der)?;
        let keys = [PublicKey::from_spki_der(&der)?];
        verify(&bundle, &digest, &root, Trust::Keys(&keys), now)
    } else {
        let policies = Policies(vec![Policy {
            identity: Matcher::Exact(text_or(&case.join("identity"), IDENTITY)),
            issuer: Matcher::Exact(text_or(&case.join("issuer"), ISSUER)),
        }]);
        verify(&bundle, &digest, &root, Trust::Identities(&policies), now)
    };
    verdict.map(|v| v.describe()).map_err(|e| e.to_string())
}

#[test]
#[allow(clippy::print_stderr)] // each case's verdict, shown with --nocapture
fn every_conformance_case_gives_its_verdict() {
    let dir = fixtures().join("bundle-verify");
    let mut cases: Vec<PathBuf> = fs_err::read_dir(&dir)
        .expect("fixtures present")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 60, "the suite's cases are all there");
    let mut wrong = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let refused_on_purpose = REFUSED.iter().any(|(n, _)| *n == name);
        let expect_pass = !name.ends_with("_fail") && !refused_on_purpose;
        let outcome = run(case);
        eprintln!("{name}: {outcome:?}");
        if outcome.is_ok() != expect_pass {
            wrong.push(format!("{name}: {outcome:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "cases with the wrong verdict:\n{}",
        wrong.join("\n")
    );
}
