//! The pack journal, `<bundle>.journal`: what an interrupted pack had written into its
//! `.partial` file(s), so the same command run again fetches only the rest.
//!
//! One line per fact, appended after the bytes it describes were handed to the file:
//! `done DIGEST` when a blob's entry is complete, `have DIGEST BYTES CRC32` when its first
//! BYTES bytes are (CRC32 of those bytes, hex). The first lines name the format and a key:
//! the digest of the bundle's layout and index. A pack whose key differs (other images,
//! options or registry content) starts fresh. Nothing in the journal is taken on faith:
//! a `done` blob is re-hashed from disk against its digest, a `have` prefix against its
//! CRC, and a blob that fails either is fetched again from its first byte. A torn last
//! line (power loss, `kill -9` mid-write) is ignored.

use crate::oci::Digest;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Version 2: entries carry data descriptors, which moved every offset after the first
/// entry; a version-1 journal's `.partial` file is laid out otherwise and is not resumed.
const MAGIC: &str = "outrider pack journal 2";

/// What an earlier run recorded about one blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// Its entry was complete.
    Done,
    /// Its first `bytes` bytes were written; `crc` is their CRC-32.
    Have {
        /// Bytes written from the blob's start.
        bytes: u64,
        /// CRC-32 of those bytes.
        crc: u32,
    },
}

/// How a pack began: fresh, or on top of an interrupted one.
#[derive(Debug, PartialEq, Eq)]
pub enum Start {
    /// Nothing to resume (no journal, or `--no-resume`).
    Fresh,
    /// A journal for a different pack was there; the reason, for a note.
    Replaced(String),
    /// The journal matches: the `.partial` files are reused.
    Resume,
}

/// Counts of what a resumed pack found, and of what it fetched, for the closing note.
#[derive(Default)]
pub struct Tally {
    /// Blobs found complete on disk.
    pub reused: AtomicU64,
    /// Their bytes, plus the bytes of prefixes resumed.
    pub reused_bytes: AtomicU64,
    /// Blobs whose recorded bytes did not check out, fetched again.
    pub refetched: AtomicU64,
    /// Of those, blobs the `.partial` file was too short to give back (cut by a power
    /// loss before it was flushed, or truncated by hand).
    pub short: AtomicU64,
    /// Bytes received from sources in this run.
    pub fetched_bytes: AtomicU64,
}

impl Tally {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// An open journal: what the last run recorded, and the file this run appends to.
pub struct Journal {
    path: PathBuf,
    file: Mutex<fs_err::File>,
    previous: HashMap<Digest, Record>,
    /// What this run reused and fetched.
    pub tally: Tally,
}

/// `<output>.journal`.
pub fn path_for(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".journal");
    output.with_file_name(name)
}

impl Journal {
    /// Opens the journal for `output`. With `resume` and a journal whose key is `key`,
    /// keeps its records and appends; otherwise starts a new one (the caller then creates
    /// its `.partial` files afresh).
    pub fn open(output: &Path, key: &Digest, resume: bool) -> std::io::Result<(Journal, Start)> {
        let path = path_for(output);
        let (previous, start) = match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (HashMap::new(), Start::Fresh),
            Err(e) => return Err(e),
            Ok(_) if !resume => (HashMap::new(), Start::Fresh),
            Ok(text) => match parse(&text, key) {
                Ok(records) => (records, Start::Resume),
                Err(why) => (HashMap::new(), Start::Replaced(why)),
            },
        };
        let file = if start == Start::Resume {
            fs_err::OpenOptions::new().append(true).open(&path)?
        } else {
            let mut f = fs_err::File::create(&path)?;
            // A journal that could not be begun (a full disk) describes nothing: no stray
            // empty file is left for a rerun to puzzle over.
            if let Err(e) = writeln!(f, "{MAGIC}\nkey {key}").and_then(|()| f.sync_all()) {
                drop(f);
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
            f
        };
        Ok((
            Journal {
                path,
                file: Mutex::new(file),
                previous,
                tally: Tally::default(),
            },
            start,
        ))
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the last run recorded about `digest`.
    pub fn previous(&self, digest: &Digest) -> Option<Record> {
        self.previous.get(digest).copied()
    }

    /// Records that `digest`'s entry is complete.
    pub fn done(&self, digest: &Digest) -> std::io::Result<()> {
        self.append(&format!("done {digest}\n"))
    }

    /// Records that `digest`'s first `bytes` bytes, of CRC-32 `crc`, are written.
    pub fn have(&self, digest: &Digest, bytes: u64, crc: u32) -> std::io::Result<()> {
        self.append(&format!("have {digest} {bytes} {crc:08x}\n"))
    }

    fn append(&self, line: &str) -> std::io::Result<()> {
        // One write per line, in append mode: lines from concurrent downloads never mix.
        self.file
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write_all(line.as_bytes())
    }

    /// Removes the journal once the bundle is complete.
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The records of a journal for `key`, or why it is not one.
fn parse(text: &str, key: &Digest) -> Result<HashMap<Digest, Record>, String> {
    let mut lines = text.lines();
    match lines.next() {
        Some(MAGIC) => {}
        Some(other) if other.starts_with("outrider pack journal ") => {
            return Err(format!(
                "it was written by another version of outrider (`{}`), whose `.partial` file is laid out otherwise",
                crate::output::sanitize(other)
            ));
        }
        _ => return Err("it is not an outrider pack journal".into()),
    }
    if lines.next() != Some(format!("key {key}").as_str()) {
        return Err(
            "it records a different pack (other images, options or registry content)".into(),
        );
    }
    let mut records = HashMap::new();
    // A line without its newline was torn by the interruption: `lines` still yields it,
    // so only lines that parse whole count, and a torn number cannot pass for a record
    // because the CRC then fails the re-check.
    for line in text.lines().skip(2) {
        let mut words = line.split(' ');
        match (words.next(), words.next().map(str::parse::<Digest>)) {
            (Some("done"), Some(Ok(d))) if words.next().is_none() => {
                records.insert(d, Record::Done);
            }
            (Some("have"), Some(Ok(d))) => {
                let bytes = words.next().and_then(|b| b.parse().ok());
                let crc = words.next().and_then(|c| u32::from_str_radix(c, 16).ok());
                if let (Some(bytes), Some(crc), None) = (bytes, crc, words.next()) {
                    // A later `done` wins over any `have`.
                    if records.get(&d) != Some(&Record::Done) {
                        records.insert(d, Record::Have { bytes, crc });
                    }
                }
            }
            _ => {}
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read_back_and_a_torn_or_foreign_journal_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b.zip");
        let key = Digest::of(b"layout");
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        let (j, start) = Journal::open(&out, &key, true).unwrap();
        assert_eq!(start, Start::Fresh);
        j.have(&a, 1 << 20, 0xdead_beef).unwrap();
        j.have(&b, 1 << 20, 1).unwrap();
        j.done(&b).unwrap();
        j.have(&a, 2 << 20, 0xfeed).unwrap();
        drop(j);
        // A torn last line is ignored.
        let mut f = fs_err::OpenOptions::new()
            .append(true)
            .open(path_for(&out))
            .unwrap();
        write!(f, "done {}", &a.to_string()[..20]).unwrap();
        drop(f);

        let (j, start) = Journal::open(&out, &key, true).unwrap();
        assert_eq!(start, Start::Resume);
        assert_eq!(
            j.previous(&a),
            Some(Record::Have {
                bytes: 2 << 20,
                crc: 0xfeed
            })
        );
        assert_eq!(j.previous(&b), Some(Record::Done));
        drop(j);

        let (j, start) = Journal::open(&out, &Digest::of(b"other"), true).unwrap();
        assert!(matches!(start, Start::Replaced(_)), "{start:?}");
        assert_eq!(j.previous(&b), None);
        drop(j);
        let (_, start) = Journal::open(&out, &Digest::of(b"other"), false).unwrap();
        assert_eq!(start, Start::Fresh);
    }
}
