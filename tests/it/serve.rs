//! `outrider serve`: bundles as a read-only registry, checked with real clients only:
//! skopeo copies every image out with its digests, podman, ctr (directly and through a
//! `hosts.toml` mirror that resolves `docker.io` names by `?ns=`) and docker pull, curl
//! reads ranges, tag and catalog pages and referrers, and every write is refused. A set
//! with a volume missing serves the images it can; a damaged blob is never served whole.

use crate::support::daemons::{Containerd, Dockerd, Podman, can_run_daemons};
use crate::support::images::{self, Blob, Flavour, Image};
use crate::support::serving::Serving;
use crate::support::{Outrider, Registry, skopeo_raw};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `curl -s` with `args`: (status code, headers, body).
fn curl(args: &[&str]) -> (u16, String, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tmp");
    let headers = dir.path().join("h");
    let out = Command::new("curl")
        .args(["-s", "-D"])
        .arg(&headers)
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let mut body = out.stdout;
    let at = body.iter().rposition(|b| *b == b'\n').expect("status line");
    let code = String::from_utf8_lossy(&body[at + 1..])
        .trim()
        .parse()
        .unwrap_or(0);
    body.truncate(at);
    let headers = std::fs::read_to_string(headers).unwrap_or_default();
    (code, headers.to_ascii_lowercase(), body)
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("json body")
}

/// An SBOM-like artifact whose `subject` is `image`, made as oras makes one.
fn sbom_for(host: &str, repo: &str, image: &Image) -> Blob {
    let empty = Blob::new(b"{}".to_vec(), "application/vnd.oci.empty.v1+json");
    let sbom = Blob::new(
        br#"{"spdxVersion":"SPDX-2.3","name":"serve-test"}"#.to_vec(),
        "application/spdx+json",
    );
    images::push_blob(host, repo, &empty);
    images::push_blob(host, repo, &sbom);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/spdx+json",
        "config": empty.descriptor(),
        "layers": [sbom.descriptor()],
        "subject": image.manifest.descriptor(),
        "annotations": { "org.opencontainers.image.created": "2026-11-24T00:00:00Z" }
    });
    let blob = Blob::new(
        serde_json::to_vec(&manifest).expect("json"),
        "application/vnd.oci.image.manifest.v1+json",
    );
    images::push_manifest(host, repo, &blob.digest, &blob);
    blob
}

fn skopeo_copy(from: &str, to: &str, all: bool) -> Output {
    let mut c = Command::new("skopeo");
    c.args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"]);
    if all {
        c.arg("--all");
    }
    c.args([from, to]).output().expect("skopeo")
}

#[test]
fn real_clients_pull_every_image_from_a_served_bundle() {
    let source = Registry::plain();
    let app = images::image(
        vec![
            images::layer(401, 300_000, Flavour::Oci),
            images::layer(402, 50_000, Flavour::Oci),
        ],
        "amd64",
        Flavour::Oci,
        true,
    );
    images::push_image(&source.host, "team/app", "1.0", &app);
    let legacy = images::image(
        vec![images::layer(403, 40_000, Flavour::Docker)],
        "amd64",
        Flavour::Docker,
        false,
    );
    images::push_image(&source.host, "library/hello", "1.0", &legacy);
    let (_, multi) = images::push_multi_platform(
        &source.host,
        "team/multi",
        "2.0",
        &[(404, "linux/amd64"), (405, "linux/arm64")],
    );
    let sbom = sbom_for(&source.host, "team/app", &app);

    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("site.bundle.zip");
    o.ok(&[
        "pack",
        "--all-platforms",
        "-o",
        bundle.to_str().expect("utf8"),
        &format!("{}/team/app:1.0", source.host),
        &format!("{}/team/app@{}", source.host, sbom.digest),
        &format!("{}/team/multi:2.0", source.host),
    ]);
    // The same image read as `docker.io/library/hello` through a mirror, so the bundle
    // records docker.io as its source.
    let hub = work.path().join("hub.bundle.zip");
    o.ok(&[
        "pack",
        "--plain-http",
        &source.host,
        "--mirror",
        &format!("docker.io={}", source.host),
        "-o",
        hub.to_str().expect("utf8"),
        "hello:1.0",
    ]);
    let hosts_dir = work.path().join("hosts.d");
    let k3s = work.path().join("registries.yaml");
    let server = Serving::start(
        &o,
        &[
            bundle.to_str().expect("utf8"),
            hub.to_str().expect("utf8"),
            "--write-containerd-hosts",
            hosts_dir.to_str().expect("utf8"),
            "--write-k3s-registries",
            k3s.to_str().expect("utf8"),
        ],
    );
    let base = format!("http://{}", server.host);

    // skopeo copies every image into a distribution registry with every digest kept.
    let dest = Registry::plain();
    for (repo, reference, all) in [
        ("team/app", "1.0", false),
        ("team/multi", "2.0", true),
        ("library/hello", "1.0", false),
    ] {
        let out = skopeo_copy(
            &format!("docker://{}/{repo}:{reference}", server.host),
            &format!("docker://{}/{repo}:{reference}", dest.host),
            all,
        );
        assert!(
            out.status.success(),
            "skopeo copy {repo}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            server.log()
        );
    }
    assert_eq!(
        skopeo_raw(&dest.host, "team/app", "1.0", &[]).as_deref(),
        Some(&app.manifest.bytes[..])
    );
    assert_eq!(
        skopeo_raw(&dest.host, "team/multi", "2.0", &[]).as_deref(),
        Some(&multi.bytes[..])
    );
    assert_eq!(
        skopeo_raw(&dest.host, "library/hello", "1.0", &[]).as_deref(),
        Some(&legacy.manifest.bytes[..])
    );

    // The API as curl sees it.
    let (code, headers, _) = curl(&[&format!("{base}/v2/")]);
    assert_eq!(code, 200);
    assert!(
        headers.contains("docker-distribution-api-version: registry/2.0"),
        "{headers}"
    );
    let (code, headers, body) = curl(&["-I", &format!("{base}/v2/team/app/manifests/1.0")]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    assert!(headers.contains(&format!("docker-content-digest: {}", app.manifest.digest)));
    assert!(headers.contains("content-type: application/vnd.oci.image.manifest.v1+json"));
    assert!(headers.contains(&format!("content-length: {}", app.manifest.bytes.len())));
    let layer = &app.layers[0];
    let (code, headers, body) = curl(&[
        "-H",
        "Range: bytes=1000-1999",
        &format!("{base}/v2/team/app/blobs/{}", layer.digest),
    ]);
    assert_eq!(code, 206);
    assert!(
        headers.contains(&format!(
            "content-range: bytes 1000-1999/{}",
            layer.bytes.len()
        )),
        "{headers}"
    );
    assert_eq!(body, layer.bytes[1000..2000]);
    let (code, _, body) = curl(&[
        "-H",
        "Range: bytes=-10",
        &format!("{base}/v2/team/app/blobs/{}", layer.digest),
    ]);
    assert_eq!(
        (code, &body[..]),
        (206, &layer.bytes[layer.bytes.len() - 10..])
    );
    let (code, headers, _) = curl(&[
        "-H",
        &format!("Range: bytes={}-", layer.bytes.len()),
        &format!("{base}/v2/team/app/blobs/{}", layer.digest),
    ]);
    assert_eq!(code, 416);
    assert!(headers.contains(&format!("content-range: bytes */{}", layer.bytes.len())));
    // A blob is served only in a repository whose images use it.
    let (code, _, body) = curl(&[&format!("{base}/v2/library/hello/blobs/{}", layer.digest)]);
    assert_eq!(code, 404);
    assert_eq!(json(&body)["errors"][0]["code"], "BLOB_UNKNOWN");
    // Tags and catalog, paged.
    let (code, headers, body) = curl(&[&format!("{base}/v2/_catalog?n=1")]);
    assert_eq!(code, 200);
    assert_eq!(
        json(&body)["repositories"],
        serde_json::json!(["library/hello"])
    );
    assert!(
        headers.contains("link: </v2/_catalog?last=library%2fhello&n=1>; rel=\"next\""),
        "{headers}"
    );
    let (_, _, body) = curl(&[&format!("{base}/v2/_catalog?n=5&last=library/hello")]);
    assert_eq!(
        json(&body)["repositories"],
        serde_json::json!(["team/app", "team/multi"])
    );
    let (_, _, body) = curl(&[&format!("{base}/v2/team/app/tags/list")]);
    assert_eq!(
        json(&body),
        serde_json::json!({"name": "team/app", "tags": ["1.0"]})
    );
    // Referrers: the SBOM is listed under its subject, and filtered by artifactType.
    let referrers = format!("{base}/v2/team/app/referrers/{}", app.manifest.digest);
    let (code, _, body) = curl(&[&referrers]);
    assert_eq!(code, 200);
    let listed = json(&body);
    assert_eq!(listed["manifests"][0]["digest"], sbom.digest.as_str());
    assert_eq!(
        listed["manifests"][0]["artifactType"],
        "application/spdx+json"
    );
    let (code, _, body) = curl(&[&format!("{base}/v2/team/app/manifests/{}", sbom.digest)]);
    assert_eq!(
        (code, &body[..]),
        (200, &sbom.bytes[..]),
        "the artifact by digest"
    );
    let (_, headers, body) = curl(&[&format!("{referrers}?artifactType=application/x-other")]);
    assert_eq!(json(&body)["manifests"], serde_json::json!([]));
    assert!(headers.contains("oci-filters-applied: artifacttype"));
    // Every write is refused.
    for (method, path) in [
        ("PUT", "/v2/team/app/manifests/evil"),
        ("POST", "/v2/team/app/blobs/uploads/"),
        (
            "DELETE",
            &format!("/v2/team/app/manifests/{}", app.manifest.digest) as &str,
        ),
        ("PATCH", "/v2/team/app/blobs/uploads/x"),
    ] {
        let (code, _, body) = curl(&["-X", method, "--data", "x", &format!("{base}{path}")]);
        assert_eq!(code, 405, "{method} {path}");
        assert_eq!(json(&body)["errors"][0]["code"], "UNSUPPORTED");
    }

    // podman pulls by tag and by digest.
    let podman = Podman::new();
    podman.run(&[
        "pull",
        "--tls-verify=false",
        &format!("{}/team/app:1.0", server.host),
    ]);
    podman.run(&[
        "pull",
        "--tls-verify=false",
        &format!("{}/library/hello@{}", server.host, legacy.manifest.digest),
    ]);

    // The written mirror configuration names the source registries.
    let toml = std::fs::read_to_string(hosts_dir.join("docker.io/hosts.toml")).expect("hosts.toml");
    assert!(toml.contains(&format!("[host.\"{base}\"]")), "{toml}");
    assert!(hosts_dir.join(&source.host).join("hosts.toml").exists());
    let yaml = std::fs::read_to_string(&k3s).expect("registries.yaml");
    assert!(yaml.contains("docker.io") && yaml.contains(&base), "{yaml}");

    if can_run_daemons("serving to containerd and docker") {
        let containerd = Containerd::start();
        // Directly, over plain HTTP.
        let direct = format!("{}/team/multi:2.0", server.host);
        containerd.ctr("k8s.io", &["images", "pull", "--plain-http", &direct]);
        assert_eq!(
            containerd.images("k8s.io").get(&direct),
            Some(&multi.digest)
        );
        // By the original docker.io name, through the hosts.toml mirror (`?ns=docker.io`).
        let hub_name = "docker.io/library/hello:1.0";
        containerd.ctr(
            "k8s.io",
            &[
                "images",
                "pull",
                "--hosts-dir",
                hosts_dir.to_str().expect("utf8"),
                hub_name,
            ],
        );
        assert_eq!(
            containerd.images("k8s.io").get(hub_name),
            Some(&legacy.manifest.digest)
        );
        assert!(server.log().contains("ns=docker.io"), "{}", server.log());

        let docker = Dockerd::start_with(&containerd, &["--insecure-registry", &server.host]);
        let name = format!("{}/team/app:1.0", server.host);
        docker.docker(&["pull", &name]);
        let ids = docker.docker(&[
            "image",
            "inspect",
            "--format",
            "{{json .RepoDigests}}",
            &name,
        ]);
        assert!(ids.contains(&app.manifest.digest), "{ids}");
    }

    let (status, log) = server.stop();
    assert!(
        status.success(),
        "serve did not stop cleanly: {status}\n{log}"
    );
    assert!(
        log.contains("status=206") && log.contains("status=405"),
        "{log}"
    );
    assert!(log.contains("stopping"), "{log}");
}

fn index_of(volume: &Path) -> serde_json::Value {
    let mut z = zip::ZipArchive::new(std::fs::File::open(volume).expect("open")).expect("zip");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut z.by_name("outrider.json").expect("index"), &mut text)
        .expect("read");
    serde_json::from_str(&text).expect("json")
}

fn flip_in(bundle: &Path, needle: &[u8]) -> PathBuf {
    let mut bytes = std::fs::read(bundle).expect("read");
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("bytes in bundle")
        + 10;
    bytes[at] ^= 0x01;
    let out = bundle.with_file_name("flipped.zip");
    std::fs::write(&out, &bytes).expect("write");
    out
}

#[test]
fn a_damaged_blob_is_never_served_whole_and_a_missing_volume_hides_only_its_images() {
    let source = Registry::plain();
    let good = images::image(
        vec![images::layer(411, 200_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    let bad = images::image(
        vec![images::layer(412, 200_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    let big = images::image(
        vec![images::layer(413, 3_000_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(&source.host, "x/good", "1", &good);
    images::push_image(&source.host, "x/bad", "1", &bad);
    images::push_image(&source.host, "x/big", "1", &big);
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("b.zip");
    o.ok(&[
        "pack",
        "-o",
        bundle.to_str().expect("utf8"),
        &format!("{}/x/good:1", source.host),
        &format!("{}/x/bad:1", source.host),
        &format!("{}/x/big:1", source.host),
    ]);
    let flipped = flip_in(&bundle, &bad.layers[0].bytes[5000..5064]);
    let server = Serving::start(&o, &[flipped.to_str().expect("utf8")]);
    // Clients that come together: one leads (hashes as it streams), the others follow
    // (their last bytes wait for its verdict). Every one gets the good blob whole, and
    // none the damaged one.
    let at_once = |url: String| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || curl(&[&url]))
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("curl thread"))
            .collect::<Vec<_>>()
    };
    let big_url = format!(
        "http://{}/v2/x/big/blobs/{}",
        server.host, big.layers[0].digest
    );
    for (code, _, body) in at_once(big_url) {
        assert_eq!(code, 200);
        assert!(
            body == big.layers[0].bytes,
            "a good blob came back with {} bytes",
            body.len()
        );
    }
    let blob_url = format!(
        "http://{}/v2/x/bad/blobs/{}",
        server.host, bad.layers[0].digest
    );
    for (_, _, body) in at_once(blob_url.clone()) {
        assert!(
            body.len() < bad.layers[0].bytes.len(),
            "a damaged blob was served whole ({} bytes)",
            body.len()
        );
    }
    let (code, _, body) = curl(&[&blob_url]);
    assert_eq!(code, 404, "{}", String::from_utf8_lossy(&body));
    let (code, _, _) = curl(&["-H", "Range: bytes=0-9", &blob_url]);
    assert_eq!(code, 404);
    let dest = Registry::plain();
    let out = skopeo_copy(
        &format!("docker://{}/x/good:1", server.host),
        &format!("docker://{}/x/good:1", dest.host),
        false,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = server.log();
    assert!(
        log.contains(&bad.layers[0].digest) && log.contains("flipped.zip"),
        "the log does not name the blob and its file: {log}"
    );

    // A volume set with its last volume missing.
    let vols_dir = work.path().join("vols");
    std::fs::create_dir_all(&vols_dir).expect("mkdir");
    o.ok(&[
        "pack",
        "--volume-size",
        "250000",
        "-o",
        vols_dir.join("set.zip").to_str().expect("utf8"),
        &format!("{}/x/good:1", source.host),
        &format!("{}/x/bad:1", source.host),
    ]);
    let mut vols: Vec<PathBuf> = std::fs::read_dir(&vols_dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    vols.sort();
    assert!(vols.len() >= 2, "{vols:?}");
    let last = vols.pop().expect("a volume");
    let gone = vols.len() as u64 + 1;
    let held: Vec<String> = index_of(&last)["volume"]["holdings"]
        .as_array()
        .expect("holdings")
        .iter()
        .filter(|h| h["volume"].as_u64() == Some(gone))
        .filter_map(|h| h["digest"].as_str().map(str::to_owned))
        .collect();
    std::fs::remove_file(&last).expect("remove");
    let server = Serving::start(&o, &[vols[0].to_str().expect("utf8")]);
    let mut served = 0;
    for (repo, img) in [("x/good", &good), ("x/bad", &bad)] {
        let in_missing = [&img.manifest, &img.config, &img.layers[0]]
            .iter()
            .any(|b| held.contains(&b.digest));
        let url = format!("http://{}/v2/{repo}/manifests/1", server.host);
        let (code, _, _) = curl(&["-I", &url]);
        if in_missing {
            assert_eq!(code, 404, "{repo} has content in the missing volume");
        } else {
            assert_eq!(code, 200, "{repo}: {}", server.log());
            let out = skopeo_copy(
                &format!("docker://{}/{repo}:1", server.host),
                &format!("docker://{}/{repo}:1", dest.host),
                false,
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            served += 1;
        }
    }
    assert_eq!(served, 1, "one image should be served: {}", server.log());
    assert!(server.log().contains("is missing"), "{}", server.log());
}

#[test]
fn tls_from_a_private_ca_or_from_files_and_clear_start_up_errors() {
    let source = Registry::plain();
    let img = images::image(
        vec![images::layer(421, 20_000, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        false,
    );
    images::push_image(&source.host, "t/app", "1", &img);
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let bundle = work.path().join("b.zip");
    let b = bundle.to_str().expect("utf8");
    o.ok(&["pack", "-o", b, &format!("{}/t/app:1", source.host)]);

    // A private CA made on first start, kept on the next.
    let tls_dir = work.path().join("tls");
    let t = tls_dir.to_str().expect("utf8");
    let server = Serving::start(&o, &[b, "--tls-self-signed", t]);
    let url = format!("https://{}/v2/t/app/manifests/1", server.host);
    let ca = tls_dir.join("ca.pem");
    let (code, _, body) = curl(&["--cacert", ca.to_str().expect("utf8"), &url]);
    assert_eq!((code, &body[..]), (200, &img.manifest.bytes[..]));
    let (code, _, _) = curl(&[&url]);
    assert_eq!(
        code, 0,
        "a certificate the system does not trust was accepted"
    );
    let certs = work.path().join("certs");
    std::fs::create_dir_all(&certs).expect("mkdir");
    std::fs::copy(&ca, certs.join("ca.crt")).expect("copy");
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--cert-dir",
            certs.to_str().expect("utf8"),
        ])
        .arg(format!("docker://{}/t/app:1", server.host))
        .output()
        .expect("skopeo");
    assert_eq!(
        out.stdout,
        img.manifest.bytes,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        server.log().contains("ca.pem"),
        "no word on trusting the CA: {}",
        server.log()
    );
    let first_ca = std::fs::read(&ca).expect("ca");
    drop(server);
    let server = Serving::start(&o, &[b, "--tls-self-signed", t]);
    assert_eq!(
        std::fs::read(&ca).expect("ca"),
        first_ca,
        "the CA changed on restart"
    );
    let url = format!("https://{}/v2/", server.host);
    assert_eq!(curl(&["--cacert", ca.to_str().expect("utf8"), &url]).0, 200);
    drop(server);

    // A certificate and key from files.
    let files = work.path().join("files");
    std::fs::create_dir_all(&files).expect("mkdir");
    let (test_ca, cert, key) = crate::support::make_tls(&files);
    let server = Serving::start(
        &o,
        &[
            b,
            "--tls-cert",
            cert.to_str().expect("utf8"),
            "--tls-key",
            key.to_str().expect("utf8"),
        ],
    );
    let url = format!("https://{}/v2/t/app/tags/list", server.host);
    let (code, _, body) = curl(&["--cacert", test_ca.to_str().expect("utf8"), &url]);
    assert_eq!(code, 200);
    assert_eq!(json(&body)["tags"], serde_json::json!(["1"]));

    // Start-up errors: one line naming the cause, a non-zero exit.
    let busy = server.host.clone();
    let out = o.run(&["serve", b, "--listen", &busy]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&busy) && err.contains("--listen"), "{err}");
    let out = o.run(&["serve", b, "--tls-cert", cert.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
    let out = o.run(&["serve", "/nonexistent/site.zip"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/site.zip"));
}
