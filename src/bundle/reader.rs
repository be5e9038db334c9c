//! Opens a bundle for random access. The zip crate parses the central directory; every
//! entry must be STORED and named `outrider.json` or `blobs/sha256/<hex>`, so a hostile
//! bundle cannot name a path outside anything, smuggle compressed data, or lie about
//! sizes. Blob bytes are read by offset and verified against their digest as they stream.

use super::index::{BundleIndex, FORMAT, FORMAT_VERSION};
use super::{INDEX_ENTRY, blob_entry};
use crate::oci::{Descriptor, Digest, DigestError, RawManifest, Verifier};
use bytes::Bytes;
use futures_util::Stream;
use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest index accepted (a bundle with 100 000 blobs has an index of ~40 MiB).
const MAX_INDEX_BYTES: u64 = 256 * 1024 * 1024;
/// Read size for streaming blobs out.
const CHUNK: u64 = 1024 * 1024;

/// Why a bundle cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// I/O on the file.
    #[error("reading bundle `{path}`: {source}")]
    Io {
        /// The bundle.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Not a readable zip (truncated, corrupt directory).
    #[error("`{path}` is not a complete bundle: {reason}")]
    NotZip {
        /// The bundle.
        path: PathBuf,
        /// What the zip reader said.
        reason: String,
    },
    /// An entry that does not belong in a bundle.
    #[error("`{path}`: unexpected entry `{name}`: {reason}")]
    BadEntry {
        /// The bundle.
        path: PathBuf,
        /// Entry name (sanitised).
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The index is missing, unreadable, or of another format version.
    #[error("`{path}`: bad index: {reason}")]
    Index {
        /// The bundle.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A blob's bytes fail their digest or size.
    #[error("`{path}`: {source}")]
    Content {
        /// The bundle.
        path: PathBuf,
        /// The failed check.
        source: DigestError,
    },
}

/// Where an entry's bytes are in the file.
#[derive(Clone, Copy, Debug)]
pub struct EntrySpan {
    /// Offset of the first data byte.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
}

/// A bundle opened for reading.
pub struct BundleReader {
    path: PathBuf,
    file: Arc<std::fs::File>,
    /// The parsed index.
    pub index: BundleIndex,
    entries: HashMap<String, EntrySpan>,
}

impl BundleReader {
    /// Opens and checks the structure (not the blob contents; see [`BundleReader::verify_blob`]).
    pub fn open(path: &Path) -> Result<BundleReader, ReadError> {
        let io = |source| ReadError::Io {
            path: path.to_owned(),
            source,
        };
        let file = fs_err::File::open(path).map_err(io)?;
        let (file, _) = file.into_parts();
        let mut archive = zip::ZipArchive::new(&file).map_err(|e| ReadError::NotZip {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let mut entries = HashMap::new();
        for i in 0..archive.len() {
            let entry = archive.by_index_raw(i).map_err(|e| ReadError::NotZip {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
            let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
            let bad = |reason| ReadError::BadEntry {
                path: path.to_owned(),
                name: crate::output::sanitize(&name),
                reason,
            };
            let valid_name = name == INDEX_ENTRY
                || name
                    .strip_prefix("blobs/sha256/")
                    .is_some_and(|h| format!("sha256:{h}").parse::<Digest>().is_ok());
            if !valid_name {
                return Err(bad(
                    "only `outrider.json` and `blobs/sha256/<hex>` belong in a bundle",
                ));
            }
            if entry.compression() != zip::CompressionMethod::Stored
                || entry.compressed_size() != entry.size()
            {
                return Err(bad("entries must be stored uncompressed"));
            }
            let offset = entry.data_start().ok_or_else(|| bad("no data offset"))?;
            if entries
                .insert(
                    name.clone(),
                    EntrySpan {
                        offset,
                        size: entry.size(),
                    },
                )
                .is_some()
            {
                return Err(bad("duplicate entry"));
            }
        }
        let span = *entries.get(INDEX_ENTRY).ok_or_else(|| ReadError::Index {
            path: path.to_owned(),
            reason: "no `outrider.json` entry".into(),
        })?;
        if span.size > MAX_INDEX_BYTES {
            return Err(ReadError::Index {
                path: path.to_owned(),
                reason: format!(
                    "index is {} bytes, over the {MAX_INDEX_BYTES} limit",
                    span.size
                ),
            });
        }
        let mut buf = vec![0; span.size as usize];
        file.read_exact_at(&mut buf, span.offset).map_err(io)?;
        let index: BundleIndex = serde_json::from_slice(&buf).map_err(|e| ReadError::Index {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if index.format != FORMAT || index.format_version > FORMAT_VERSION {
            return Err(ReadError::Index {
                path: path.to_owned(),
                reason: format!(
                    "format `{}` version {} (this outrider reads `{FORMAT}` up to version {FORMAT_VERSION})",
                    crate::output::sanitize(&index.format),
                    index.format_version
                ),
            });
        }
        let reader = BundleReader {
            path: path.to_owned(),
            file: Arc::new(file),
            index,
            entries,
        };
        reader.check_index_entries()?;
        Ok(reader)
    }

    /// Every blob and manifest the index lists has an entry of its size under its name.
    fn check_index_entries(&self) -> Result<(), ReadError> {
        let listed = self
            .index
            .blobs
            .iter()
            .map(|b| (&b.digest, b.size, &b.entry))
            .chain(
                self.index
                    .manifests
                    .iter()
                    .map(|m| (&m.digest, m.size, &m.entry)),
            );
        for (digest, size, entry) in listed {
            // External entries are held by the far side, not this file.
            let Some(entry) = entry else { continue };
            let reason = if *entry != blob_entry(digest) {
                Some(format!(
                    "{digest} is listed under entry `{}`",
                    crate::output::sanitize(entry)
                ))
            } else {
                match self.entries.get(entry) {
                    None => Some(format!(
                        "{digest} is listed but the bundle has no entry for it"
                    )),
                    Some(span) if span.size != size => Some(format!(
                        "{digest} is listed as {size} bytes but its entry holds {}",
                        span.size
                    )),
                    Some(_) => None,
                }
            };
            if let Some(reason) = reason {
                return Err(ReadError::Index {
                    path: self.path.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// The bundle's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the bytes of `digest` are, if this bundle holds them.
    pub fn span(&self, digest: &Digest) -> Option<EntrySpan> {
        self.entries.get(&blob_entry(digest)).copied()
    }

    /// Reads a manifest's exact bytes and checks its digest.
    pub fn manifest(&self, digest: &Digest) -> Result<RawManifest, ReadError> {
        let entry = self
            .index
            .manifest(digest)
            .ok_or_else(|| ReadError::Index {
                path: self.path.clone(),
                reason: format!("manifest {digest} is not listed"),
            })?;
        let span = self.span(digest).ok_or_else(|| ReadError::Index {
            path: self.path.clone(),
            reason: format!("no entry for manifest {digest}"),
        })?;
        let mut buf = vec![0; span.size.min(crate::oci::manifest::MAX_MANIFEST_BYTES) as usize];
        self.file
            .read_exact_at(&mut buf, span.offset)
            .map_err(|source| ReadError::Io {
                path: self.path.clone(),
                source,
            })?;
        let mut verifier = Verifier::new(digest, entry.size);
        verifier
            .update(&buf)
            .and_then(|()| verifier.finish())
            .map_err(|source| ReadError::Content {
                path: self.path.clone(),
                source,
            })?;
        RawManifest::new(Bytes::from(buf), Some(&entry.media_type)).map_err(|e| ReadError::Index {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    /// Streams a blob's bytes, verifying size and digest; the last chunk is handed on
    /// only after the digest matched, so a consumer never receives a bad blob whole.
    pub fn blob_stream(
        &self,
        desc: &Descriptor,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static + use<> {
        let span = self.span(&desc.digest);
        let file = self.file.clone();
        let path = self.path.clone();
        let verifier = Verifier::new(&desc.digest, desc.size);
        let digest = desc.digest.clone();
        let state = (span, 0u64, Some(verifier));
        futures_util::stream::unfold(state, move |(span, pos, verifier)| {
            let file = file.clone();
            let path = path.clone();
            let digest = digest.clone();
            async move {
                let mut verifier: Verifier = verifier?;
                let Some(span) = span else {
                    return Some((
                        Err(std::io::Error::other(format!(
                            "`{}` holds no blob {digest}",
                            path.display()
                        ))),
                        (None, 0, None),
                    ));
                };
                let len = CHUNK.min(span.size - pos);
                let read = tokio::task::spawn_blocking(move || {
                    let mut buf = vec![0; len as usize];
                    file.read_exact_at(&mut buf, span.offset + pos)
                        .map(|()| buf)
                })
                .await
                .map_err(std::io::Error::other)
                .and_then(|r| r);
                let chunk = match read {
                    Ok(c) => c,
                    Err(e) => return Some((Err(e), (None, 0, None))),
                };
                if let Err(e) = verifier.update(&chunk) {
                    return Some((Err(std::io::Error::other(e)), (None, 0, None)));
                }
                let pos = pos + len;
                if pos == span.size {
                    return match verifier.finish() {
                        Ok(()) => Some((Ok(Bytes::from(chunk)), (Some(span), pos, None))),
                        Err(e) => Some((
                            Err(std::io::Error::other(format!("`{}`: {e}", path.display()))),
                            (None, 0, None),
                        )),
                    };
                }
                Some((Ok(Bytes::from(chunk)), (Some(span), pos, Some(verifier))))
            }
        })
    }

    /// Streams `len` bytes of a stored blob from `start`, unverified: for chunked uploads
    /// of a blob already checked whole with [`BundleReader::verify_blob`].
    pub fn range_stream(
        &self,
        digest: &Digest,
        start: u64,
        len: u64,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static + use<> {
        let file = self.file.clone();
        let base = self.span(digest).map(|s| s.offset + start);
        futures_util::stream::unfold(0u64, move |pos| {
            let file = file.clone();
            async move {
                let base = base?;
                if pos >= len {
                    return None;
                }
                let n = CHUNK.min(len - pos);
                let read = tokio::task::spawn_blocking(move || {
                    let mut buf = vec![0; n as usize];
                    file.read_exact_at(&mut buf, base + pos)
                        .map(|()| Bytes::from(buf))
                })
                .await
                .map_err(std::io::Error::other)
                .and_then(|r| r);
                Some((read, pos + n))
            }
        })
    }

    /// A blocking reader over a stored blob that verifies size and digest: the read that
    /// would reach the end fails instead when they differ. For `std::io` sinks (tars).
    pub fn blob_reader(&self, digest: &Digest, size: u64) -> Result<BlobReader, ReadError> {
        let span = self.span(digest).ok_or_else(|| ReadError::Content {
            path: self.path.clone(),
            source: DigestError::SizeMismatch {
                digest: digest.clone(),
                expected: size,
                got: 0,
            },
        })?;
        Ok(BlobReader {
            file: self.file.clone(),
            path: self.path.clone(),
            offset: span.offset,
            size: span.size,
            pos: 0,
            verifier: Some(Verifier::new(digest, size)),
        })
    }

    /// Re-hashes one stored blob or manifest against its digest and size.
    pub fn verify_blob(&self, digest: &Digest, size: u64) -> Result<(), ReadError> {
        let content = |source| ReadError::Content {
            path: self.path.clone(),
            source,
        };
        let span = self.span(digest).ok_or_else(|| {
            content(DigestError::SizeMismatch {
                digest: digest.clone(),
                expected: size,
                got: 0,
            })
        })?;
        let mut verifier = Verifier::new(digest, size);
        let mut buf = vec![0; CHUNK as usize];
        let mut pos = 0;
        while pos < span.size {
            let len = CHUNK.min(span.size - pos) as usize;
            self.file
                .read_exact_at(&mut buf[..len], span.offset + pos)
                .map_err(|source| ReadError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            verifier.update(&buf[..len]).map_err(content)?;
            pos += len as u64;
        }
        verifier.finish().map_err(content)
    }
}

/// See [`BundleReader::blob_reader`].
pub struct BlobReader {
    file: Arc<std::fs::File>,
    path: PathBuf,
    offset: u64,
    size: u64,
    pos: u64,
    verifier: Option<Verifier>,
}

impl std::io::Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(verifier) = self.verifier.as_mut() else {
            return Ok(0);
        };
        let want = (buf.len() as u64).min(self.size - self.pos) as usize;
        let n = if want == 0 {
            0
        } else {
            self.file
                .read_at(&mut buf[..want], self.offset + self.pos)?
        };
        if n == 0 && want > 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("`{}`: entry ends early", self.path.display()),
            ));
        }
        verifier.update(&buf[..n]).map_err(std::io::Error::other)?;
        self.pos += n as u64;
        if self.pos == self.size
            && let Some(v) = self.verifier.take()
        {
            v.finish()
                .map_err(|e| std::io::Error::other(format!("`{}`: {e}", self.path.display())))?;
        }
        Ok(n)
    }
}
