//! Writes a bundle. Every entry is placed (name and size) before its bytes arrive, so
//! concurrent downloads write at their own offsets with positioned writes; its local
//! header goes in with its first bytes, its CRC-32 in the data descriptor after the data. The file lives
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
use std::io::IoSlice;
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

/// One placed entry, whether its local header is in the file, and how far its data is
/// written in order from its first byte.
struct Slot {
    placement: Placement,
    header: bool,
    written: u64,
}

/// A bundle being written. Share it in an `Arc` across download tasks.
pub struct BundleWriter {
    file: Arc<fs_err::File>,
    temp: PathBuf,
    target: PathBuf,
    slots: Mutex<Vec<Slot>>,
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
            slots: Mutex::new(Vec::new()),
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

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves space for an entry of `size` bytes after the last one placed.
    pub fn place(&self, name: &str, size: u64) -> EntryId {
        let mut slots = self.slots();
        let header_offset = slots.last().map_or(0, |s| s.placement.end());
        slots.push(Slot {
            placement: Placement {
                name: name.to_owned(),
                size,
                header_offset,
                crc32: 0,
            },
            header: false,
            written: 0,
        });
        EntryId(slots.len() - 1)
    }

    /// Writes entry `id`'s local header unless it is in the file already: before its first
    /// data, or at its completion. It is final either way (it holds no CRC-32). Written then
    /// rather than at placement, the file grows with the downloads: a header written at
    /// the far end up front would make a filesystem without sparse files (FAT, on the
    /// sticks bundles travel on) write zeros over the whole file first.
    fn ensure_header(&self, id: EntryId) -> Result<(), WriteError> {
        let placement = {
            let mut slots = self.slots();
            let slot = &mut slots[id.0];
            if std::mem::replace(&mut slot.header, true) {
                return Ok(());
            }
            slot.placement.clone()
        };
        let written = self.write_at(
            placement.header_offset,
            &zip_layout::local_header(&placement),
        );
        if written.is_err() {
            self.slots()[id.0].header = false;
        }
        written
    }

    /// File offset where entry `id`'s data starts.
    pub fn data_offset(&self, id: EntryId) -> u64 {
        self.slots()[id.0].placement.data_offset()
    }

    fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<(), WriteError> {
        self.file
            .file()
            .write_all_at(bytes, offset)
            .map_err(|e| self.io(e))
    }

    /// Writes `bytes` into entry `id`'s data from byte `from` of it (blocking; call from a
    /// blocking thread). Data written in order from the entry's first byte is final as it
    /// lands, and the running sha256 may read it at once; a write that goes back over
    /// bytes already written (a download started over) makes that sum useless, and the
    /// file is read back at the end instead.
    pub fn write_data(&self, id: EntryId, from: u64, bytes: &[u8]) -> Result<(), WriteError> {
        self.write_data_vectored(id, from, &mut [IoSlice::new(bytes)])
    }

    /// [`BundleWriter::write_data`] of the slices, one after the other, with as few
    /// system calls as the kernel allows (`pwritev`).
    pub fn write_data_vectored(
        &self,
        id: EntryId,
        from: u64,
        bufs: &mut [IoSlice<'_>],
    ) -> Result<(), WriteError> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        self.ensure_header(id)?;
        let start = self.data_offset(id) + from;
        let (mut offset, mut rest, mut left) = (start, bufs, len);
        while left > 0 {
            match rustix::io::pwritev(self.file.file(), rest, offset) {
                Ok(0) => return Err(self.io(std::io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    offset += n as u64;
                    left -= n;
                    IoSlice::advance_slices(&mut rest, n);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(self.io(e.into())),
            }
        }
        let to = from + len as u64;
        let mut slots = self.slots();
        let slot = &mut slots[id.0];
        if let Some(sum) = &self.sum {
            if from < slot.written {
                sum.spoil();
            } else if from == slot.written {
                sum.advance(id.0, start + len as u64);
            }
        }
        if from <= slot.written {
            slot.written = slot.written.max(to);
        }
        Ok(())
    }

    /// Reads back bytes written earlier (blocking), to re-check what a journal claims.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), WriteError> {
        self.file
            .file()
            .read_exact_at(buf, offset)
            .map_err(|e| self.io(e))
    }

    /// Records the entry's CRC-32 and writes its data descriptor; call once its data is in.
    pub fn complete_entry(&self, id: EntryId, crc32: u32) -> Result<(), WriteError> {
        self.ensure_header(id)?;
        let placement = {
            let mut slots = self.slots();
            slots[id.0].placement.crc32 = crc32;
            slots[id.0].placement.clone()
        };
        self.write_at(
            placement.data_end(),
            &zip_layout::data_descriptor(&placement),
        )?;
        if let Some(sum) = &self.sum {
            sum.complete(id.0, placement.end());
        }
        Ok(())
    }

    /// Places and writes a small entry whose bytes are in memory.
    pub fn write_entry(&self, name: &str, bytes: &[u8]) -> Result<(), WriteError> {
        let id = self.place(name, bytes.len() as u64);
        self.write_data(id, 0, bytes)?;
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
        let placements: Vec<Placement> = self.slots().iter().map(|s| s.placement.clone()).collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn empty_index() -> BundleIndex {
        BundleIndex::new("test".into(), vec![], vec![], vec![], vec![])
    }

    /// Each entry's bytes: distinct, so a byte landing in the wrong place shows.
    fn data(entry: usize, size: usize) -> Vec<u8> {
        (0..size).map(|i| (i * 31 + entry * 7) as u8).collect()
    }

    /// Places `sizes`, then writes them as concurrent downloads would: a late entry
    /// complete first, the frontier entry in chunks between the others' chunks; returns
    /// the finished file and the sum taken on the way.
    fn write_out_of_order(sizes: &[usize], rewrite: bool) -> (PathBuf, Option<Digest>) {
        let dir = tempfile::tempdir().expect("tmp").keep();
        let target = dir.join("b.zip");
        let writer = BundleWriter::create(&target).expect("create").summing();
        let ids: Vec<EntryId> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| writer.place(&format!("blobs/sha256/{i:064x}"), n as u64))
            .collect();
        let chunk = 1000;
        // The last entry lands whole first; the others advance a chunk each in turn,
        // from the back, so the frontier entry is always the one furthest behind.
        let last = sizes.len() - 1;
        let bytes: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &n)| data(i, n)).collect();
        writer
            .write_data(ids[last], 0, &bytes[last])
            .expect("write");
        writer
            .complete_entry(ids[last], crc32fast::hash(&bytes[last]))
            .expect("complete");
        // Where each other entry stands; None once complete.
        let mut at: Vec<Option<usize>> = vec![Some(0); last];
        while at.iter().any(Option::is_some) {
            for i in (0..last).rev() {
                let Some(from) = at[i] else { continue };
                let end = (from + chunk).min(sizes[i]);
                // In three slices, as a batch of network chunks is written.
                let (a, b) = (from + (end - from) / 3, from + (end - from) / 2);
                let mut slices = [
                    IoSlice::new(&bytes[i][from..a]),
                    IoSlice::new(&bytes[i][a..b]),
                    IoSlice::new(&bytes[i][b..end]),
                ];
                writer
                    .write_data_vectored(ids[i], from as u64, &mut slices)
                    .expect("write");
                if rewrite && i == 0 && from == chunk {
                    // A download that starts over writes its first bytes again.
                    writer
                        .write_data(ids[i], 0, &bytes[i][..chunk])
                        .expect("again");
                }
                at[i] = Some(end);
                if end == sizes[i] {
                    writer
                        .complete_entry(ids[i], crc32fast::hash(&bytes[i]))
                        .expect("complete");
                    at[i] = None;
                }
            }
        }
        let (path, sum) = writer.finish(&empty_index(), None).expect("finish");
        (path, sum)
    }

    fn sha256_of(path: &Path) -> Digest {
        Digest::of(&std::fs::read(path).expect("read"))
    }

    #[test]
    fn the_running_sum_follows_the_frontier_entry_and_equals_the_files_sha256() {
        let sizes = [25_000, 0, 7_001, 1, 40_000];
        let (path, sum) = write_out_of_order(&sizes, false);
        assert_eq!(sum, Some(sha256_of(&path)));
        // The zip is one every reader agrees on (entries back to back, descriptors
        // accounted for), and each entry reads back with its CRC-32 checked.
        let file = std::fs::File::open(&path).expect("open");
        let len = file.metadata().expect("len").len();
        super::super::zip_strict::check(&path, &file, len).expect("strict");
        let mut zip = zip::ZipArchive::new(&file).expect("zip");
        for (i, &n) in sizes.iter().enumerate() {
            let mut entry = zip
                .by_name(&format!("blobs/sha256/{i:064x}"))
                .expect("entry");
            let mut back = Vec::new();
            entry.read_to_end(&mut back).expect("CRC-32 checked");
            assert_eq!(back, data(i, n), "entry {i}");
        }
    }

    #[test]
    fn bytes_written_again_give_no_running_sum_so_the_file_is_read_back() {
        let (path, sum) = write_out_of_order(&[5_000, 3_000], true);
        assert_eq!(sum, None);
        assert!(path.exists());
    }
}
