//! The sha256 of a bundle file, taken while it is written. Downloads finish in any order
//! and write at their planned offsets, so the file's bytes never pass the writer in order;
//! but entries lie back to back, each local header is written when the entry is placed
//! (the CRC-32 waits in the data descriptor after the data), and each download writes its
//! entry front to back. So the file is final up to the first entry not yet complete, and
//! through as much of that entry's data as has landed. A thread of its own hashes that
//! prefix as it grows, reading it back from the page cache (the bytes were written a
//! moment before), and at the end only what landed last, the index and the central
//! directory are left to hash. The result is the same digest a read-back after the pack
//! would give (`SHA256SUMS`), without a second pass over the whole file once it is done.
//!
//! Following the entry at the frontier matters: four blobs download at once, and the
//! first placed is seldom the first done. When only complete entries counted, most of the
//! file waited behind it and was hashed after the last byte had arrived.

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
    /// Entry `index` (in placement order) is final up to byte `upto`, and not complete.
    Advance { index: usize, upto: u64 },
    /// Entry `index` is complete; it ends at byte `end`.
    Complete { index: usize, end: u64 },
    /// Bytes already reported final were written again: the running sum is of no use.
    Spoil,
    /// Everything is written: `entries` entries, and the file is `len` bytes.
    Finish { len: u64, entries: usize },
}

/// A running in-order sha256 of one file being written.
pub(super) struct InOrderSum {
    events: Mutex<Option<Sender<Event>>>,
    thread: Mutex<Option<JoinHandle<std::io::Result<Option<Digest>>>>>,
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

    fn send(&self, event: Event) {
        if let Some(tx) = &*self.events.lock().unwrap_or_else(|e| e.into_inner()) {
            let _ = tx.send(event);
        }
    }

    /// Entry `index` is written, from its local header on, up to byte `upto`.
    pub(super) fn advance(&self, index: usize, upto: u64) {
        self.send(Event::Advance { index, upto });
    }

    /// Entry `index` is complete, data descriptor included, up to byte `end`.
    pub(super) fn complete(&self, index: usize, end: u64) {
        self.send(Event::Complete { index, end });
    }

    /// Bytes reported final were written again (a download that started over): the sum
    /// stops, and [`InOrderSum::finish`] gives None.
    pub(super) fn spoil(&self) {
        self.send(Event::Spoil);
    }

    /// The file's sha256 once it is `len` bytes and all its `entries` are complete; None when
    /// the thread could not be started or the sum was spoiled (the caller reads the file
    /// back instead).
    pub(super) fn finish(&self, len: u64, entries: usize) -> std::io::Result<Option<Digest>> {
        let Some(tx) = self.events.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return Ok(None);
        };
        let _ = tx.send(Event::Finish { len, entries });
        drop(tx);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        match thread.map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(std::io::Error::other("the sha256 thread panicked")),
            None => Ok(None),
        }
    }
}

/// How far one entry is known to be final.
#[derive(Clone, Copy, Default)]
struct Reach {
    upto: u64,
    complete: bool,
}

/// Hashes the final prefix as events arrive; returns at `Finish` (None after `Spoil`), or
/// with an error when the writer went away before it (the digest is then of no use).
fn run(file: &fs_err::File, events: &Receiver<Event>) -> std::io::Result<Option<Digest>> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; STEP];
    let mut hashed = 0u64;
    // How far each entry not hashed through yet is final, by placement index.
    let mut reach: Vec<Reach> = Vec::new();
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
        let (index, upto, complete) = match events.recv() {
            Ok(Event::Advance { index, upto }) => (index, upto, false),
            Ok(Event::Complete { index, end }) => (index, end, true),
            Ok(Event::Spoil) => return Ok(None),
            Ok(Event::Finish { len, entries }) => {
                if next != entries || hashed > len {
                    return Err(std::io::Error::other(format!(
                        "entry {next} of the bundle was never completed"
                    )));
                }
                hash_to(&mut hasher, &mut hashed, len)?;
                return Ok(Some(Digest::from_sha256(hasher.finalize().into())));
            }
            Err(_) => {
                return Err(std::io::Error::other(
                    "the bundle writer went away before it finished",
                ));
            }
        };
        if index < next {
            continue;
        }
        if reach.len() <= index {
            reach.resize(index + 1, Reach::default());
        }
        let r = &mut reach[index];
        r.upto = r.upto.max(upto);
        r.complete |= complete;
        // Entries before `next` are hashed through; `next` itself as far as it is final.
        while let Some(r) = reach.get(next).copied() {
            if r.upto > hashed {
                hash_to(&mut hasher, &mut hashed, r.upto)?;
            }
            if !r.complete {
                break;
            }
            next += 1;
        }
        if hashed - written_back >= WRITEBACK {
            // Hashed bytes are final and read no more: asking the kernel to write them
            // out now (it starts the writes and does not wait) spreads the disk writes
            // over the download, instead of leaving a whole bundle of dirty pages to the
            // fsync before the rename. Asked only after the hash: the same call drops
            // pages already clean, which the hash would otherwise read back from disk.
            let _ = rustix::fs::fadvise(
                file.file(),
                written_back,
                std::num::NonZeroU64::new(hashed - written_back),
                rustix::fs::Advice::DontNeed,
            );
            written_back = hashed;
        }
    }
}
