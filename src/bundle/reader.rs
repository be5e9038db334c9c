//! Opens a bundle, or a set of volumes, for random access. The zip crate parses each
//! central directory; every entry must be STORED and named `outrider.json`,
//! `blobs/sha256/<hex>` or `blobs/sha256/<hex>.part-NNNN`, so a hostile bundle cannot name a
//! path outside anything, smuggle compressed data, or lie about sizes. Blob bytes are read
//! by offset — across volumes for a blob cut into parts — and verified against their
//! digests (each part's and the whole blob's) as they stream.

use super::index::{BundleIndex, FORMAT, FORMAT_VERSION};
use super::{INDEX_ENTRY, blob_entry};
use crate::oci::{Descriptor, Digest, DigestError, RawManifest, Verifier};
use bytes::Bytes;
use futures_util::Stream;
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest index accepted (a bundle with 100 000 blobs has an index of ~40 MiB).
const MAX_INDEX_BYTES: u64 = 256 * 1024 * 1024;
/// Read size for streaming blobs out.
const CHUNK: usize = 1024 * 1024;

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
    /// A blob lives in a volume that is not here.
    #[error("{digest} is in volume {volume} of `{name}`, which is missing")]
    MissingVolume {
        /// The blob.
        digest: Digest,
        /// Its volume.
        volume: u32,
        /// The set's name.
        name: String,
    },
}

/// Where an entry's bytes are in its file.
#[derive(Clone, Copy, Debug)]
pub struct EntrySpan {
    /// Offset of the first data byte.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
}

/// One opened zip file.
struct Volume {
    path: PathBuf,
    file: Arc<std::fs::File>,
    entries: HashMap<String, EntrySpan>,
}

/// A contiguous piece of a blob: the whole of it, or one part.
#[derive(Clone)]
struct Piece {
    file: Arc<std::fs::File>,
    path: PathBuf,
    span: EntrySpan,
    /// For a part: its own digest.
    digest: Option<Digest>,
}

/// A bundle (or volume set) opened for reading.
pub struct BundleReader {
    path: PathBuf,
    /// The parsed index (the same in every volume but for the volume number).
    pub index: BundleIndex,
    /// Pieces of every stored blob and manifest present, in order.
    pieces: HashMap<Digest, Vec<Piece>>,
    /// Volumes of the set that were not found.
    missing: Vec<(u32, PathBuf)>,
    /// Paths of the volumes read.
    opened: Vec<PathBuf>,
}

fn open_file(path: &Path) -> Result<(Volume, BundleIndex), ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let (file, _) = fs_err::File::open(path).map_err(io)?.into_parts();
    let not_zip = |e: zip::result::ZipError| ReadError::NotZip {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(&file).map_err(not_zip)?;
    let mut entries = HashMap::new();
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(not_zip)?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let bad = |reason| ReadError::BadEntry {
            path: path.to_owned(),
            name: crate::output::sanitize(&name),
            reason,
        };
        let valid_name = name == INDEX_ENTRY
            || name.strip_prefix("blobs/sha256/").is_some_and(|rest| {
                let (hex, part) = rest
                    .split_once(".part-")
                    .map_or((rest, None), |(h, p)| (h, Some(p)));
                format!("sha256:{hex}").parse::<Digest>().is_ok()
                    && part.is_none_or(|p| p.len() == 4 && p.bytes().all(|b| b.is_ascii_digit()))
            });
        if !valid_name {
            return Err(bad(
                "only `outrider.json` and `blobs/sha256/<hex>[.part-NNNN]` belong in a bundle",
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
    let bad_index = |reason: String| ReadError::Index {
        path: path.to_owned(),
        reason,
    };
    let span = *entries
        .get(INDEX_ENTRY)
        .ok_or_else(|| bad_index("no `outrider.json` entry".into()))?;
    if span.size > MAX_INDEX_BYTES {
        return Err(bad_index(format!(
            "index is {} bytes, over the {MAX_INDEX_BYTES} limit",
            span.size
        )));
    }
    let mut buf = vec![0; span.size as usize];
    file.read_exact_at(&mut buf, span.offset).map_err(io)?;
    let index: BundleIndex = serde_json::from_slice(&buf).map_err(|e| bad_index(e.to_string()))?;
    if index.format != FORMAT || index.format_version > FORMAT_VERSION {
        return Err(bad_index(format!(
            "format `{}` version {} (this outrider reads `{FORMAT}` up to version {FORMAT_VERSION})",
            crate::output::sanitize(&index.format),
            index.format_version
        )));
    }
    Ok((
        Volume {
            path: path.to_owned(),
            file: Arc::new(file),
            entries,
        },
        index,
    ))
}

impl BundleReader {
    /// Opens a bundle. For a volume, also finds the other volumes of its set beside it
    /// (`NAME.001.zip`, …); missing ones are recorded (see [`BundleReader::missing_volumes`]).
    pub fn open(path: &Path) -> Result<BundleReader, ReadError> {
        BundleReader::open_set(std::slice::from_ref(&path.to_path_buf()), true)
    }

    /// Opens the volumes given (any order), and, when `siblings`, the other volumes of
    /// their set found beside the first.
    pub fn open_set(paths: &[PathBuf], siblings: bool) -> Result<BundleReader, ReadError> {
        let first = paths.first().ok_or_else(|| ReadError::Index {
            path: PathBuf::new(),
            reason: "no bundle given".into(),
        })?;
        let (volume, index) = open_file(first)?;
        let Some(info) = index.volume.clone() else {
            let mut pieces = HashMap::new();
            let listed = index
                .blobs
                .iter()
                .map(|b| (&b.digest, b.size, &b.entry))
                .chain(
                    index
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
                    match volume.entries.get(entry) {
                        None => Some(format!(
                            "{digest} is listed but the bundle has no entry for it"
                        )),
                        Some(span) if span.size != size => Some(format!(
                            "{digest} is listed as {size} bytes but its entry holds {}",
                            span.size
                        )),
                        Some(span) => {
                            pieces.insert(
                                digest.clone(),
                                vec![Piece {
                                    file: volume.file.clone(),
                                    path: volume.path.clone(),
                                    span: *span,
                                    digest: None,
                                }],
                            );
                            None
                        }
                    }
                };
                if let Some(reason) = reason {
                    return Err(ReadError::Index {
                        path: first.clone(),
                        reason,
                    });
                }
            }
            return Ok(BundleReader {
                path: first.clone(),
                index,
                pieces,
                missing: Vec::new(),
                opened: vec![first.clone()],
            });
        };
        // A volume set: gather the volumes given, then their siblings.
        let mut volumes: HashMap<u32, Volume> = HashMap::new();
        volumes.insert(info.number, volume);
        for p in &paths[1..] {
            let (v, other) = open_file(p)?;
            let number = check_same_set(p, &info, &other)?;
            volumes.insert(number, v);
        }
        let width = info.total.to_string().len().max(3);
        let dir = first.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut missing = Vec::new();
        for n in 1..=info.total {
            if volumes.contains_key(&n) {
                continue;
            }
            let candidate = dir.join(format!("{}.{n:0width$}.zip", info.name));
            if siblings && candidate.exists() {
                let (v, other) = open_file(&candidate)?;
                check_same_set(&candidate, &info, &other)?;
                volumes.insert(n, v);
            } else {
                missing.push((n, candidate));
            }
        }
        let mut pieces: HashMap<Digest, Vec<Piece>> = HashMap::new();
        let mut incomplete: Vec<Digest> = Vec::new();
        for h in &info.holdings {
            let Some(v) = volumes.get(&h.volume) else {
                incomplete.push(h.digest.clone());
                continue;
            };
            let want = h
                .part
                .as_ref()
                .map(|p| p.size)
                .or_else(|| index.size_of(&h.digest));
            let span = match v.entries.get(&h.entry) {
                Some(span) if Some(span.size) == want => *span,
                _ => {
                    return Err(ReadError::Index {
                        path: v.path.clone(),
                        reason: format!(
                            "holding `{}` of {} is missing or of another size",
                            crate::output::sanitize(&h.entry),
                            h.digest
                        ),
                    });
                }
            };
            pieces.entry(h.digest.clone()).or_default().push(Piece {
                file: v.file.clone(),
                path: v.path.clone(),
                span,
                digest: h.part.as_ref().map(|p| p.digest.clone()),
            });
        }
        for d in incomplete {
            pieces.remove(&d);
        }
        let mut opened: Vec<(u32, PathBuf)> =
            volumes.iter().map(|(n, v)| (*n, v.path.clone())).collect();
        opened.sort();
        Ok(BundleReader {
            path: first.clone(),
            index,
            pieces,
            missing,
            opened: opened.into_iter().map(|(_, p)| p).collect(),
        })
    }

    /// The bundle's path (the first volume given).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The files read.
    pub fn opened(&self) -> &[PathBuf] {
        &self.opened
    }

    /// Volumes of the set that were not found: number and expected path.
    pub fn missing_volumes(&self) -> &[(u32, PathBuf)] {
        &self.missing
    }

    /// Whether the bytes of `digest` are here (stored, and every volume holding them found).
    pub fn has(&self, digest: &Digest) -> bool {
        self.pieces.contains_key(digest)
    }

    /// Volumes (numbers) that hold part of `digest`.
    pub fn volumes_of(&self, digest: &Digest) -> Vec<u32> {
        self.index.volume.as_ref().map_or_else(Vec::new, |v| {
            let mut n: Vec<u32> = v
                .holdings
                .iter()
                .filter(|h| &h.digest == digest)
                .map(|h| h.volume)
                .collect();
            n.dedup();
            n
        })
    }

    fn unavailable(&self, digest: &Digest, size: u64) -> ReadError {
        match (
            self.volumes_of(digest)
                .into_iter()
                .find(|n| self.missing.iter().any(|(m, _)| m == n)),
            &self.index.volume,
        ) {
            (Some(volume), Some(info)) => ReadError::MissingVolume {
                digest: digest.clone(),
                volume,
                name: info.name.clone(),
            },
            _ => ReadError::Content {
                path: self.path.clone(),
                source: DigestError::SizeMismatch {
                    digest: digest.clone(),
                    expected: size,
                    got: 0,
                },
            },
        }
    }

    /// A blocking reader over a stored blob that verifies each part and the whole: the
    /// read that would reach the end fails instead when a digest or size differs.
    pub fn blob_reader(&self, digest: &Digest, size: u64) -> Result<BlobReader, ReadError> {
        let pieces = self
            .pieces
            .get(digest)
            .ok_or_else(|| self.unavailable(digest, size))?
            .clone();
        Ok(BlobReader::new(
            pieces,
            0,
            size,
            Some(Verifier::new(digest, size)),
        ))
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
        if entry.size > crate::oci::manifest::MAX_MANIFEST_BYTES {
            return Err(ReadError::Index {
                path: self.path.clone(),
                reason: format!("manifest {digest} is larger than a manifest may be"),
            });
        }
        let mut buf = Vec::with_capacity(entry.size as usize);
        self.blob_reader(digest, entry.size)?
            .read_to_end(&mut buf)
            .map_err(|e| self.read_error(e))?;
        RawManifest::new(Bytes::from(buf), Some(&entry.media_type)).map_err(|e| ReadError::Index {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    fn read_error(&self, e: std::io::Error) -> ReadError {
        match e.into_inner().map(|inner| inner.downcast::<DigestError>()) {
            Some(Ok(source)) => ReadError::Content {
                path: self.path.clone(),
                source: *source,
            },
            Some(Err(other)) => ReadError::Io {
                path: self.path.clone(),
                source: std::io::Error::other(other),
            },
            None => ReadError::Io {
                path: self.path.clone(),
                source: std::io::Error::other("read failed"),
            },
        }
    }

    /// Streams a blob's bytes, verifying sizes and digests; the last chunk is handed on
    /// only after the digest matched, so a consumer never receives a bad blob whole.
    pub fn blob_stream(
        &self,
        desc: &Descriptor,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static + use<> {
        let reader = self
            .blob_reader(&desc.digest, desc.size)
            .map_err(|e| std::io::Error::other(e.to_string()));
        chunks(reader)
    }

    /// Streams `len` bytes of a stored blob from `start`, unverified: for chunked uploads
    /// of a blob already checked whole with [`BundleReader::verify_blob`].
    pub fn range_stream(
        &self,
        digest: &Digest,
        start: u64,
        len: u64,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static + use<> {
        let reader = match self.pieces.get(digest) {
            Some(p) => Ok(BlobReader::new(p.clone(), start, len, None)),
            None => Err(std::io::Error::other(format!(
                "`{}` holds no blob {digest}",
                self.path.display()
            ))),
        };
        chunks(reader)
    }

    /// Re-hashes one stored blob or manifest against its digest and size (and each part
    /// against its own digest).
    pub fn verify_blob(&self, digest: &Digest, size: u64) -> Result<(), ReadError> {
        let mut reader = self.blob_reader(digest, size)?;
        std::io::copy(&mut reader, &mut std::io::sink())
            .map(|_| ())
            .map_err(|e| self.read_error(e))
    }
}

fn check_same_set(
    path: &Path,
    info: &super::index::VolumeInfo,
    other: &BundleIndex,
) -> Result<u32, ReadError> {
    match &other.volume {
        Some(o) if o.bundle == info.bundle => Ok(o.number),
        _ => Err(ReadError::Index {
            path: path.to_owned(),
            reason: format!("not a volume of the set `{}` ({})", info.name, info.bundle),
        }),
    }
}

/// A blocking reader over `len` bytes from `start` of a blob's pieces. With a whole-blob
/// verifier it also checks each part's digest; a failed check fails the read that would
/// have completed the part or the blob.
pub struct BlobReader {
    pieces: Vec<Piece>,
    /// Index of the current piece and position in the blob.
    current: usize,
    piece_start: u64,
    pos: u64,
    end: u64,
    whole: Option<Verifier>,
    part: Option<Verifier>,
}

impl BlobReader {
    fn new(pieces: Vec<Piece>, start: u64, len: u64, whole: Option<Verifier>) -> BlobReader {
        let mut r = BlobReader {
            pieces,
            current: 0,
            piece_start: 0,
            pos: start,
            end: start + len,
            part: None,
            whole,
        };
        // Skip to the piece holding `start`.
        while r.current < r.pieces.len()
            && r.piece_start + r.pieces[r.current].span.size <= start
            && r.pieces[r.current].span.size > 0
        {
            r.piece_start += r.pieces[r.current].span.size;
            r.current += 1;
        }
        r.start_part();
        r
    }

    fn start_part(&mut self) {
        self.part = match (self.whole.is_some(), self.pieces.get(self.current)) {
            (true, Some(p)) => p.digest.as_ref().map(|d| Verifier::new(d, p.span.size)),
            _ => None,
        };
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.pos >= self.end {
                if let Some(v) = self.whole.take() {
                    v.finish().map_err(std::io::Error::other)?;
                }
                return Ok(0);
            }
            let Some(piece) = self.pieces.get(self.current) else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "blob ends before its size",
                ));
            };
            let in_piece = self.pos - self.piece_start;
            if in_piece >= piece.span.size {
                self.piece_start += piece.span.size;
                self.current += 1;
                self.start_part();
                continue;
            }
            let want = (buf.len() as u64)
                .min(piece.span.size - in_piece)
                .min(self.end - self.pos) as usize;
            let n = piece
                .file
                .read_at(&mut buf[..want], piece.span.offset + in_piece)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("`{}`: entry ends early", piece.path.display()),
                ));
            }
            if let Some(v) = self.whole.as_mut() {
                v.update(&buf[..n]).map_err(std::io::Error::other)?;
            }
            if let Some(v) = self.part.as_mut() {
                v.update(&buf[..n]).map_err(std::io::Error::other)?;
                if v.is_complete()
                    && let Some(v) = self.part.take()
                {
                    v.finish().map_err(std::io::Error::other)?;
                }
            }
            self.pos += n as u64;
            if self.pos == self.end
                && let Some(v) = self.whole.take()
            {
                v.finish().map_err(std::io::Error::other)?;
            }
            return Ok(n);
        }
    }
}

/// A reader as a stream of 1 MiB chunks, each read on a blocking thread.
fn chunks(
    reader: Result<BlobReader, std::io::Error>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::unfold(Some(reader), |state| async move {
        let mut reader = match state? {
            Ok(r) => r,
            Err(e) => return Some((Err(e), None)),
        };
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; CHUNK];
            let mut filled = 0;
            while filled < CHUNK {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(filled);
            Ok((buf, reader))
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        match read {
            Ok((buf, _)) if buf.is_empty() => None,
            Ok((buf, reader)) => Some((Ok(Bytes::from(buf)), Some(Ok(reader)))),
            Err(e) => Some((Err(e), None)),
        }
    })
}
