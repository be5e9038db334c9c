//! Test images made from bytes the tests generate, pushed to a registry with `curl`
//! (an independent client), so the source registry holds exactly these bytes.

use super::digest;
use std::io::Write;
use std::process::Command;

/// A blob with its digest.
#[derive(Clone, Debug)]
pub struct Blob {
    /// Content.
    pub bytes: Vec<u8>,
    /// `sha256:…`.
    pub digest: String,
    /// Media type used in manifests.
    pub media_type: String,
}

impl Blob {
    /// Wraps bytes.
    pub fn new(bytes: Vec<u8>, media_type: &str) -> Blob {
        Blob {
            digest: digest(&bytes),
            bytes,
            media_type: media_type.into(),
        }
    }

    /// A JSON descriptor.
    pub fn descriptor(&self) -> serde_json::Value {
        serde_json::json!({ "mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len() })
    }
}

/// The flavour of media types.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flavour {
    /// Docker schema 2.
    Docker,
    /// OCI.
    Oci,
}

/// A gzipped tar layer holding one file of `size` deterministic pseudo-random bytes.
pub fn layer(seed: u64, size: usize, flavour: Flavour) -> Blob {
    let mut content = vec![0u8; size];
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for b in content.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(size as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, format!("data-{seed}.bin"), &content[..])
        .expect("tar");
    let raw = tar.into_inner().expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).expect("gzip");
    let media = match flavour {
        Flavour::Docker => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        Flavour::Oci => "application/vnd.oci.image.layer.v1.tar+gzip",
    };
    Blob::new(gz.finish().expect("gzip"), media)
}

/// An image: config, layers and the manifest bytes.
#[derive(Clone, Debug)]
pub struct Image {
    /// Config blob.
    pub config: Blob,
    /// Layers.
    pub layers: Vec<Blob>,
    /// Manifest as a blob (exact bytes).
    pub manifest: Blob,
}

/// Builds an image for `arch` from layers. `odd_json` writes the manifest with extra
/// whitespace and unusual key order, so any re-serialisation changes its digest.
pub fn image(layers: Vec<Blob>, arch: &str, flavour: Flavour, odd_json: bool) -> Image {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| {
            let mut d = flate2::read::GzDecoder::new(&l.bytes[..]);
            let mut raw = Vec::new();
            std::io::Read::read_to_end(&mut d, &mut raw).expect("gunzip");
            digest(&raw)
        })
        .collect();
    let config_json = serde_json::json!({
        "architecture": arch, "os": "linux",
        "config": { "Cmd": ["/bin/true"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": layers.iter().map(|_| serde_json::json!({"created_by": "outrider test"})).collect::<Vec<_>>(),
    });
    let (config_type, manifest_type) = match flavour {
        Flavour::Docker => (
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ),
        Flavour::Oci => (
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
        ),
    };
    let config = Blob::new(serde_json::to_vec(&config_json).expect("json"), config_type);
    let manifest_bytes = if odd_json {
        let layers_json: Vec<String> = layers
            .iter()
            .map(|l| {
                format!(
                    "\n      {{ \"size\" : {},  \"digest\":\"{}\", \"mediaType\": \"{}\" }}",
                    l.bytes.len(),
                    l.digest,
                    l.media_type
                )
            })
            .collect();
        format!(
            "{{\n  \"mediaType\" :\"{manifest_type}\",\n  \"schemaVersion\":   2,\n  \"config\": {{\"size\":{}, \"mediaType\":\"{config_type}\",\"digest\":\"{}\"}},\n  \"layers\": [{}\n  ]\n}}\n\n",
            config.bytes.len(),
            config.digest,
            layers_json.join(",")
        )
        .into_bytes()
    } else {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": manifest_type,
            "config": config.descriptor(),
            "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
        }))
        .expect("json")
    };
    Image {
        config,
        layers,
        manifest: Blob::new(manifest_bytes, manifest_type),
    }
}

/// An index over images with their platforms (plus optional extra raw entries).
pub fn index(children: &[(&Image, &str)], flavour: Flavour, extra: Vec<serde_json::Value>) -> Blob {
    let media = match flavour {
        Flavour::Docker => "application/vnd.docker.distribution.manifest.list.v2+json",
        Flavour::Oci => "application/vnd.oci.image.index.v1+json",
    };
    let mut manifests: Vec<serde_json::Value> = children
        .iter()
        .map(|(img, platform)| {
            let parts: Vec<&str> = platform.split('/').collect();
            let mut p = serde_json::json!({ "os": parts[0], "architecture": parts[1] });
            if let Some(v) = parts.get(2) {
                p["variant"] = serde_json::json!(v);
            }
            let mut d = img.manifest.descriptor();
            d["platform"] = p;
            d
        })
        .collect();
    manifests.extend(extra);
    Blob::new(
        serde_json::to_vec_pretty(
            &serde_json::json!({ "schemaVersion": 2, "mediaType": media, "manifests": manifests }),
        )
        .expect("json"),
        media,
    )
}

fn curl(args: &[&str], body: Option<&[u8]>) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "-o",
        "/dev/null",
        "-D",
        "-",
        "-w",
        "\nSTATUS:%{http_code}",
    ])
    .args(args);
    if body.is_some() {
        cmd.args(["--data-binary", "@-"])
            .stdin(std::process::Stdio::piped());
    }
    cmd.stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("curl");
    if let Some(b) = body {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b)
            .expect("write");
    }
    let out = child.wait_with_output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .rsplit("STATUS:")
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Pushes a blob to `host/repo` over plain HTTP with curl.
pub fn push_blob(host: &str, repo: &str, blob: &Blob) {
    let (status, text) = curl(
        &[
            "-X",
            "POST",
            &format!("http://{host}/v2/{repo}/blobs/uploads/"),
        ],
        None,
    );
    assert_eq!(status, 202, "start upload: {text}");
    let location = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("Location: ")
                .or_else(|| l.strip_prefix("location: "))
        })
        .expect("Location")
        .trim()
        .to_owned();
    let url = if location.starts_with("http") {
        location
    } else {
        format!("http://{host}{location}")
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let (status, text) = curl(
        &[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            &format!("{url}{sep}digest={}", blob.digest),
        ],
        Some(&blob.bytes),
    );
    assert_eq!(status, 201, "put blob: {text}");
}

/// Pushes manifest bytes under `reference` (tag or digest).
pub fn push_manifest(host: &str, repo: &str, reference: &str, manifest: &Blob) {
    let (status, text) = curl(
        &[
            "-X",
            "PUT",
            "-H",
            &format!("Content-Type: {}", manifest.media_type),
            &format!("http://{host}/v2/{repo}/manifests/{reference}"),
        ],
        Some(&manifest.bytes),
    );
    assert_eq!(status, 201, "put manifest {repo}:{reference}: {text}");
}

/// Pushes a whole image (blobs, then manifest by tag).
pub fn push_image(host: &str, repo: &str, tag: &str, image: &Image) {
    push_blob(host, repo, &image.config);
    for l in &image.layers {
        push_blob(host, repo, l);
    }
    push_manifest(host, repo, tag, &image.manifest);
}

/// The same image with other layers (config diff_ids left as they were).
pub fn image_with_layers(img: &Image, layers: Vec<Blob>) -> Image {
    let media = img.manifest.media_type.clone();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": media,
        "config": img.config.descriptor(),
        "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
    }))
    .expect("json");
    Image {
        config: img.config.clone(),
        layers,
        manifest: Blob::new(manifest, &media),
    }
}

/// Pushes a multi-platform OCI image to `host/repo:tag`: one single-layer image per
/// `(seed, platform)` (an `unknown/unknown` platform stands for an attestation), each
/// pushed by digest, then the index under the tag. Returns the children and the index.
pub fn push_multi_platform(
    host: &str,
    repo: &str,
    tag: &str,
    children: &[(u64, &str)],
) -> (Vec<Image>, Blob) {
    let images: Vec<Image> = children
        .iter()
        .map(|(seed, platform)| {
            let arch = platform.split('/').nth(1).unwrap_or("amd64");
            image(
                vec![layer(*seed, 10_000, Flavour::Oci)],
                arch,
                Flavour::Oci,
                false,
            )
        })
        .collect();
    for m in &images {
        push_blob(host, repo, &m.config);
        push_blob(host, repo, &m.layers[0]);
        push_manifest(host, repo, &m.manifest.digest, &m.manifest);
    }
    let entries: Vec<(&Image, &str)> = images
        .iter()
        .zip(children)
        .map(|(m, (_, p))| (m, *p))
        .collect();
    let idx = index(&entries, Flavour::Oci, vec![]);
    push_manifest(host, repo, tag, &idx);
    (images, idx)
}

/// Pushes `apps/alpha:1` (Docker media types) and `apps/beta:2` (OCI, its manifest JSON in
/// non-canonical form) sharing one base layer; layers from seeds `seed`, `seed+1`, `seed+2`.
pub fn push_alpha_beta(host: &str, seed: u64, base_size: usize, own_size: usize) -> (Image, Image) {
    let base = layer(seed, base_size, Flavour::Docker);
    let alpha = image(
        vec![base.clone(), layer(seed + 1, own_size, Flavour::Docker)],
        "amd64",
        Flavour::Docker,
        false,
    );
    let mut base_oci = base;
    base_oci.media_type = "application/vnd.oci.image.layer.v1.tar+gzip".into();
    let beta = image(
        vec![base_oci, layer(seed + 2, own_size, Flavour::Oci)],
        "amd64",
        Flavour::Oci,
        true,
    );
    push_image(host, "apps/alpha", "1", &alpha);
    push_image(host, "apps/beta", "2", &beta);
    (alpha, beta)
}
