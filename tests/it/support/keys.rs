//! Keys and signatures made by openssl, as a site would make them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// An ECDSA P-256 key pair made by openssl: (private PKCS#8 PEM, public PEM).
pub fn key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub"));
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let p = private.to_str().expect("utf-8");
    run(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        p,
    ]);
    run(&[
        "pkey",
        "-in",
        p,
        "-pubout",
        "-out",
        public.to_str().expect("utf-8"),
    ]);
    (private, public)
}

/// Runs README's openssl command on a bundle or volume: whether `public` verifies its
/// `outrider.json.sig` over its `outrider.json`, and what openssl said.
pub fn openssl_verifies(public: &Path, bundle: &Path) -> (bool, String) {
    // README's snippet as written, under plain `sh` (dash on Debian), which has no `<(…)`.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "unzip -p '{b}' outrider.json > outrider.json
unzip -p '{b}' outrider.json.sig | base64 -d > outrider.json.der
openssl dgst -sha256 -verify '{}' -signature outrider.json.der outrider.json",
            public.display(),
            b = bundle.display()
        ))
        .current_dir(dir.path())
        .output()
        .expect("run openssl");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && said.contains("Verified OK"), said)
}

/// The base64 DER ECDSA-SHA256 signature openssl makes over `data` with the PEM private
/// key `key`: what cosign stores.
pub fn openssl_sign(key: &Path, data: &[u8]) -> String {
    use base64::Engine;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("data");
    std::fs::write(&input, data).expect("write data");
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .arg(&input)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl dgst -sign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    base64::engine::general_purpose::STANDARD.encode(out.stdout)
}
