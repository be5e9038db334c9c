//! One JSON contract (json-output.md): every command's `--json` is one object with
//! `"schemaVersion": 1` and `"command"`, keys in camelCase, platforms as `os/arch`
//! strings. Also the dry runs: `unpack --push --dry-run` writes nothing (HEADs, and one
//! upload session per repository, cancelled), and `deploy --dry-run` reads no blob.

use crate::support::images::{self, Flavour};
use crate::support::{Outrider, Registry, skopeo_raw, text};
use serde_json::Value;

/// Parses stdout as one JSON object and checks the envelope and the key style.
fn document(out: &std::process::Output, command: &str) -> Value {
    let (stdout, err) = text(out);
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("{command}: stdout is not one JSON document ({e}):\n{stdout}\n{err}")
    });
    assert_eq!(v["schemaVersion"], 1, "{command}: {v}");
    assert_eq!(v["command"], command, "{v}");
    camel_case_keys(&v, command);
    v
}

fn camel_case_keys(v: &Value, path: &str) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                assert!(
                    k.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && k.chars().all(|c| c.is_ascii_alphanumeric()),
                    "key `{k}` at {path} is not camelCase"
                );
                camel_case_keys(child, &format!("{path}.{k}"));
            }
        }
        Value::Array(items) => items.iter().for_each(|i| camel_case_keys(i, path)),
        _ => {}
    }
}

#[test]
fn every_json_output_is_versioned_and_camel_case() {
    let source = Registry::plain();
    let img = images::image(
        vec![images::layer(71, 30_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(&source.host, "team/json", "1", &img);
    let image = format!("{}/team/json:1", source.host);
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("j.zip");
    let b = bundle.to_str().expect("utf8");
    let o = Outrider::new();

    let v = document(&o.ok(&["version", "--json"]), "version");
    assert!(v["bundleFormat"]["reads"].is_array(), "{v}");

    let v = document(&o.ok(&["plan", "--json", &image]), "plan");
    // plan reads no config blob, so a single-platform image's platform is not known here.
    assert!(v["images"][0]["platforms"].is_array(), "{v}");
    assert!(v["carryBytes"].as_u64().unwrap_or(0) > 30_000, "{v}");

    let v = document(&o.ok(&["pack", "--json", "-o", b, &image]), "pack");
    assert_eq!(
        v["images"][0]["digest"],
        img.manifest.digest.as_str(),
        "{v}"
    );
    assert_eq!(v["images"][0]["platforms"][0], "linux/amd64", "{v}");
    assert_eq!(v["bundle"][0], b, "{v}");

    let v = document(&o.ok(&["inspect", "--json", b]), "inspect");
    assert_eq!(v["images"][0]["platforms"][0], "linux/amd64", "{v}");
    let v = document(&o.ok(&["verify", "--json", b]), "verify");
    assert_eq!(v["faults"].as_array().map(Vec::len), Some(0), "{v}");

    // The push dry run: HEADs only, so nothing appears at the destination.
    let dest = Registry::plain();
    let v = document(
        &o.ok(&["unpack", b, "--push", &dest.host, "--dry-run", "--json"]),
        "unpack",
    );
    assert_eq!(v["dryRun"], true, "{v}");
    let first = &v["images"][0];
    assert_eq!(first["blobsPresent"], 0, "{v}");
    assert!(first["tagNow"].is_null(), "{v}");
    assert_eq!(first["tagAfter"], img.manifest.digest.as_str(), "{v}");
    assert!(first["bytesToSend"].as_u64().unwrap_or(0) > 30_000, "{v}");
    assert!(
        skopeo_raw(&dest.host, "team/json", "1", &[]).is_none(),
        "a dry run wrote the tag"
    );

    let v = document(
        &o.ok(&["unpack", b, "--push", &dest.host, "--json"]),
        "unpack",
    );
    assert_eq!(v["images"][0]["status"], "ok", "{v}");
    let again = o.ok(&["unpack", b, "--push", &dest.host, "--dry-run"]);
    let (table, _) = text(&again);
    assert!(
        table.contains("unchanged") && table.contains("2/2"),
        "{table}"
    );

    // deploy --dry-run reads manifests only: with the layer gone from the registry's
    // storage, a download would fail; the dry run does not notice.
    let hex = img.layers[0].digest.trim_start_matches("sha256:");
    let data = source.dir.path().join(format!(
        "data/docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ));
    std::fs::remove_file(&data).expect("layer in the registry's storage");
    let config = work.path().join("deploy.yaml");
    std::fs::write(work.path().join("no-key"), "not used by a dry run\n").expect("write");
    std::fs::write(
        &config,
        format!(
            "images:\n  - {image}\nruntime:\n  type: docker\ntransport:\n  type: ssh\n  options:\n    key_file: {}\ntargets:\n  - host: 192.0.2.10\n",
            work.path().join("no-key").display()
        ),
    )
    .expect("write");
    let cfg = config.to_str().expect("utf8");
    let v = document(
        &o.ok(&[
            "deploy",
            "-c",
            cfg,
            "--dry-run",
            "--json",
            // 192.0.2.10 is never reached: the plan alone is the contract here.
            "--no-target-checks",
            "--plain-http",
            &source.host,
        ]),
        "deploy",
    );
    assert_eq!(v["dryRun"], true, "{v}");
    assert_eq!(v["images"][0], image.as_str(), "{v}");
    let plan = v["plan"].to_string();
    assert!(plan.contains("192.0.2.10"), "{v}");
    // The layer really is gone: reading it fails.
    let gone = work.path().join("gone.zip");
    let real = o.run(&["pack", "-o", gone.to_str().expect("utf8"), &image]);
    let (_, err) = text(&real);
    assert_eq!(
        real.status.code(),
        Some(1),
        "the layer is gone, yet it packed: {err}"
    );
    assert!(err.contains(&img.layers[0].digest), "{err}");
}
