//! Helm charts carried as OCI artifacts (more in `chart_origins`): published chart
//! packages from Helm's own test data (fixtures/charts, Apache-2.0) served as a classic
//! chart repository behind basic auth, a version range resolved to one version, the
//! chart pulled back from the far side's registry byte for byte with Helm's media types;
//! the images a chart names found (values, subcharts, `--set`) and packed with it; images
//! found in a real upstream install manifest (fixtures/manifests).

use crate::support::images::{self, Flavour};
use crate::support::web_files::{Setup, WebFiles};
use crate::support::{Outrider, Registry, digest, skopeo_raw, text};
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/charts")
        .join(name)
}

pub(crate) fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture")
}

/// A classic repository of the fixtures: three versions of `compressedchart` (digests
/// given), the chart with dependencies (no digest), behind `user`/`secret`.
fn repository() -> WebFiles {
    let hex = |n: &str| digest(&read(n)).trim_start_matches("sha256:").to_owned();
    let index = format!(
        "apiVersion: v1\nentries:\n  compressedchart:\n{}  chart-with-compressed-dependencies:\n    - version: 2.1.8\n      urls: [packages/chart-with-compressed-dependencies-2.1.8.tgz]\n",
        ["0.1.0", "0.2.0", "0.3.0"]
            .iter()
            .map(|v| {
                let f = format!("compressedchart-{v}.tgz");
                format!(
                    "    - version: {v}\n      digest: {}\n      urls: [packages/{f}]\n",
                    hex(&f)
                )
            })
            .collect::<String>()
    );
    let mut setup = Setup {
        basic: Some(("user".into(), "secret".into())),
        ..Setup::default()
    };
    setup
        .files
        .insert("/repo/index.yaml".into(), index.into_bytes());
    for f in [
        "compressedchart-0.1.0.tgz",
        "compressedchart-0.2.0.tgz",
        "compressedchart-0.3.0.tgz",
        "chart-with-compressed-dependencies-2.1.8.tgz",
    ] {
        setup.files.insert(format!("/repo/packages/{f}"), read(f));
    }
    WebFiles::start(setup)
}

/// A blob from a registry, read with curl (a client that is not outrider).
pub(crate) fn pull_blob(host: &str, repo: &str, digest: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sf", &format!("http://{host}/v2/{repo}/blobs/{digest}")])
        .output()
        .expect("curl");
    assert!(out.status.success(), "curl {repo}@{digest}");
    out.stdout
}

#[test]
fn a_classic_repository_chart_arrives_byte_exact_with_helms_media_types() {
    let web = repository();
    let dst = Registry::plain();
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("charts.zip");
    let chart = format!("chart:http://{}/repo/compressedchart:~0.2", web.host);

    // No credentials: the repository's refusal is named, with the fix.
    let out = o.run(&["pack", "-o", s(&bundle), &chart]);
    let (_, err) = text(&out);
    assert!(!out.status.success());
    assert!(err.contains("401") && err.contains("--auth-for"), "{err}");

    let auth = [
        "--username",
        "user",
        "--password",
        "secret",
        "--auth-for",
        web.host.as_str(),
    ];
    let mut args = vec!["pack", "-o", s(&bundle), &chart];
    args.extend(auth);
    let out = o.ok(&args);
    let (_, err) = text(&out);
    assert!(
        err.contains("~0.2") && err.contains("0.2.0"),
        "the chosen version is said: {err}"
    );
    assert!(
        web.requests().iter().any(|r| r
            .starts_with("GET /repo/packages/compressedchart-0.2.0.tgz")
            && r.ends_with("auth=yes")),
        "{:?}",
        web.requests()
    );

    o.ok(&["unpack", s(&bundle), "--push", &dst.host]);
    let raw = skopeo_raw(&dst.host, "charts/compressedchart", "0.2.0", &[])
        .expect("the chart is at charts/compressedchart:0.2.0");
    let m: serde_json::Value = serde_json::from_slice(&raw).expect("json");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.cncf.helm.config.v1+json"
    );
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    );
    assert_eq!(
        m["annotations"]["dev.outrider.chart.repository"],
        format!("http://{}/repo", web.host)
    );
    assert_eq!(
        m["annotations"]["dev.outrider.chart.reference"],
        "compressedchart:0.2.0"
    );
    let layer = m["layers"][0]["digest"].as_str().expect("digest");
    assert_eq!(
        pull_blob(&dst.host, "charts/compressedchart", layer),
        read("compressedchart-0.2.0.tgz"),
        "the package arrives byte for byte"
    );
    let config = pull_blob(
        &dst.host,
        "charts/compressedchart",
        m["config"]["digest"].as_str().expect("digest"),
    );
    let config: serde_json::Value = serde_json::from_slice(&config).expect("config json");
    assert_eq!(config["name"], "compressedchart");
    assert_eq!(config["version"], "0.2.0");

    // The same package packs to the same manifest (no creation time), and a range no
    // version satisfies is refused with the versions there are.
    let again = work.path().join("again.zip");
    let mut args = vec!["pack", "-o", s(&again), &chart];
    args.extend(auth);
    o.ok(&args);
    let digests = |b: &Path| {
        let out = o.ok(&["inspect", "--json", s(b)]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        v["images"][0]["digest"].clone()
    };
    assert_eq!(digests(&bundle), digests(&again));
    // Credentials written into the URL are used, and never recorded in the bundle nor
    // printed: the bundle crosses the air gap, and its index is read by anyone there.
    let with_password = format!(
        "chart:http://user:secret@{}/repo/compressedchart:~0.2",
        web.host
    );
    let inline = work.path().join("inline.zip");
    let out = o.ok(&["pack", "-o", s(&inline), &with_password]);
    let (stdout, err) = text(&out);
    assert!(
        !err.contains("secret") && !stdout.contains("secret"),
        "{err}"
    );
    let index = std::process::Command::new("unzip")
        .args(["-p", s(&inline), "outrider.json"])
        .output()
        .expect("unzip");
    let index = String::from_utf8_lossy(&index.stdout);
    assert!(index.contains("compressedchart"), "{index}");
    assert!(
        !index.contains("secret"),
        "the password is in the index: {index}"
    );
    let none = format!("chart:http://{}/repo/compressedchart:^7", web.host);
    let mut args = vec!["pack", "-o", s(&again), &none];
    args.extend(auth);
    let (_, err) = text(&o.run(&args));
    assert!(err.contains("^7") && err.contains("0.3.0"), "{err}");
}

#[test]
fn a_tampered_package_is_refused_against_the_index_digest() {
    let mut setup = Setup::default();
    setup.files.insert(
        "/index.yaml".into(),
        format!(
            "apiVersion: v1\nentries:\n  compressedchart:\n    - version: 0.1.0\n      digest: {}\n      urls: [compressedchart-0.1.0.tgz]\n",
            digest(&read("compressedchart-0.1.0.tgz")).trim_start_matches("sha256:")
        )
        .into_bytes(),
    );
    setup.files.insert(
        "/compressedchart-0.1.0.tgz".into(),
        read("compressedchart-0.3.0.tgz"),
    );
    let web = WebFiles::start(setup);
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let out = o.run(&[
        "pack",
        "-o",
        s(&work.path().join("b.zip")),
        &format!("chart:http://{}/compressedchart", web.host),
    ]);
    let (_, err) = text(&out);
    assert!(!out.status.success());
    assert!(err.contains("index.yaml"), "{err}");
}

#[test]
fn images_a_chart_names_are_listed_then_packed_with_it() {
    let src = Registry::plain();
    let dst = Registry::plain();
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let package = fixture("chart-with-compressed-dependencies-2.1.8.tgz");
    let chart = format!("chart:{}", s(&package));

    // As published: the chart's image and its packaged subchart's, with where.
    let out = o.ok(&["images", "--json", &chart]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let found: Vec<(String, String)> = v["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| {
            (
                i["reference"].as_str().expect("r").to_owned(),
                i["foundAt"].as_str().expect("at").to_owned(),
            )
        })
        .collect();
    let refs: Vec<&str> = found.iter().map(|(r, _)| r.as_str()).collect();
    assert!(
        refs.contains(&"docker.io/bitnami/wordpress:4.9.8-debian-9"),
        "{found:?}"
    );
    assert!(
        refs.contains(&"docker.io/bitnami/mariadb:10.1.34-debian-9"),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(r, at)| r.contains("mariadb") && at.contains("charts/mariadb")),
        "{found:?}"
    );

    // Pointed at a local registry with --set, as an operator mirrors them.
    for (seed, repo, tag) in [
        (71, "bitnami/wordpress", "4.9.8-debian-9"),
        (73, "bitnami/mariadb", "10.1.34-debian-9"),
        (75, "prom/mysqld-exporter", "v0.10.0"),
    ] {
        let image = images::image(
            vec![images::layer(seed, 20_000, Flavour::Oci)],
            "amd64",
            Flavour::Oci,
            false,
        );
        images::push_image(&src.host, repo, tag, &image);
    }
    let set_wp = format!("image.registry={}", src.host);
    let set_db = format!("mariadb.image.registry={}", src.host);
    let set_metrics = format!("mariadb.metrics.image.registry={}", src.host);
    let bundle = work.path().join("with-images.zip");
    o.ok(&[
        "pack",
        "-o",
        s(&bundle),
        "--platform",
        "linux/amd64",
        &chart,
        "--with-images",
        "--set",
        &set_wp,
        "--set",
        &set_db,
        "--set",
        &set_metrics,
    ]);
    let out = o.ok(&["inspect", "--json", s(&bundle)]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let carried: Vec<String> = v["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["reference"].as_str().expect("r").to_owned())
        .collect();
    assert_eq!(carried.len(), 4, "{carried:?}");
    assert!(
        carried
            .iter()
            .any(|r| r.contains("charts/chart-with-compressed-dependencies:2.1.8"))
    );
    assert!(
        carried
            .iter()
            .any(|r| r.ends_with("bitnami/wordpress:4.9.8-debian-9"))
    );
    o.ok(&["unpack", s(&bundle), "--push", &dst.host]);
    let raw = skopeo_raw(
        &dst.host,
        "charts/chart-with-compressed-dependencies",
        "2.1.8",
        &[],
    )
    .expect("chart pushed");
    let m: serde_json::Value = serde_json::from_slice(&raw).expect("json");
    let layer = m["layers"][0]["digest"].as_str().expect("digest");
    assert_eq!(
        pull_blob(
            &dst.host,
            "charts/chart-with-compressed-dependencies",
            layer
        ),
        read("chart-with-compressed-dependencies-2.1.8.tgz")
    );
    assert!(skopeo_raw(&dst.host, "bitnami/mariadb", "10.1.34-debian-9", &[]).is_some());
}

#[test]
fn images_in_an_upstream_install_manifest_are_found_from_a_file_and_stdin() {
    let o = Outrider::new();
    let manifest =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/manifests/local-path-storage.yaml");
    let out = o.ok(&["images", "--images-from-manifests", s(&manifest)]);
    let (table, _) = text(&out);
    assert!(
        table.contains("rancher/local-path-provisioner:v0.0.19"),
        "{table}"
    );
    assert!(
        table.contains("Deployment/local-path-provisioner"),
        "{table}"
    );
    // The helper pod is text inside a ConfigMap, not a workload.
    assert!(!table.contains("busybox"), "{table}");

    let mut child = o
        .cmd()
        .args(["images", "--json", "--images-from-manifests", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("stdin"),
        &std::fs::read(&manifest).expect("read"),
    )
    .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["images"].as_array().expect("images").len(), 1, "{v}");
}

#[test]
fn a_chart_folder_packs_the_same_bytes_twice() {
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let dir = work.path().join("demo");
    std::fs::create_dir_all(dir.join("templates")).expect("dir");
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("values.yaml"),
        "image:\n  repository: nginx\n  tag: \"1.27\"\n",
    )
    .expect("write");
    std::fs::write(dir.join("templates/d.yaml"), "kind: Deployment\n").expect("write");
    let chart = format!("chart:{}", s(&dir));
    let digests: Vec<serde_json::Value> = ["a.zip", "b.zip"]
        .iter()
        .map(|b| {
            let bundle = work.path().join(b);
            o.ok(&["pack", "-o", s(&bundle), &chart]);
            let out = o.ok(&["inspect", "--json", s(&bundle)]);
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            assert_eq!(
                v["images"][0]["reference"], "localhost/charts/demo:0.1.0",
                "{v}"
            );
            v["images"][0]["digest"].clone()
        })
        .collect();
    assert_eq!(digests[0], digests[1]);
    // So a later pack against the first bundle carries nothing of it.
    let out = o.ok(&[
        "plan",
        "--json",
        &chart,
        "--since",
        s(&work.path().join("a.zip")),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["carryBytes"], 0, "{v}");
    let out = o.ok(&["images", &chart]);
    assert!(text(&out).0.contains("nginx:1.27"));
}

#[test]
fn a_config_lists_charts_and_files_and_validate_checks_them() {
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    std::fs::copy(
        fixture("compressedchart-0.1.0.tgz"),
        work.path().join("compressedchart-0.1.0.tgz"),
    )
    .expect("copy");
    std::fs::write(work.path().join("readme.txt"), b"hello\n").expect("write");
    let config = work.path().join("site.yaml");
    std::fs::write(
        &config,
        "charts:\n  - compressedchart-0.1.0.tgz\nfiles:\n  - readme.txt as files/readme:1\n",
    )
    .expect("write");
    o.ok(&["validate", "-c", s(&config)]);
    let bundle = work.path().join("b.zip");
    o.ok(&["pack", "-c", s(&config), "-o", s(&bundle)]);
    let out = o.ok(&["inspect", "--json", s(&bundle)]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let refs: Vec<&str> = v["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["reference"].as_str().expect("r"))
        .collect();
    assert!(
        refs.contains(&"localhost/charts/compressedchart:0.1.0"),
        "{refs:?}"
    );
    assert!(
        refs.iter().any(|r| r.ends_with("files/readme:1")),
        "{refs:?}"
    );

    let bad = work.path().join("bad.yaml");
    std::fs::write(&bad, "charts: oops\nfiles:\n  - 3\n").expect("write");
    let out = o.run(&["validate", "-c", s(&bad)]);
    assert!(!out.status.success());
    let (problems, _) = text(&out);
    assert!(
        problems.contains("charts: expected a list") && problems.contains("files[0]"),
        "{problems}"
    );
}
