//! The sha256 of a bundle file, taken while it is written. Downloads finish in any order
//! and write at their planned offsets, so the file's bytes never pass the writer in order;
//! but entries lie back to back, so once every entry up to some point is complete, that
//! prefix is final. A thread of its own hashes each such prefix as it grows, reading it
//! back from the page cache (the bytes were written a moment before), and at the end only
//! the index and the central directory are left to hash. The result is the same digest a
//! read-back after the pack would give (`SHA256SUMS`), without a second pass over the
//! whole file once it is done: that pass cost as much as the download itself.

use crate::oci::Digest;
use sha2::{Digest as _, Sha256};
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Bytes read back per step.
const STEP: usize = 1 << 20;
/// Bytes hashed between two requests to start writing the hashed prefix out.
const WRITEBACK: u64 = 64 << 20;

enum Event {
    /// Entry `index` (in placement order) is complete; it ends at byte `end`.
    Complete { index: usize, end: u64 },
    /// Everything is written: `entries` entries, and the file is `len` bytes.
    Finish { len: u64, entries: usize },
}

/// A running in-order sha256 of one file being written.
pub(super) struct InOrderSum {
    events: Mutex<Option<Sender<Event>>>,
    thread: Mutex<Option<JoinHandle<std::io::Result<Digest>>>>,
}

impl InOrderSum {
    /// Starts the hashing thread over `file`.
    pub(super) fn start(file: Arc<fs_err::File>) -> InOrderSum {
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("bundle-sha256".into())
            .spawn(move || run(&file, &rx))
            .ok();
        InOrderSum {
            events: Mutex::new(thread.is_some().then_some(tx)),
            thread: Mutex::new(thread),
        }
    }

    /// Entry `index` is complete up to byte `end` (its local header written last).
    pub(super) fn complete(&self, index: usize, end: u64) {
        if let Some(tx) = &*self.events.lock().unwrap_or_else(|e| e.into_inner()) {
            let _ = tx.send(Event::Complete { index, end });
        }
    }

    /// The file's sha256 once it is `len` bytes and all its `entries` are complete; None when
    /// the thread could not be started (the caller reads the file back instead).
    pub(super) fn finish(&self, len: u64, entries: usize) -> std::io::Result<Option<Digest>> {
        let Some(tx) = self.events.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return Ok(None);
        };
        let _ = tx.send(Event::Finish { len, entries });
        drop(tx);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        match thread.map(JoinHandle::join) {
            Some(Ok(result)) => result.map(Some),
            Some(Err(_)) => Err(std::io::Error::other("the sha256 thread panicked")),
            None => Ok(None),
        }
    }
}

/// Hashes complete prefixes as events arrive; returns at `Finish`, or with an error when
/// the writer went away before it (the digest is then of no use to anyone).
fn run(file: &fs_err::File, events: &Receiver<Event>) -> std::io::Result<Digest> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; STEP];
    let mut hashed = 0u64;
    // End offset of each complete entry not hashed yet, by placement index.
    let mut ends: Vec<Option<u64>> = Vec::new();
    let mut next = 0usize;
    let mut written_back = 0u64;
    let mut hash_to = |hasher: &mut Sha256, from: &mut u64, to: u64| -> std::io::Result<()> {
        while *from < to {
            let n = ((to - *from) as usize).min(STEP);
            file.file().read_exact_at(&mut buf[..n], *from)?;
            hasher.update(&buf[..n]);
            *from += n as u64;
        }
        Ok(())
    };
    loop {
        match events.recv() {
            Ok(Event::Complete { index, end }) => {
                if ends.len() <= index {
                    ends.resize(index + 1, None);
                }
                ends[index] = Some(end);
                while let Some(Some(end)) = ends.get(next).copied() {
                    hash_to(&mut hasher, &mut hashed, end)?;
                    next += 1;
                }
                if hashed - written_back >= WRITEBACK {
                    // Hashed bytes are final and read no more: asking the kernel to
                    // write them out now (it starts the writes and does not wait) spreads
                    // the disk writes over the download, instead of leaving a whole
                    // bundle of dirty pages to the fsync before the rename. Asked only
                    // after the hash: the same call drops pages already clean, which
                    // the hash would otherwise read back from disk.
                    let _ = rustix::fs::fadvise(
                        file.file(),
                        written_back,
                        std::num::NonZeroU64::new(hashed - written_back),
                        rustix::fs::Advice::DontNeed,
                    );
                    written_back = hashed;
                }
            }
            Ok(Event::Finish { len, entries }) => {
                if next != entries || hashed > len {
                    return Err(std::io::Error::other(format!(
                        "entry {next} of the bundle was never completed"
                    )));
                }
                hash_to(&mut hasher, &mut hashed, len)?;
                return Ok(Digest::from_sha256(hasher.finalize().into()));
            }
            Err(_) => {
                return Err(std::io::Error::other(
                    "the bundle writer went away before it finished",
                ));
            }
        }
    }
}
