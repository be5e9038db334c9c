//! `file:PATH` and `https://URL#sha256=HEX`: a plain file as a source, carried as the OCI
//! artifact `oras push` writes for one file — artifact type
//! `application/vnd.unknown.artifact.v1`, the empty config
//! (`application/vnd.oci.empty.v1+json`, `{}`), one layer of media type
//! `application/vnd.oci.image.layer.v1.tar` holding the file's bytes unchanged, titled
//! with its file name (`org.opencontainers.image.title`), which `oras pull`, Kubernetes
//! image volumes and `outrider unpack --files` read. Unlike ORAS no creation time is
//! written, so the same file gives the same digest on every pack.
//!
//! A URL's checksum pin is its digest: the file is not read while planning (its length
//! is asked with a one-byte range), and it is streamed into the bundle with ranges from
//! where a broken transfer stopped, like any blob. A URL without a pin (allowed only with
//! `--allow-unpinned`, which `pack` checks) is read once to learn its digest. A local
//! file is hashed where it lies. Named `HOST/files/NAME:latest` (`localhost` for local
//! files; NAME the file name made a valid repository name); `as` renames it.

use super::built::{BlobAt, Built};
use super::source::{Source, SourceError};
use super::web::{Web, host_port, shown};
use crate::oci::{Digest, ImageRef, RawManifest};
use crate::registry::Registries;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

/// The prefix users write for a local file: `file:PATH`.
pub const PREFIX: &str = "file";

/// The artifact type `oras push` gives a file with no `--artifact-type`.
pub const ARTIFACT_TYPE: &str = "application/vnd.unknown.artifact.v1";
/// The layer media type `oras push` gives a file with no `:TYPE`.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
/// The empty config's media type.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The annotation naming the file.
pub const TITLE: &str = "org.opencontainers.image.title";
/// The annotation recording a file's URL.
pub const SOURCE_URL: &str = "dev.outrider.file.url";

/// Whether `text` is a file given by URL (`https://…`, `http://…`).
pub fn is_url(text: &str) -> bool {
    text.starts_with("https://") || text.starts_with("http://")
}

/// Whether a URL carries a `#sha256=HEX` pin.
pub fn is_pinned(text: &str) -> bool {
    pin(text).is_some()
}

fn pin(text: &str) -> Option<&str> {
    text.split_once('#')
        .and_then(|(_, f)| f.strip_prefix("sha256="))
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A file name made a repository component: lower case, `[a-z0-9]` runs joined by
/// single separators.
pub fn repository_name(file_name: &str) -> String {
    let mut out = String::new();
    for c in file_name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with(['.', '-', '_']) {
            out.push(if c == '.' || c == '_' { c } else { '-' });
        }
    }
    let trimmed = out.trim_end_matches(['.', '-', '_']);
    if trimmed.is_empty() {
        "file".into()
    } else {
        trimmed.to_owned()
    }
}

fn invalid(what: &str, reason: impl Into<String>) -> SourceError {
    SourceError::Fetch {
        url: what.to_owned(),
        reason: reason.into(),
        transient: false,
    }
}

/// The ORAS manifest for one file.
fn manifest(title: &str, file: (&Digest, u64), url: Option<&str>) -> Vec<u8> {
    let mut annotations = serde_json::Map::new();
    if let Some(u) = url {
        annotations.insert(SOURCE_URL.into(), json!(u));
    }
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": ARTIFACT_TYPE,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "digest": Digest::of(b"{}").as_str(),
            "size": 2,
            "data": "e30="
        },
        "layers": [{
            "mediaType": LAYER_MEDIA_TYPE,
            "digest": file.0.as_str(),
            "size": file.1,
            "annotations": { TITLE: title }
        }],
    });
    if !annotations.is_empty() {
        m["annotations"] = serde_json::Value::Object(annotations);
    }
    m.to_string().into_bytes()
}

fn built(
    describe: String,
    name: String,
    title: &str,
    file: (Digest, u64, BlobAt),
    url: Option<&str>,
    web: Option<Web>,
) -> Result<Built, SourceError> {
    let bytes = manifest(title, (&file.0, file.1), url);
    let top = RawManifest::new(Bytes::from(bytes), None)
        .map_err(|e| invalid(&describe, e.to_string()))?;
    let name: ImageRef = name.parse()?;
    Ok(Built {
        describe,
        name,
        top,
        blobs: vec![
            (Digest::of(b"{}"), BlobAt::Memory(Bytes::from_static(b"{}"))),
            (file.0, file.2),
        ],
        web,
        notes: Vec::new(),
    })
}

async fn open_local(path: &Path) -> Result<Built, SourceError> {
    let io = |source| super::local_error::LocalError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = fs_err::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(invalid(&path.display().to_string(), "not a regular file"));
    }
    let owned = path.to_owned();
    let (digest, size) = tokio::task::spawn_blocking(move || {
        Digest::of_reader(std::io::BufReader::new(fs_err::File::open(&owned)?))
    })
    .await
    .map_err(|e| invalid(&path.display().to_string(), e.to_string()))?
    .map_err(io)?;
    let title = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    built(
        format!("{PREFIX}:{}", path.display()),
        format!("localhost/files/{}:latest", repository_name(&title)),
        &title,
        (digest, size, BlobAt::File(path.to_owned())),
        None,
        None,
    )
}

async fn open_url(text: &str, registries: &Registries) -> Result<Built, SourceError> {
    let url = url::Url::parse(text).map_err(|e| invalid(text, format!("not a URL: {e}")))?;
    let mut bare = url.clone();
    bare.set_fragment(None);
    let web = Web::connect(&bare, registries).await?;
    let (digest, size) = match pin(text) {
        Some(hex) => {
            let digest: Digest = format!("sha256:{}", hex.to_ascii_lowercase())
                .parse()
                .map_err(|e: crate::oci::DigestError| invalid(text, e.to_string()))?;
            (digest, web.length(&bare).await?)
        }
        None => {
            // Read once for its digest; the copy reads it again and checks it.
            let (mut stream, _) = web.stream(&bare, 0).await?;
            use sha2::Digest as _;
            let mut hasher = sha2::Sha256::new();
            let mut size = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                size += chunk.len() as u64;
                hasher.update(&chunk);
            }
            (Digest::from_sha256(hasher.finalize().into()), size)
        }
    };
    let title = bare
        .path_segments()
        .and_then(|mut s| s.next_back().map(str::to_owned))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "file".into());
    let title = percent_decoded(&title);
    built(
        shown(&bare),
        format!(
            "{}/files/{}:latest",
            host_port(&bare),
            repository_name(&title)
        ),
        &title,
        (digest, size, BlobAt::Url(bare.clone())),
        Some(&shown(&bare)),
        Some(web),
    )
}

/// A URL path segment's `%XX` escapes decoded; kept as written when that would not be a
/// plain file name (an escaped `/`, invalid UTF-8).
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(d) if !d.is_empty() && !d.contains(['/', '\\', '\0']) && d != "." && d != ".." => d,
        _ => s.to_owned(),
    }
}

/// Opens `file:PATH` (given `PATH`) or a URL (given whole).
pub fn open<'a>(
    rest: &'a str,
    registries: &'a Registries,
) -> BoxFuture<'a, Result<Arc<dyn Source>, SourceError>> {
    Box::pin(async move {
        let built = if is_url(rest) {
            open_url(rest, registries).await?
        } else {
            open_local(Path::new(rest)).await?
        };
        Ok(Arc::new(built) as Arc<dyn Source>)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_pins() {
        assert_eq!(
            repository_name("k3s-airgap-images-amd64.tar.zst"),
            "k3s-airgap-images-amd64.tar.zst"
        );
        assert_eq!(repository_name("My File (1).BIN"), "my-file-1-bin");
        assert!(is_pinned(&format!(
            "https://x/y.bin#sha256={}",
            "a".repeat(64)
        )));
        assert!(!is_pinned("https://x/y.bin"));
        assert!(!is_pinned("https://x/y.bin#sha256=abc"));
        assert_eq!(percent_decoded("my%20file+1.bin"), "my file+1.bin");
        assert_eq!(percent_decoded("a%2Fb"), "a%2Fb");
        assert_eq!(percent_decoded("%2E%2E"), "%2E%2E");
    }
}
