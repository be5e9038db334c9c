//! Where charts come from and where they are read at the far side: dependencies declared
//! only in `Chart.yaml` carried (loops refused), credentials kept to the repository's own
//! origin, a chart already in a registry (`oci://`), and `serve` as a classic chart
//! repository for the charts a bundle carries.

use crate::charts::{fixture, read, s};
use crate::support::web_files::{Setup, WebFiles};
use crate::support::{Outrider, Registry, digest, skopeo_raw, text};
use std::process::Command;

fn curl(url: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sf", url])
        .output()
        .expect("curl");
    assert!(out.status.success(), "curl {url}");
    out.stdout
}

#[test]
fn serve_is_a_classic_chart_repository_for_the_charts_it_carries() {
    use crate::support::serving::Serving;
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("charts.zip");
    let one = format!("chart:{}", s(&fixture("compressedchart-0.1.0.tgz")));
    let three = format!("chart:{}", s(&fixture("compressedchart-0.3.0.tgz")));
    let frob = format!("chart:{}", s(&fixture("frobnitz-1.2.3.tgz")));
    o.ok(&["pack", "-o", s(&bundle), &one, &three, &frob]);
    let server = Serving::start(&o, &[s(&bundle)]);
    let base = format!("http://{}/charts", server.host);
    let index: serde_json::Value =
        serde_saphyr::from_slice(&curl(&format!("{base}/index.yaml"))).expect("index.yaml");
    let versions: Vec<&str> = index["entries"]["compressedchart"]
        .as_array()
        .expect("compressedchart")
        .iter()
        .map(|e| e["version"].as_str().expect("version"))
        .collect();
    assert_eq!(versions.len(), 2, "{index}");
    assert!(versions.contains(&"0.1.0") && versions.contains(&"0.3.0"));
    let frobnitz = &index["entries"]["frobnitz"][0];
    assert_eq!(frobnitz["version"], "1.2.3");
    let package = read("frobnitz-1.2.3.tgz");
    assert_eq!(
        frobnitz["digest"].as_str().expect("digest"),
        digest(&package).trim_start_matches("sha256:")
    );
    let url = frobnitz["urls"][0].as_str().expect("url");
    assert_eq!(
        curl(&format!("{base}/{url}")),
        package,
        "the package, byte for byte"
    );
    let missing = Command::new("curl")
        .args(["-sf", &format!("{base}/nothing-0.0.1.tgz")])
        .status()
        .expect("curl");
    assert!(!missing.success());
}

/// A chart package written here: `Chart.yaml` with `deps` (name, version, repository).
fn package(name: &str, version: &str, deps: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut chart_yaml = format!("apiVersion: v2\nname: {name}\nversion: {version}\n");
    if !deps.is_empty() {
        chart_yaml.push_str("dependencies:\n");
        for (n, v, r) in deps {
            chart_yaml.push_str(&format!(
                "  - name: {n}\n    version: \"{v}\"\n    repository: \"{r}\"\n"
            ));
        }
    }
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let mut h = tar::Header::new_ustar();
    h.set_size(chart_yaml.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, format!("{name}/Chart.yaml"), chart_yaml.as_bytes())
        .expect("tar");
    tar.into_inner().expect("tar").finish().expect("gzip")
}

#[test]
fn dependencies_declared_only_in_chart_yaml_are_carried_and_loops_refused() {
    let mut setup = Setup::default();
    let mut index = String::from("apiVersion: v1\nentries:\n");
    for name in ["base", "loop-a", "loop-b"] {
        index.push_str(&format!(
            "  {name}:\n    - version: {}\n      urls: [{name}.tgz]\n",
            if name == "base" { "1.4.0" } else { "0.1.0" }
        ));
    }
    // The repository's own URL goes into the packages, so it is known before they are made.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let repo = format!("http://127.0.0.1:{port}");
    setup.files.insert("/index.yaml".into(), index.into_bytes());
    setup
        .files
        .insert("/base.tgz".into(), package("base", "1.4.0", &[]));
    setup.files.insert(
        "/loop-a.tgz".into(),
        package("loop-a", "0.1.0", &[("loop-b", "0.1.0", &repo)]),
    );
    setup.files.insert(
        "/loop-b.tgz".into(),
        package("loop-b", "0.1.0", &[("loop-a", "0.1.0", &repo)]),
    );
    let web = WebFiles::start_on(setup, port);
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let dir = work.path().join("app");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: app\nversion: 2.0.0\ndependencies:\n  - name: base\n    version: \"^1\"\n    repository: \"{repo}\"\n  - name: mine\n    version: \"1.0.0\"\n    repository: \"file://../mine\"\n"
        ),
    )
    .expect("write");
    let bundle = work.path().join("deps.zip");
    let out = o.ok(&["pack", "-o", s(&bundle), &format!("chart:{}", s(&dir))]);
    let (_, err) = text(&out);
    assert!(
        err.contains("file://../mine"),
        "the unreachable one is said: {err}"
    );
    let out = o.ok(&["inspect", "--json", s(&bundle)]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let refs: Vec<&str> = v["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["reference"].as_str().expect("r"))
        .collect();
    assert!(refs.contains(&"localhost/charts/app:2.0.0"), "{refs:?}");
    assert!(
        refs.contains(&format!("{}/charts/base:1.4.0", web.host).as_str()),
        "{refs:?}"
    );

    let out = o.run(&[
        "pack",
        "-o",
        s(&work.path().join("loop.zip")),
        &format!("chart:{repo}/loop-a"),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("loop"), "{}", text(&out).1);
}

#[test]
fn credentials_go_to_the_repository_only_never_to_a_package_host() {
    // The package lives on another origin (a CDN), which must not see the repository's
    // credentials.
    let mut cdn = Setup::default();
    cdn.files.insert(
        "/pkg/compressedchart-0.1.0.tgz".into(),
        read("compressedchart-0.1.0.tgz"),
    );
    let cdn = WebFiles::start(cdn);
    let mut setup = Setup {
        basic: Some(("user".into(), "secret".into())),
        ..Setup::default()
    };
    setup.files.insert(
        "/index.yaml".into(),
        format!(
            "apiVersion: v1\nentries:\n  compressedchart:\n    - version: 0.1.0\n      urls: [http://{}/pkg/compressedchart-0.1.0.tgz]\n",
            cdn.host
        )
        .into_bytes(),
    );
    let repo = WebFiles::start(setup);
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    o.ok(&[
        "pack",
        "-o",
        s(&work.path().join("b.zip")),
        &format!("chart:http://{}/compressedchart:0.1.0", repo.host),
        // The one host named: the credentials are its by default, as for a registry.
        "--username",
        "user",
        "--password",
        "secret",
    ]);
    assert!(repo.requests().iter().all(|r| r.ends_with("auth=yes")));
    let seen = cdn.requests();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|r| r.ends_with("auth=no")), "{seen:?}");
}

#[test]
fn an_oci_chart_is_read_at_its_registry_and_searched_for_images() {
    let src = Registry::plain();
    let dst = Registry::plain();
    let chart = crate::support::artifacts::helm_chart("tool", "0.4.1");
    chart.push(&src.host, "charts/tool", "0.4.1");
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let reference = format!("oci://{}/charts/tool:0.4.1", src.host);
    // Its package names no image: an empty list, not an error.
    let out = o.ok(&["images", "--json", &reference]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["images"], serde_json::json!([]));
    let bundle = work.path().join("oci.zip");
    o.ok(&["pack", "-o", s(&bundle), &reference, "--with-images"]);
    o.ok(&["unpack", s(&bundle), "--push", &dst.host]);
    assert_eq!(
        skopeo_raw(&dst.host, "charts/tool", "0.4.1", &[]).expect("pushed"),
        chart.manifest.bytes,
        "an OCI chart keeps its manifest"
    );
    // Not a chart: `images` says what it takes.
    let out = o.run(&["images", "nginx:1.27"]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("is not a chart"));
}
