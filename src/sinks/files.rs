//! `unpack --files DIR`: the plain files a bundle carries (artifacts as `oras push` writes
//! them: the empty config, layers titled with `org.opencontainers.image.title`) written
//! back into DIR by their titles. A title must be a plain file name — no folder, no
//! `..`, nothing absolute — so nothing lands outside DIR. Each file is written under a
//! `.NAME.partial` name, checked against its digest while it is written, and renamed
//! only when complete; a file already there with the same bytes is left alone, one with
//! other bytes is refused (nothing is overwritten). Charts and images are not files and
//! are passed over.

use crate::blob_store::BlobStore;
use crate::bundle::reader::BundleReader;
use crate::oci::{Descriptor, Digest, ParsedManifest};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The config media type of a file artifact.
const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
/// The annotation naming a file.
const TITLE: &str = "org.opencontainers.image.title";

/// A failure writing files back.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// The bundle could not be read.
    #[error("reading `{reference}` from the bundle: {reason}")]
    Bundle {
        /// The artifact.
        reference: String,
        /// Why.
        reason: String,
    },
    /// A title that is not a plain file name.
    #[error(
        "`{reference}`: its file title `{title}` is not a plain file name; nothing is written outside the folder"
    )]
    Title {
        /// The artifact.
        reference: String,
        /// The title.
        title: String,
    },
    /// A different file is already there.
    #[error("`{0}` already exists with other contents; remove it or choose another folder")]
    Exists(PathBuf),
    /// Writing failed.
    #[error("writing `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// One file written (or found already there).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Written {
    /// The artifact it came in.
    pub reference: String,
    /// Where it is.
    pub path: PathBuf,
    /// Its digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
    /// Whether it was there already with these bytes.
    pub already_there: bool,
}

/// Whether `title` is a plain file name.
pub fn plain_name(title: &str) -> bool {
    !title.is_empty()
        && title != "."
        && title != ".."
        && !title.contains(['/', '\\', '\0'])
        && title.len() <= 255
}

/// The titled layers of `reference`'s manifest when it is a file artifact.
fn titled_layers(
    store: &BlobStore<'_>,
    reference: &str,
    digest: &Digest,
) -> Result<Vec<(String, Descriptor)>, FilesError> {
    let bundle = |reason: String| FilesError::Bundle {
        reference: reference.to_owned(),
        reason,
    };
    let manifest = store.manifest(digest).map_err(bundle)?;
    let ParsedManifest::Image { config, .. } =
        manifest.parse().map_err(|e| bundle(e.to_string()))?
    else {
        return Ok(Vec::new());
    };
    if config.media_type != EMPTY_CONFIG {
        return Ok(Vec::new());
    }
    // The titles are annotations, which the parsed view leaves out.
    let json: serde_json::Value =
        serde_json::from_slice(&manifest.bytes).map_err(|e| bundle(e.to_string()))?;
    let mut out = Vec::new();
    for layer in json["layers"].as_array().into_iter().flatten() {
        let Some(title) = layer["annotations"][TITLE].as_str() else {
            continue;
        };
        let desc: Descriptor =
            serde_json::from_value(layer.clone()).map_err(|e| bundle(e.to_string()))?;
        if !plain_name(title) {
            return Err(FilesError::Title {
                reference: reference.to_owned(),
                title: title.to_owned(),
            });
        }
        out.push((title.to_owned(), desc));
    }
    Ok(out)
}

fn same_file(path: &Path, desc: &Descriptor) -> Result<bool, FilesError> {
    let io = |source| FilesError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = fs_err::metadata(path).map_err(io)?;
    if !meta.is_file() || meta.len() != desc.size {
        return Ok(false);
    }
    let (digest, _) = Digest::of_reader(std::io::BufReader::new(
        fs_err::File::open(path).map_err(io)?,
    ))
    .map_err(io)?;
    Ok(digest == desc.digest)
}

fn write_one(store: &BlobStore<'_>, path: &Path, desc: &Descriptor) -> Result<(), FilesError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{name}.partial"));
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| FilesError::Io { path: p, source }
    };
    // The store's reader checks the digest and size: the read that reaches the end fails
    // when they differ, so a wrong file never loses its partial name.
    let mut reader = store.reader(&desc.digest, desc.size).map_err(io(path))?;
    // A partial file left by an interrupted run is removed, and the new one made fresh
    // (`create_new`): a link planted at the partial name in a shared folder is never
    // followed, so the bytes land nowhere but here.
    if fs_err::symlink_metadata(&partial).is_ok() {
        fs_err::remove_file(&partial).map_err(io(&partial))?;
    }
    let mut out = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(io(&partial))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(io(&partial))?;
    }
    out.sync_all().map_err(io(&partial))?;
    drop(out);
    fs_err::rename(&partial, path).map_err(io(path))?;
    Ok(())
}

/// Writes every file of the bundle's artifacts into `dir` (created when missing).
pub fn write(
    store: &BlobStore<'_>,
    reader: &BundleReader,
    dir: &Path,
) -> Result<Vec<Written>, FilesError> {
    fs_err::create_dir_all(dir).map_err(|source| FilesError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut written = Vec::new();
    for image in &reader.index.images {
        for (title, desc) in titled_layers(store, &image.reference, &image.digest)? {
            let path = dir.join(&title);
            let already_there = path.exists() && same_file(&path, &desc)?;
            if path.exists() && !already_there {
                return Err(FilesError::Exists(path));
            }
            if !already_there {
                write_one(store, &path, &desc)?;
            }
            written.push(Written {
                reference: image.reference.clone(),
                path,
                digest: desc.digest.clone(),
                size: desc.size,
                already_there,
            });
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_written() {
        assert!(plain_name("k3s-airgap.tar.zst"));
        assert!(plain_name(".hidden"));
        for bad in ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\\b", "x\0y"] {
            assert!(!plain_name(bad), "{bad:?}");
        }
    }
}
