//! The binary describes itself: `version` (text and JSON), completions and man pages from
//! the same CLI definitions, help with examples and the global options apart.

use crate::support::{Outrider, text};

#[test]
fn version_completions_man_pages_and_help() {
    let o = Outrider::new();
    let (line, _) = text(&o.ok(&["--version"]));
    assert_eq!(
        line.trim(),
        format!("outrider {}", env!("CARGO_PKG_VERSION"))
    );

    let (out, _) = text(&o.ok(&["version", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["schemaVersion"], 1);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let commit = v["commit"].as_str().expect("commit");
    assert!(
        commit == "unknown"
            || (commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );
    assert!(
        v["target"].as_str().expect("target").contains("linux"),
        "{v}"
    );
    let date = v["buildDate"].as_str().expect("date");
    assert!(date.len() == 10 && date.as_bytes()[4] == b'-', "{date}");
    assert_eq!(v["bundleFormat"]["writes"], 3);
    assert!(
        v["bundleFormat"]["reads"]
            .as_array()
            .expect("reads")
            .contains(&1.into()),
        "version-1 bundles are still read"
    );
    let (plain, _) = text(&o.ok(&["version"]));
    assert!(
        plain.contains("bundle format:  reads 1, 2, writes 2 (1 when a bundle holds no referrers)"),
        "{plain}"
    );

    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef outrider"),
        ("fish", "complete -c outrider"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let (script, _) = text(&o.ok(&["completions", shell]));
        assert!(
            script.contains(marker) && script.contains("unpack"),
            "{shell}"
        );
    }

    let dir = tempfile::tempdir().expect("tmp");
    o.ok(&["man", "--dir", dir.path().to_str().expect("utf8")]);
    for page in [
        "outrider",
        "outrider-pack",
        "outrider-unpack",
        "outrider-verify",
        "outrider-version",
    ] {
        let roff = std::fs::read_to_string(dir.path().join(format!("{page}.1"))).expect(page);
        assert!(
            roff.starts_with(".ie") || roff.contains(".TH"),
            "{page}: {roff}"
        );
    }

    for command in ["pack", "unpack", "plan", "deploy"] {
        let (help, _) = text(&o.ok(&[command, "--help"]));
        assert!(
            help.contains("Examples:") && help.contains(&format!("outrider {command}")),
            "{command}: {help}"
        );
        let global = help.find("Global options:").expect("global heading");
        assert!(
            help[global..].contains("--verbose") && help[global..].contains("--quiet"),
            "{help}"
        );
    }
}
