//! Writes a bundle. Every entry is placed (name and size) before its bytes arrive, so
//! concurrent downloads write at their own offsets with positioned writes. The file lives
//! under `<name>.partial` until [`BundleWriter::finish`] writes the index and central
//! directory, syncs, and renames it: an interrupted pack never leaves a finished-looking file.
//! A pack with a journal keeps the `.partial` file when interrupted, so a rerun resumes it.

use super::entry_name::INDEX_ENTRY;
use super::in_order_sum::InOrderSum;
use super::index::BundleIndex;
use super::zip_layout::{self, Placement};
use crate::oci::Digest;
use crate::trust::BundleSigner;
use crate::trust::seal::SIGNATURE_ENTRY;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Failure while writing a bundle; names the file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// An I/O error on the bundle file.
    #[error("writing bundle `{path}`: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The index could not be serialised.
    #[error("serialising the bundle index: {0}")]
    Index(serde_json::Error),
}

/// Index of an entry placed in a writer.
#[derive(Clone, Copy, Debug)]
pub struct EntryId(usize);

/// A bundle being written. Share it in an `Arc` across download tasks.
pub struct BundleWriter {
    file: Arc<fs_err::File>,
    temp: PathBuf,
    target: PathBuf,
    placements: Mutex<Vec<Placement>>,
    finished: Mutex<bool>,
    /// Keep the `.partial` file when dropped unfinished: a journal says what is in it.
    keep: std::sync::atomic::AtomicBool,
    /// The file's sha256 taken while it is written, when asked for ([`BundleWriter::summing`]).
    sum: Option<InOrderSum>,
}

impl BundleWriter {
    /// Creates `<target>.partial`, replacing a leftover one from an interrupted run.
    pub fn create(target: &Path) -> Result<BundleWriter, WriteError> {
        Self::open(target, false)
    }

    /// Opens `<target>.partial`: with `reuse`, the one an interrupted run left, as it is
    /// (the caller re-checks what it holds before trusting it); else a new, empty one.
    pub fn open(target: &Path, reuse: bool) -> Result<BundleWriter, WriteError> {
        let temp = crate::atomic_file::partial_path(target);
        let file = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(!reuse)
            .open(&temp)
            .map_err(|source| WriteError::Io {
                path: temp.clone(),
                source,
            })?;
        Ok(BundleWriter {
            file: Arc::new(file),
            temp,
            target: target.to_owned(),
            placements: Mutex::new(Vec::new()),
            finished: Mutex::new(false),
            keep: std::sync::atomic::AtomicBool::new(false),
            sum: None,
        })
    }

    /// Takes the file's sha256 while it is written ([`super::in_order_sum`]), for
    /// [`BundleWriter::finish`] to return; call before any entry is placed.
    pub fn summing(mut self) -> BundleWriter {
        self.sum = Some(InOrderSum::start(self.file.clone()));
        self
    }

    /// Whether an unfinished writer keeps its `.partial` file when dropped (for a rerun
    /// to resume) or removes it.
    pub fn keep_when_unfinished(&self, keep: bool) {
        self.keep.store(keep, std::sync::atomic::Ordering::SeqCst);
    }

    fn io(&self, source: std::io::Error) -> WriteError {
        WriteError::Io {
            path: self.temp.clone(),
            source,
        }
    }

    /// Whether the `.partial` file holds no byte yet (or cannot be measured).
    pub fn is_empty(&self) -> bool {
        self.file.metadata().map_or(true, |m| m.len() == 0)
    }

    /// Reserves space for an entry of `size` bytes after the last one placed.
    pub fn place(&self, name: &str, size: u64) -> EntryId {
        let mut placements = self.placements.lock().unwrap_or_else(|e| e.into_inner());
        let header_offset = placements.last().map_or(0, Placement::end);
        placements.push(Placement {
            name: name.to_owned(),
            size,
            header_offset,
            crc32: 0,
        });
        EntryId(placements.len() - 1)
    }

    /// File offset where entry `id`'s data starts.
    pub fn data_offset(&self, id: EntryId) -> u64 {
        self.placements.lock().unwrap_or_else(|e| e.into_inner())[id.0].data_offset()
    }

    /// Writes `bytes` at an absolute file offset (blocking; call from a blocking thread).
    pub fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<(), WriteError> {
        self.file
            .file()
            .write_all_at(bytes, offset)
            .map_err(|e| self.io(e))
    }

    /// Reads back bytes written earlier (blocking), to re-check what a journal claims.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), WriteError> {
        self.file
            .file()
            .read_exact_at(buf, offset)
            .map_err(|e| self.io(e))
    }

    /// Records the entry's CRC-32 and writes its local header; call once its data is in.
    pub fn complete_entry(&self, id: EntryId, crc32: u32) -> Result<(), WriteError> {
        let placement = {
            let mut placements = self.placements.lock().unwrap_or_else(|e| e.into_inner());
            placements[id.0].crc32 = crc32;
            placements[id.0].clone()
        };
        self.write_at(
            placement.header_offset,
            &zip_layout::local_header(&placement),
        )?;
        if let Some(sum) = &self.sum {
            sum.complete(id.0, placement.end());
        }
        Ok(())
    }

    /// Places and writes a small entry whose bytes are in memory.
    pub fn write_entry(&self, name: &str, bytes: &[u8]) -> Result<(), WriteError> {
        let id = self.place(name, bytes.len() as u64);
        self.write_at(self.data_offset(id), bytes)?;
        self.complete_entry(id, crc32fast::hash(bytes))
    }

    /// Appends the index (and, with `signer`, its signature `outrider.json.sig`) and the
    /// central directory, syncs and renames to the final name. Returns the final path and,
    /// for a [`BundleWriter::summing`] writer, the file's sha256.
    pub fn finish(
        &self,
        index: &BundleIndex,
        signer: Option<&BundleSigner>,
    ) -> Result<(PathBuf, Option<Digest>), WriteError> {
        let json = serde_json::to_vec_pretty(index).map_err(WriteError::Index)?;
        self.write_entry(INDEX_ENTRY, &json)?;
        if let Some(signer) = signer {
            self.write_entry(SIGNATURE_ENTRY, signer.sign(&json).as_bytes())?;
        }
        let placements = self
            .placements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let end = placements.last().map_or(0, Placement::end);
        let directory = zip_layout::central_directory(&placements, end);
        self.write_at(end, &directory)?;
        let len = end + directory.len() as u64;
        self.file.file().set_len(len).map_err(|e| self.io(e))?;
        let sha256 = match &self.sum {
            Some(sum) => sum.finish(len, placements.len()).map_err(|e| self.io(e))?,
            None => None,
        };
        self.file.sync_all().map_err(|e| self.io(e))?;
        fs_err::rename(&self.temp, &self.target).map_err(|e| self.io(e))?;
        *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = true;
        Ok((self.target.clone(), sha256))
    }
}

impl Drop for BundleWriter {
    /// A writer dropped before `finish` (an error, Ctrl-C unwinding) removes its partial
    /// file, unless told to keep it for a resume.
    fn drop(&mut self) {
        if !*self.finished.lock().unwrap_or_else(|e| e.into_inner())
            && !self.keep.load(std::sync::atomic::Ordering::SeqCst)
        {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
