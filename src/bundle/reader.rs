//! Opens a bundle, or a set of volumes, for random access, checking integrity before
//! meaning: one strict walk of each zip's records finds its entries; every entry must be STORED,
//! named `outrider.json`, `blobs/sha256/<hex>` or `blobs/sha256/<hex>.part-NNNN`, and
//! named once; the index must match its zip CRC-32 before it is parsed, and pass
//! [`validate::check_index`] before anything reads it; every entry must be one the index
//! lists, at the size it lists; and the raw zip structure leaves no other reading
//! ([`super::zip_strict`]: flags, local names, entry count, entries back to back). So a
//! hostile bundle cannot name a path outside anything, smuggle compressed data, shadow an
//! entry with a second copy, show another reader other entries, or lie about sizes. Blob
//! bytes are read by offset ([`BlobReader`]) and verified as they stream. Each file is
//! opened by [`super::volume_file`]; a volume cut short counts as missing.

pub use super::blob_reader::{BlobReader, EntrySpan};
use super::blob_reader::{Piece, chunks};
use super::cut;
use super::entry_name::{INDEX_ENTRY, blob_entry};
use super::index::BundleIndex;
pub use super::read_error::ReadError;
use super::volume_file::{self, Volume, check_same_set, open_file, refuse_unlisted};
use crate::oci::{Damaged, Descriptor, Digest, RawManifest, Verifier};
use crate::trust::seal::SIGNATURE_ENTRY;
use crate::trust::{Seal, TrustedKeys};
use bytes::Bytes;
use futures_util::Stream;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A cut volume named alone: the floor on its size from a sibling beside it, when one
/// opens and the volume's number can be read from its name.
fn with_sibling_floor(e: ReadError, path: &Path, trusted: &TrustedKeys) -> ReadError {
    let number = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".zip"))
        .and_then(|n| n.rsplit_once('.'))
        .and_then(|(_, d)| d.parse::<u32>().ok());
    let sibling = number.and(volume_file::readable_sibling(path, trusted));
    match (number, sibling) {
        (Some(number), Some(sibling)) => {
            match BundleReader::open_set(std::slice::from_ref(&sibling), false, trusted) {
                Ok(reader) => cut::with_floor(e, &reader.index, number),
                Err(_) => e,
            }
        }
        _ => e,
    }
}

/// A bundle (or volume set) opened for reading.
pub struct BundleReader {
    pub(super) path: PathBuf,
    /// The parsed and validated index (the same in every volume but for the number).
    pub index: BundleIndex,
    /// Pieces of every stored blob and manifest present, in order.
    pieces: HashMap<Digest, Vec<Piece>>,
    /// Pieces present of blobs cut into parts some of which are in volumes not given:
    /// they cannot be read whole, but each part can be checked alone.
    pub(super) partial: HashMap<Digest, Vec<Piece>>,
    /// Volumes holding each stored blob or manifest (empty for a single file).
    volumes_of: HashMap<Digest, Vec<u32>>,
    /// Volumes of the set that were not found.
    missing: Vec<(u32, PathBuf)>,
    /// Paths of the volumes read.
    opened: Vec<PathBuf>,
    /// What the (first volume's) signature showed; with trusted keys every volume's
    /// signature was checked.
    seal: Seal,
}

impl BundleReader {
    /// Opens a bundle. For a volume, also finds the other volumes of its set beside it
    /// (`NAME.001.zip`, …); missing ones are recorded (see [`BundleReader::missing_volumes`]).
    pub fn open(path: &Path, trusted: &TrustedKeys) -> Result<BundleReader, ReadError> {
        BundleReader::open_set(std::slice::from_ref(&path.to_path_buf()), true, trusted)
    }

    /// Opens the volumes given (any order), and, when `siblings`, the other volumes of
    /// their set found beside the first.
    /// With `trusted` keys, every volume's index must be signed by one of them.
    pub fn open_set(
        paths: &[PathBuf],
        siblings: bool,
        trusted: &TrustedKeys,
    ) -> Result<BundleReader, ReadError> {
        // `verify --set dir/*` names the checksum list too: it is no volume, say so and
        // read the rest.
        let kept = cut::without_sums_list(paths);
        let paths = kept.as_slice();
        let first = paths.first().ok_or_else(|| ReadError::Index {
            path: PathBuf::new(),
            reason: "no bundle given".into(),
        })?;
        let (volume, index) = match open_file(first, trusted) {
            Ok(opened) => opened,
            Err(e) if !siblings && cut::is_cut(&e) => {
                return Err(with_sibling_floor(e, first, trusted));
            }
            Err(e) if siblings && cut::is_cut(&e) => {
                // A cut volume has no index to read, but any sibling's names the set.
                let Some(other) = volume_file::readable_sibling(first, trusted) else {
                    return Err(e);
                };
                let mut rest = vec![other];
                rest.extend(paths[1..].iter().cloned());
                return BundleReader::open_set(&rest, siblings, trusted);
            }
            Err(e) => return Err(e),
        };
        let seal = volume.seal.clone();
        let Some(info) = index.volume.clone() else {
            return BundleReader::single(first, volume, index);
        };
        // A volume set: gather the volumes given, then their siblings.
        let mut volumes: HashMap<u32, Volume> = HashMap::new();
        volumes.insert(info.number, volume);
        // Volumes cut short count as missing: the images they do not touch stay usable.
        let mut cut_short: Vec<(PathBuf, ReadError)> = Vec::new();
        for p in &paths[1..] {
            match open_file(p, trusted) {
                Ok((v, other)) => {
                    let number = check_same_set(p, &index, &other)?;
                    volumes.insert(number, v);
                }
                Err(e) if cut::is_cut(&e) => cut_short.push((p.clone(), e)),
                Err(e) => return Err(e),
            }
        }
        let width = info.total.to_string().len().max(3);
        let dir = first.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut missing = Vec::new();
        for n in 1..=info.total {
            if volumes.contains_key(&n) {
                continue;
            }
            // `info.name` is a bare file name (validated), so this stays in `dir`.
            let candidate = dir.join(format!("{}.{n:0width$}.zip", info.name));
            let given_cut = cut_short.iter().position(|(p, _)| *p == candidate);
            if let Some(k) = given_cut {
                let (_, e) = cut_short.remove(k);
                cut::note_missing(n, cut::with_floor(e, &index, n));
                missing.push((n, candidate));
            } else if siblings && candidate.exists() {
                match open_file(&candidate, trusted) {
                    Ok((v, other)) => {
                        check_same_set(&candidate, &index, &other)?;
                        volumes.insert(n, v);
                    }
                    Err(e) if cut::is_cut(&e) => {
                        cut::note_missing(n, cut::with_floor(e, &index, n));
                        missing.push((n, candidate));
                    }
                    Err(e) => return Err(e),
                }
            } else {
                missing.push((n, candidate));
            }
        }
        // A cut volume given under another name than its own: its number is unknown.
        if let Some((_, e)) = cut_short.into_iter().next() {
            return Err(e);
        }
        let mut wanted: HashMap<u32, HashSet<&str>> = HashMap::new();
        for h in &info.holdings {
            wanted.entry(h.volume).or_default().insert(h.entry.as_str());
        }
        for (n, v) in &volumes {
            refuse_unlisted(v, wanted.get(n).unwrap_or(&HashSet::new()))?;
        }
        let mut pieces: HashMap<Digest, Vec<Piece>> = HashMap::new();
        let mut shared_paths: HashMap<u32, Arc<Path>> = HashMap::new();
        let mut volumes_of: HashMap<Digest, Vec<u32>> = HashMap::new();
        let mut incomplete: Vec<Digest> = Vec::new();
        for h in &info.holdings {
            let held_in = volumes_of.entry(h.digest.clone()).or_default();
            if held_in.last() != Some(&h.volume) {
                held_in.push(h.volume);
            }
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
                path: shared_paths
                    .entry(h.volume)
                    .or_insert_with(|| Arc::from(v.path.as_path()))
                    .clone(),
                span,
                part: h
                    .part
                    .as_ref()
                    .map(|p| Box::new((p.digest.clone(), h.entry.clone()))),
                volume: h.volume,
            });
        }
        let mut partial = HashMap::new();
        for d in incomplete {
            if let Some(p) = pieces.remove(&d) {
                partial.insert(d, p);
            }
        }
        let mut opened: Vec<(u32, PathBuf)> =
            volumes.iter().map(|(n, v)| (*n, v.path.clone())).collect();
        opened.sort();
        Ok(BundleReader {
            path: first.clone(),
            index,
            pieces,
            partial,
            volumes_of,
            missing,
            opened: opened.into_iter().map(|(_, p)| p).collect(),
            seal,
        })
    }

    /// A bundle in one file: every carried entry is in it at the listed size, and it holds
    /// nothing else.
    fn single(path: &Path, volume: Volume, index: BundleIndex) -> Result<BundleReader, ReadError> {
        let mut pieces = HashMap::with_capacity(index.blobs.len() + index.manifests.len());
        // Entries found for listed items; each is another entry (`validate` made entry
        // names follow from digests, which are unique).
        let mut found = 0usize;
        let shared_path: Arc<Path> = Arc::from(volume.path.as_path());
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
            // `validate` made sure `entry` is `blob_entry(digest)`.
            debug_assert_eq!(*entry, blob_entry(digest));
            let reason = match volume.entries.get(entry) {
                None => format!("{digest} is listed but the bundle has no entry for it"),
                Some(span) if span.size != size => format!(
                    "{digest} is listed as {size} bytes but its entry holds {}",
                    span.size
                ),
                Some(span) => {
                    found += 1;
                    pieces.insert(
                        digest.clone(),
                        vec![Piece {
                            file: volume.file.clone(),
                            path: shared_path.clone(),
                            span: *span,
                            part: None,
                            volume: 0,
                        }],
                    );
                    continue;
                }
            };
            return Err(ReadError::Index {
                path: path.to_owned(),
                reason,
            });
        }
        // Nothing unlisted when the listed entries and the bundle's own account for all;
        // only then is a set of names built, to name the stray entry.
        let own = [INDEX_ENTRY, SIGNATURE_ENTRY]
            .iter()
            .filter(|n| volume.entries.contains_key(**n))
            .count();
        if found + own != volume.entries.len() {
            let wanted: HashSet<&str> = index
                .blobs
                .iter()
                .filter_map(|b| b.entry.as_deref())
                .chain(index.manifests.iter().filter_map(|m| m.entry.as_deref()))
                .collect();
            refuse_unlisted(&volume, &wanted)?;
        }
        Ok(BundleReader {
            path: path.to_owned(),
            index,
            pieces,
            partial: HashMap::new(),
            volumes_of: HashMap::new(),
            missing: Vec::new(),
            opened: vec![path.to_owned()],
            seal: volume.seal,
        })
    }

    /// What the bundle's signature showed.
    pub fn seal(&self) -> &Seal {
        &self.seal
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
    pub fn volumes_of(&self, digest: &Digest) -> &[u32] {
        self.volumes_of.get(digest).map_or(&[], Vec::as_slice)
    }

    fn unavailable(&self, digest: &Digest) -> ReadError {
        match (
            self.volumes_of(digest)
                .iter()
                .find(|n| self.missing.iter().any(|(m, _)| m == *n)),
            &self.index.volume,
        ) {
            (Some(volume), Some(info)) => ReadError::MissingVolume {
                digest: digest.clone(),
                volume: *volume,
                name: info.name.clone(),
            },
            _ => ReadError::Index {
                path: self.path.clone(),
                reason: format!("{digest} is not stored in this bundle"),
            },
        }
    }

    /// A blocking reader over a stored blob that verifies every entry's CRC-32, each part
    /// and the whole: the read that would reach the end fails instead when one differs.
    pub fn blob_reader(&self, digest: &Digest, size: u64) -> Result<BlobReader, ReadError> {
        let pieces = self
            .pieces
            .get(digest)
            .ok_or_else(|| self.unavailable(digest))?
            .clone();
        Ok(BlobReader::new(
            &self.path,
            digest,
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
        // `validate` capped `entry.size` at the largest manifest, so this is bounded.
        let mut buf = Vec::with_capacity(entry.size as usize);
        self.blob_reader(digest, entry.size)?
            .read_to_end(&mut buf)
            .map_err(|e| self.read_error(e))?;
        RawManifest::new(Bytes::from(buf), Some(&entry.media_type)).map_err(|e| ReadError::Index {
            path: self.path.clone(),
            reason: e.to_string(),
        })
    }

    pub(super) fn read_error(&self, e: std::io::Error) -> ReadError {
        match e.into_inner().map(|inner| inner.downcast::<Damaged>()) {
            Some(Ok(damaged)) => ReadError::Damaged(*damaged),
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
    /// only after the digest matched, so a consumer never receives a bad blob whole. A
    /// failure is a [`Damaged`] error inside the `std::io::Error`.
    pub fn blob_stream(
        &self,
        desc: &Descriptor,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static + use<> {
        let reader = self
            .blob_reader(&desc.digest, desc.size)
            .map_err(std::io::Error::other);
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
            Some(p) => Ok(BlobReader::new(
                &self.path,
                digest,
                p.clone(),
                start,
                len,
                None,
            )),
            None => Err(std::io::Error::other(self.unavailable(digest))),
        };
        chunks(reader)
    }

    /// Re-hashes one stored blob or manifest against its digest and size (and each part
    /// against its own digest, each entry against its CRC-32).
    pub fn verify_blob(&self, digest: &Digest, size: u64) -> Result<(), ReadError> {
        let mut reader = self.blob_reader(digest, size)?;
        std::io::copy(&mut reader, &mut std::io::sink())
            .map(|_| ())
            .map_err(|e| self.read_error(e))
    }
}
