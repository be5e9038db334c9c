//! Landing right in any destination (issue 32): names mapped (`--map`) and flattened
//! (`--max-depth`) on push, a mapping that lands two images on one name refused before
//! any byte moves, the receipt's source → destination pairs, a second push that sends
//! nothing and calls every tag identical; a Harbor-like registry that wants its project
//! first (`--create-repositories`) and keeps its tags immutable (`--existing-tags`).

use crate::support::harbor::Harbor;
use crate::support::images::{self, Flavour, Image};
use crate::support::proxy::{self, Pass};
use crate::support::{Outrider, Registry, digest, skopeo_raw, text};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub fn small_image(seed: u64) -> Image {
    images::image(
        vec![images::layer(seed, 30_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    )
}

pub fn s(p: &Path) -> String {
    p.to_str().expect("utf8").to_owned()
}

/// A proxy in front of `upstream` recording every request line.
pub fn recording(upstream: &str) -> (String, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let log = lines.clone();
    let host = proxy::start(upstream.to_owned(), move |line| {
        log.lock().expect("lock").push(line.to_owned());
        Pass::Whole
    });
    (host, lines)
}

/// `unpack --json` output's images.
fn images_of(out: &std::process::Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "json ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    v["images"].as_array().cloned().unwrap_or_default()
}

#[test]
fn mapped_and_flattened_names_land_twice_and_the_second_time_nothing_is_sent() {
    let src = Registry::plain();
    let dest = Registry::plain();
    let hello = small_image(3201);
    let app = small_image(3202);
    images::push_image(&src.host, "library/hello", "1", &hello);
    images::push_image(&src.host, "team/a/b/app", "1", &app);
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let path = |n: &str| work.path().join(n);
    let bundle = path("b.zip");
    o.ok(&[
        "pack",
        "-o",
        &s(&bundle),
        &format!("{}/library/hello:1", src.host),
        &format!("{}/team/a/b/app:1", src.host),
    ]);
    let library = format!("{}/library=lib", src.host);

    // A mapping that lands both on one name is refused before any byte moves. (Plain
    // HTTP said: a loopback registry's HTTPS probe would wait on the proxy.)
    let (via, lines) = recording(&dest.host);
    let via = format!("http://{via}");
    let out = o.run(&[
        "unpack",
        &s(&bundle),
        "--push",
        &via,
        "--map",
        &format!("{}/library/hello=same", src.host),
        "--map",
        &format!("{}/team/a/b/app=same", src.host),
    ]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("same:1") && err.contains("library/hello") && err.contains("team/a/b/app"),
        "{err}"
    );
    assert!(lines.lock().expect("lock").is_empty(), "bytes moved");
    // Not `SRC=DST`: a usage error naming the option's shape.
    let out = o.run(&["unpack", &s(&bundle), "--push", &via, "--map", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));

    // Mapped under the prefix, then flattened to two components.
    let receipt = path("receipt.json");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "unpack",
            &s(&bundle),
            "--push",
            &via,
            "--prefix",
            "site",
            "--map",
            &library,
            "--max-depth",
            "2",
            "--receipt",
            &s(&receipt),
            "--json",
        ]
        .iter()
        .map(|x| (*x).to_owned())
        .collect();
        a.extend(extra.iter().map(|x| (*x).to_owned()));
        a
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        o.ok(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let first = images_of(&run(&[]));
    assert!(first.iter().all(|i| i["tag"] == "new"), "{first:?}");
    let at = |repo: &str, tag: &str| skopeo_raw(&dest.host, repo, tag, &[]).map(|m| digest(&m));
    assert_eq!(
        at("site/lib-hello", "1"),
        Some(hello.manifest.digest.clone())
    );
    assert_eq!(
        at("site/team-a-b-app", "1"),
        Some(app.manifest.digest.clone())
    );
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&receipt).expect("receipt")).expect("json");
    assert_eq!(
        r["repositories"]["site/lib-hello"]["sources"][0],
        format!("{}/library/hello", src.host)
    );
    assert_eq!(
        r["repositories"]["site/team-a-b-app"]["sources"][0],
        format!("{}/team/a/b/app", src.host)
    );

    // k3s after the same push: one anchored rewrite per repository moved by itself.
    let k3s = path("registries.yaml");
    // A `ctr` that takes the import and does nothing with it.
    let ctr = path("ctr.sh");
    std::fs::write(&ctr, "#!/bin/sh\ncat >/dev/null\n").expect("ctr");
    let mut mode = std::fs::metadata(&ctr).expect("ctr").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o755);
    std::fs::set_permissions(&ctr, mode).expect("chmod");
    o.ok(&[
        "unpack",
        &s(&bundle),
        "--push",
        &dest.host,
        "--prefix",
        "site",
        "--map",
        &library,
        "--max-depth",
        "2",
        "--k3s",
        "--k3s-images-dir",
        &s(&path("k3s-images")),
        "--k3s-registries",
        &s(&k3s),
        "--k3s-ctr",
        &s(&ctr),
    ]);
    let yaml = std::fs::read_to_string(&k3s).expect("registries.yaml");
    assert!(
        yaml.contains("^library/hello$")
            && yaml.contains("site/lib-hello")
            && yaml.contains("^team/a/b/app$")
            && yaml.contains("site/team-a-b-app"),
        "{yaml}"
    );

    // The same bundle again: every tag identical, and no write of any kind.
    lines.lock().expect("lock").clear();
    let second = images_of(&run(&[]));
    assert_eq!(second.len(), 2);
    assert!(
        second
            .iter()
            .all(|i| i["tag"] == "identical" && i["status"] == "ok"),
        "{second:?}"
    );
    let writes: Vec<String> = lines
        .lock()
        .expect("lock")
        .iter()
        .filter(|l| {
            ["PUT", "POST", "PATCH", "DELETE"]
                .iter()
                .any(|m| l.starts_with(m))
        })
        .cloned()
        .collect();
    assert!(writes.is_empty(), "the second push wrote: {writes:?}");
}

#[test]
fn a_harbor_wants_its_project_first_and_keeps_immutable_tags() {
    let src = Registry::plain();
    let upstream = Registry::plain();
    let v1 = small_image(3211);
    images::push_image(&src.host, "app", "1", &v1);
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let path = |n: &str| work.path().join(n);
    let one = path("one.zip");
    o.ok(&["pack", "-o", &s(&one), &format!("{}/app:1", src.host)]);

    // No project `site`: the push fails naming it and the fix.
    let harbor = Harbor::start(&upstream.host, &[], true);
    let push = |bundle: &PathBuf, extra: &[&str]| {
        let mut a = vec![
            "unpack".to_owned(),
            s(bundle),
            "--push".into(),
            format!("http://{}", harbor.host),
            "--prefix".into(),
            "site".into(),
            "--json".into(),
        ];
        a.extend(extra.iter().map(|x| (*x).to_owned()));
        o.run(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = push(&one, &[]);
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{err}");
    let status = images_of(&out)[0]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        status.contains("Harbor project `site`") && status.contains("--create-repositories"),
        "{status}"
    );
    assert!(harbor.seen("POST", "/api/v2.0/projects").is_empty());

    // With --create-repositories the project is made through Harbor's API, then pushed.
    let out = push(&one, &["--create-repositories"]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(harbor.seen("GET", "/api/v2.0/ping").len(), 1);
    assert_eq!(harbor.seen("POST", "/api/v2.0/projects").len(), 1);
    assert!(harbor.projects.lock().expect("lock").contains("site"));
    assert!(err.contains("Harbor project `site`"), "{err}");

    // Twice: exit 0, the tag identical, nothing written (the project found, not made).
    let writes = || {
        ["PUT", "POST", "PATCH", "DELETE"]
            .iter()
            .map(|m| harbor.seen(m, "/").len())
            .sum::<usize>()
    };
    let before = writes();
    let out = push(&one, &["--create-repositories"]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(images_of(&out)[0]["tag"], "identical");
    assert_eq!(
        writes(),
        before,
        "{:?}",
        harbor.requests.lock().expect("lock")
    );

    // The tag moved at the source: the immutable tag is refused in one line, not retried.
    let v2 = small_image(3212);
    images::push_image(&src.host, "app", "1", &v2);
    let two = path("two.zip");
    o.ok(&["pack", "-o", &s(&two), &format!("{}/app:1", src.host)]);
    let before = harbor.seen("PUT", "/v2/site/app/manifests/1").len();
    let out = push(&two, &[]);
    assert_eq!(out.status.code(), Some(1));
    let image = &images_of(&out)[0];
    let status = image["status"].as_str().unwrap_or_default();
    assert!(
        status.contains("immutable") && status.contains("--existing-tags keep"),
        "{status}"
    );
    assert!(!status.contains('\n'), "{status}");
    assert_eq!(
        harbor.seen("PUT", "/v2/site/app/manifests/1").len(),
        before + 1,
        "the refused PUT was retried"
    );
    // `--existing-tags fail` refuses before writing the tag; `keep` leaves it, exit 0.
    let out = push(&two, &["--existing-tags", "fail"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        harbor.seen("PUT", "/v2/site/app/manifests/1").len(),
        before + 1
    );
    let out = push(&two, &["--existing-tags", "keep"]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(images_of(&out)[0]["tag"], "kept");
    assert_eq!(
        skopeo_raw(&upstream.host, "site/app", "1", &[]).map(|m| digest(&m)),
        Some(v1.manifest.digest.clone())
    );
}
