//! `inspect --extract-artifacts DIR`: each SBOM and attestation of the bundle written as
//! the file a scanner reads. SPDX and CycloneDX documents and DSSE envelopes are written
//! byte-exact (each blob verified against its digest as it is read); an in-toto statement
//! is also written decoded from its envelope's base64 payload, which its name says
//! (`.decoded-from-dsse.`). Names are built from the image's reference and the artifact's
//! digest, sanitized to `[A-Za-z0-9._-]`, so nothing is written outside DIR; an existing
//! file (or link) of that name is replaced, never followed.

use super::facts::{self, Category};
use crate::bundle::reader::BundleReader;
use crate::oci::Digest;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest DSSE envelope decoded (SBOM attestations run to tens of MiB).
const MAX_ENVELOPE: u64 = 512 << 20;

/// Why an artifact could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// Reading the bundle.
    #[error("{0}")]
    Read(#[from] crate::bundle::reader::ReadError),
    /// Writing a file.
    #[error("`{path}`: {source}", path = .0.display(), source = .1)]
    Write(PathBuf, std::io::Error),
}

/// One file written.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Extracted {
    /// The image it goes with.
    pub image: String,
    /// The artifact's manifest.
    pub artifact: Digest,
    /// `sbom` or `attestation`.
    pub category: Category,
    /// The blob whose bytes (or decoded payload) it holds.
    pub blob: Digest,
    /// The file written (inside DIR).
    pub path: PathBuf,
    /// Whether it is the blob byte for byte (`false`: decoded from a DSSE envelope).
    pub exact: bool,
}

/// `text` reduced to `[A-Za-z0-9._-]` (others become `_`), never starting with `.`.
fn safe(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_start_matches('.').chars().take(150).collect()
}

/// The extension a scanner expects for a layer of `media_type`.
fn extension(media_type: &str) -> &'static str {
    let m = media_type.to_ascii_lowercase();
    if m.contains("dsse") {
        "dsse.json"
    } else if m.contains("spdx") && m.contains("json") {
        "spdx.json"
    } else if m.contains("spdx") {
        "spdx"
    } else if m.contains("cyclonedx") && m.contains("xml") {
        "cdx.xml"
    } else if m.contains("cyclonedx") || m.contains("json") {
        "cdx.json"
    } else {
        "bin"
    }
}

/// Writes `bytes` from `from` to `dir/name` through `.name.partial` (made fresh, never
/// following a link there), renamed over what is there only once whole and checked: a
/// run killed mid-copy leaves no half SBOM under the final name.
fn write_new(dir: &Path, name: &str, from: &mut dyn Read) -> Result<PathBuf, ExtractError> {
    let path = dir.join(name);
    let partial = dir.join(format!(".{name}.partial"));
    let err = |e| ExtractError::Write(path.clone(), e);
    match std::fs::symlink_metadata(&partial) {
        Ok(_) => fs_err::remove_file(&partial).map_err(err)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let mut file = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(err)?;
    let copied = std::io::copy(from, &mut file).and_then(|_| file.sync_all());
    drop(file);
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(err(e));
    }
    // A rename replaces a link at the final name itself; it never writes through it.
    fs_err::rename(&partial, &path).map_err(err)?;
    Ok(path)
}

/// Writes every carried SBOM and attestation of `reader`'s images into `dir` (made when
/// missing). Returns what was written and a note per artifact left out.
pub fn extract(
    reader: &BundleReader,
    dir: &Path,
) -> Result<(Vec<Extracted>, Vec<String>), ExtractError> {
    fs_err::create_dir_all(dir).map_err(|e| ExtractError::Write(dir.to_owned(), e))?;
    let index = &reader.index;
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for image in &index.images {
        let (_, artifacts) = index.closure_with_artifacts(image);
        for r in artifacts {
            let f = facts::artifact(reader, r, 0);
            if !matches!(f.category, Category::Sbom | Category::Attestation) {
                continue;
            }
            let Some(manifest) = facts::manifest_of(reader, &r.digest) else {
                notes.push(format!(
                    "`{}`: {} {} is not carried (the far side had it)",
                    image.reference, f.format, r.digest
                ));
                continue;
            };
            let kind = if f.category == Category::Sbom {
                "sbom"
            } else {
                "attestation"
            };
            let stem = format!(
                "{}.{kind}-{}",
                safe(&image.reference),
                &r.digest.hex()[..12]
            );
            for (n, layer) in manifest.layers.iter().enumerate() {
                let suffix = if manifest.layers.len() > 1 {
                    format!("-{n}")
                } else {
                    String::new()
                };
                let ext = extension(&layer.media_type);
                let name = format!("{stem}{suffix}.{ext}");
                let mut blob = reader.blob_reader(&layer.digest, layer.size)?;
                let path = write_new(dir, &name, &mut blob)?;
                out.push(Extracted {
                    image: image.reference.clone(),
                    artifact: r.digest.clone(),
                    category: f.category,
                    blob: layer.digest.clone(),
                    path: path.clone(),
                    exact: true,
                });
                if ext == "dsse.json" {
                    match decode_dsse(&path) {
                        Ok(statement) => {
                            let name = format!("{stem}{suffix}.intoto.decoded-from-dsse.json");
                            let path = write_new(dir, &name, &mut statement.as_slice())?;
                            out.push(Extracted {
                                image: image.reference.clone(),
                                artifact: r.digest.clone(),
                                category: f.category,
                                blob: layer.digest.clone(),
                                path,
                                exact: false,
                            });
                        }
                        Err(why) => notes.push(format!(
                            "`{}`: the DSSE envelope {} was written as it is; its payload is not decoded: {why}",
                            image.reference, layer.digest
                        )),
                    }
                }
            }
        }
    }
    Ok((out, notes))
}

/// The payload of a DSSE envelope file: base64-decoded, byte for byte.
fn decode_dsse(path: &Path) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let mut bytes = Vec::new();
    fs_err::File::open(path)
        .map_err(|e| e.to_string())?
        .take(MAX_ENVELOPE)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    #[derive(serde::Deserialize)]
    struct Envelope {
        payload: String,
    }
    let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    base64::engine::general_purpose::STANDARD
        .decode(envelope.payload.as_bytes())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(envelope.payload.as_bytes()))
        .map_err(|e| format!("payload is not base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn names_stay_inside() {
        assert_eq!(safe("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(
            safe("docker.io/library/nginx:1.27"),
            "docker.io_library_nginx_1.27"
        );
        assert!(!safe(".hidden").starts_with('.'));
    }
}
