//! One blob from its source into the bundle's segments, verified as it streams: the
//! network read, the hashing and the positioned writes overlap, a transient break or a
//! stall resumes the blob where it stopped (HTTP `Range`; a source that answers with the
//! whole blob starts it over), and a wrong byte fails it before it is complete.

use super::journal::{Journal, Record, Tally};
use super::pack_error::PackError;
use crate::bundle::writer::{BundleWriter, EntryId, WriteError};
use crate::oci::{Digest, DigestError, Verifier};
use crate::plan::{Plan, PlannedBlob};
use crate::progress::Progress;
use crate::sources::{Source, SourceError};
use bytes::Bytes;
use futures_util::StreamExt;
use std::path::PathBuf;
use std::sync::Arc;

/// Bytes gathered per positioned write.
const WRITE_CHUNK: usize = 1024 * 1024;
/// Chunks gathered per write at most, well under the system's limit on one vectored
/// write (IOV_MAX, 1024 on Linux), for sources that send small chunks.
const MAX_SLICES: usize = 256;
/// Attempts per blob on transient source errors.
const ATTEMPTS: u32 = 3;

/// Where one segment of a blob or manifest goes.
#[derive(Clone)]
pub struct Placed {
    pub(super) writer: Arc<BundleWriter>,
    pub(super) id: EntryId,
    /// File offset of the segment's first byte.
    pub(super) file_offset: u64,
    /// Offset of the segment in the blob.
    pub(super) blob_offset: u64,
    pub(super) size: u64,
}

/// Writes in-memory bytes into their segments; returns each segment's part digest when
/// the item is cut into parts.
pub(super) fn write_bytes(
    segments: &[Placed],
    bytes: &[u8],
) -> Result<Vec<Option<Digest>>, WriteError> {
    let split = segments.len() > 1;
    let mut digests = Vec::new();
    for s in segments {
        let slice = &bytes[s.blob_offset as usize..(s.blob_offset + s.size) as usize];
        s.writer.write_data(s.id, 0, slice)?;
        s.writer.complete_entry(s.id, crc32fast::hash(slice))?;
        digests.push(split.then(|| Digest::of(slice)));
    }
    Ok(digests)
}

pub(super) async fn fetch_blob(
    plan: &Plan,
    blob: &PlannedBlob,
    segments: &[Placed],
    progress: &Progress,
    journal: Option<&Arc<Journal>>,
) -> Result<Vec<Option<Digest>>, PackError> {
    let desc = &blob.descriptor;
    let repo = &blob.repositories[0];
    let item = progress.item(&format!("{repo}@{}", desc.digest.short()), desc.size);
    if let Some(bytes) = plan.prefetched.get(&desc.digest) {
        let mut v = Verifier::new(&desc.digest, desc.size);
        v.update(bytes)
            .and_then(|()| v.finish())
            .map_err(|source| PackError::Content {
                repo: repo.clone(),
                source,
            })?;
        let digests = write_bytes(segments, bytes)?;
        item.skip(desc.size);
        item.done("stored");
        return Ok(digests);
    }
    let source = &plan.sources[blob.source];
    let mut transfer = Transfer::new(desc, segments, journal);
    if let Some(journal) = journal {
        match journal.previous(&desc.digest) {
            Some(Record::Done) => {
                // A `.partial` shorter than the journal claims (power lost before the
                // file was flushed) cannot be read back: like bytes that do not hash,
                // that is a reason to fetch the blob again, never to stop.
                match transfer.reread(desc.size).await {
                    Ok(reread) => {
                        if let Ok(finished) = reread.finish().await {
                            let digests = complete(segments, finished)?;
                            Tally::add(&journal.tally.reused, 1);
                            Tally::add(&journal.tally.reused_bytes, desc.size);
                            item.skip(desc.size);
                            item.done("already on disk");
                            return Ok(digests);
                        }
                        tracing::warn!(digest = %desc.digest, "the journal says this blob is complete, but its bytes on disk do not hash to it; fetching it again");
                    }
                    Err(e) => {
                        Tally::add(&journal.tally.short, 1);
                        tracing::warn!(digest = %desc.digest, error = %e, "the journal says this blob is complete, but the `.partial` file cannot give its bytes back; fetching it again");
                    }
                }
                Tally::add(&journal.tally.refetched, 1);
                transfer = Transfer::new(desc, segments, Some(journal));
            }
            Some(Record::Have { bytes, crc }) if bytes > 0 && bytes < desc.size => {
                match transfer.reread(bytes).await {
                    Ok(t) if t.whole_crc.clone().finalize() == crc => {
                        transfer = t;
                        Tally::add(&journal.tally.reused_bytes, bytes);
                        item.skip(bytes);
                    }
                    reread => {
                        if reread.is_err() {
                            Tally::add(&journal.tally.short, 1);
                        }
                        Tally::add(&journal.tally.refetched, 1);
                        tracing::warn!(digest = %desc.digest, bytes, "the journal's record of this blob's first bytes does not match the disk; fetching it from the start");
                        transfer = Transfer::new(desc, segments, Some(journal));
                    }
                }
            }
            _ => {}
        }
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let offset = transfer.verifier.seen();
        let result = pull(&**source, repo, desc, segments, &item, &mut transfer).await;
        let settled = transfer.settle().await;
        match result {
            Ok(()) => {
                settled?;
                let finished = transfer
                    .finish()
                    .await
                    .map_err(|f| f.into_pack_error(desc, repo))?;
                let digests = complete(segments, finished)?;
                if let Some(journal) = journal {
                    journal
                        .done(&desc.digest)
                        .map_err(|e| journal_error(journal, e))?;
                }
                item.done("stored");
                return Ok(digests);
            }
            Err(StreamFailure::Source(e)) if e.is_transient() && attempt < ATTEMPTS => {
                settled?;
                let reached = transfer.verifier.seen();
                // A link that keeps moving forward is not failing: only attempts that
                // gained less than a chunk count against the limit.
                if reached >= offset + WRITE_CHUNK as u64 {
                    attempt = 0;
                }
                tracing::warn!(digest = %desc.digest, %repo, error = %e, attempt, reached, "blob download broke; resuming where it stopped");
            }
            Err(failure) => return Err(failure.into_pack_error(desc, repo)),
        }
    }
}

/// Completes each segment's entry (its data descriptor); returns the part digests (for a
/// blob in parts).
fn complete(
    segments: &[Placed],
    finished: Vec<(u32, Option<Digest>)>,
) -> Result<Vec<Option<Digest>>, WriteError> {
    let split = segments.len() > 1;
    let mut digests = Vec::new();
    for (s, (crc, sha)) in segments.iter().zip(finished) {
        s.writer.complete_entry(s.id, crc)?;
        digests.push(split.then_some(sha).flatten());
    }
    Ok(digests)
}

fn journal_error(journal: &Journal, source: std::io::Error) -> WriteError {
    WriteError::Io {
        path: journal.path().to_owned(),
        source,
    }
}

enum StreamFailure {
    Source(SourceError),
    Content(DigestError),
    Write(WriteError),
}

impl StreamFailure {
    /// The pack's error for a blob of `repo` that failed this way.
    fn into_pack_error(self, desc: &crate::oci::Descriptor, repo: &str) -> PackError {
        match self {
            StreamFailure::Source(source) => PackError::Source {
                digest: desc.digest.clone(),
                repo: repo.to_owned(),
                source: Box::new(source),
            },
            StreamFailure::Content(source) => PackError::Content {
                repo: repo.to_owned(),
                source,
            },
            StreamFailure::Write(e) => e.into(),
        }
    }
}

/// Per-segment checksums while a blob streams: CRC-32 for the zip, sha256 for parts.
struct SegmentSums {
    crc: crc32fast::Hasher,
    sha: Option<sha2::Sha256>,
}

/// One attempt: asks the source for the blob from where `transfer` stands (HTTP `Range`)
/// and feeds what arrives. A source that sends the whole blob again restarts the transfer.
async fn pull(
    source: &dyn Source,
    repo: &str,
    desc: &crate::oci::Descriptor,
    segments: &[Placed],
    item: &crate::progress::ItemProgress,
    transfer: &mut Transfer,
) -> Result<(), StreamFailure> {
    let offset = transfer.verifier.seen();
    let (mut stream, start) = source
        .blob(repo, desc, offset)
        .await
        .map_err(StreamFailure::Source)?;
    if start != offset {
        transfer.settle().await.map_err(StreamFailure::Write)?;
        *transfer = Transfer::new(desc, segments, transfer.journal.as_ref());
        item.rewind();
    } else if offset > 0 {
        tracing::debug!(digest = %desc.digest, offset, "resumed with Range");
    }
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(StreamFailure::Source)?;
        if let Some(journal) = &transfer.journal {
            Tally::add(&journal.tally.fetched_bytes, chunk.len() as u64);
        }
        let n = chunk.len() as u64;
        transfer.feed(chunk).await?;
        item.inc(n);
    }
    Ok(())
}

/// A blob's transfer so far: bytes hashed, checksummed per segment and handed to the
/// writers, kept across attempts so a broken download resumes at the byte it reached.
/// Double-buffered: one batch of positioned writes is in flight on a blocking thread while
/// the next batch gathers and is hashed, so network, hashing and disk overlap. A batch is
/// the chunks as they came off the network, written with one vectored write: gathering
/// them into one buffer first was a copy of every byte.
struct Transfer {
    verifier: Verifier,
    /// CRC-32 of the whole blob so far: what a journal line records of a prefix.
    whole_crc: crc32fast::Hasher,
    journal: Option<Arc<Journal>>,
    sums: Vec<SegmentSums>,
    shared: Arc<Vec<Placed>>,
    /// Segment being filled, and the blob offset reached in the checksums.
    current: usize,
    pos: u64,
    /// Bytes not yet written, and the blob offset they start at.
    batch: Vec<Bytes>,
    batch_len: usize,
    buffer_start: u64,
    in_flight: Option<tokio::task::JoinHandle<Result<(), WriteError>>>,
}

impl Transfer {
    fn new(
        desc: &crate::oci::Descriptor,
        segments: &[Placed],
        journal: Option<&Arc<Journal>>,
    ) -> Transfer {
        use sha2::Digest as _;
        let split = segments.len() > 1;
        Transfer {
            verifier: Verifier::new(&desc.digest, desc.size),
            whole_crc: crc32fast::Hasher::new(),
            journal: journal.cloned(),
            sums: segments
                .iter()
                .map(|_| SegmentSums {
                    crc: crc32fast::Hasher::new(),
                    sha: split.then(sha2::Sha256::new),
                })
                .collect(),
            shared: Arc::new(segments.to_vec()),
            current: 0,
            pos: 0,
            batch: Vec::new(),
            batch_len: 0,
            buffer_start: 0,
            in_flight: None,
        }
    }

    /// Hashes, checksums and gathers one chunk, sending full batches to the writers; each
    /// written batch is then recorded in the journal.
    async fn feed(&mut self, chunk: Bytes) -> Result<(), StreamFailure> {
        self.absorb(&chunk).map_err(StreamFailure::Content)?;
        self.batch_len += chunk.len();
        self.batch.push(chunk);
        if self.batch_len >= WRITE_CHUNK || self.batch.len() >= MAX_SLICES {
            self.settle().await.map_err(StreamFailure::Write)?;
            let data = std::mem::take(&mut self.batch);
            let start = self.buffer_start;
            self.buffer_start += std::mem::take(&mut self.batch_len) as u64;
            let segs = self.shared.clone();
            let record = self.journal.clone().map(|j| {
                let d = self.verifier.digest().clone();
                (j, d, self.buffer_start, self.whole_crc.clone().finalize())
            });
            self.in_flight = Some(tokio::task::spawn_blocking(move || {
                write_span(&segs, start, &data)?;
                match record {
                    Some((j, digest, end, crc)) => {
                        j.have(&digest, end, crc).map_err(|e| journal_error(&j, e))
                    }
                    None => Ok(()),
                }
            }));
        }
        Ok(())
    }

    /// Reads back the blob's first `upto` bytes from the bundle, as a resume starts:
    /// they go through the same hashes as bytes from the network, so the digest check at
    /// the end covers them too.
    async fn reread(self, upto: u64) -> Result<Transfer, WriteError> {
        joined(tokio::task::spawn_blocking(move || {
            let mut t = self;
            let mut buf = vec![0u8; WRITE_CHUNK];
            while t.pos < upto {
                let n = ((upto - t.pos) as usize).min(WRITE_CHUNK);
                read_span(&t.shared, t.pos, &mut buf[..n])?;
                // `upto` never passes the size, so the verifier cannot refuse a byte here.
                let _ = t.absorb(&buf[..n]);
            }
            t.buffer_start = upto;
            Ok(t)
        }))
        .await
    }

    /// Runs a chunk through the digest, the whole-blob CRC and the segments' checksums.
    fn absorb(&mut self, chunk: &[u8]) -> Result<(), DigestError> {
        use sha2::Digest as _;
        self.verifier.update(chunk)?;
        self.whole_crc.update(chunk);
        let segments = &self.shared;
        let mut rest = chunk;
        while !rest.is_empty() && self.current < segments.len() {
            let seg = &segments[self.current];
            let n = ((seg.blob_offset + seg.size - self.pos) as usize).min(rest.len());
            self.sums[self.current].crc.update(&rest[..n]);
            if let Some(sha) = self.sums[self.current].sha.as_mut() {
                sha.update(&rest[..n]);
            }
            self.pos += n as u64;
            rest = &rest[n..];
            if self.pos == seg.blob_offset + seg.size {
                self.current += 1;
            }
        }
        Ok(())
    }

    /// Waits for the write in flight, so writers are never dropped under it.
    async fn settle(&mut self) -> Result<(), WriteError> {
        wait(self.in_flight.take()).await
    }

    /// Checks the digest and size, writes the rest, and returns each segment's CRC-32 and
    /// part digest.
    async fn finish(mut self) -> Result<Vec<(u32, Option<Digest>)>, StreamFailure> {
        use sha2::Digest as _;
        self.settle().await.map_err(StreamFailure::Write)?;
        self.verifier.finish().map_err(StreamFailure::Content)?;
        if !self.batch.is_empty() {
            let (segs, start, data) = (self.shared.clone(), self.buffer_start, self.batch);
            joined(tokio::task::spawn_blocking(move || {
                write_span(&segs, start, &data)
            }))
            .await
            .map_err(StreamFailure::Write)?;
        }
        Ok(self
            .sums
            .into_iter()
            .map(|s| {
                (
                    s.crc.finalize(),
                    s.sha.map(|h| Digest::from_sha256(h.finalize().into())),
                )
            })
            .collect())
    }
}

/// The segments that blob bytes `start..start + len` overlap: each with the file offset
/// where the overlap begins and the overlap's range within those bytes.
fn overlaps(
    segments: &[Placed],
    start: u64,
    len: usize,
) -> impl Iterator<Item = (&Placed, u64, std::ops::Range<usize>)> {
    let end = start + len as u64;
    segments.iter().filter_map(move |s| {
        let (from, to) = (start.max(s.blob_offset), end.min(s.blob_offset + s.size));
        (from < to).then(|| {
            (
                s,
                s.file_offset + (from - s.blob_offset),
                (from - start) as usize..(to - start) as usize,
            )
        })
    })
}

/// Writes `data`, chunks that start at blob offset `start`, into the segments they overlap:
/// one vectored write per segment.
fn write_span(segments: &[Placed], start: u64, data: &[Bytes]) -> Result<(), WriteError> {
    let len = data.iter().map(Bytes::len).sum();
    for (s, at, range) in overlaps(segments, start, len) {
        let mut pieces = Vec::with_capacity(data.len());
        let mut pos = 0;
        for chunk in data {
            let (from, to) = (pos.max(range.start), (pos + chunk.len()).min(range.end));
            if from < to {
                pieces.push(std::io::IoSlice::new(&chunk[from - pos..to - pos]));
            }
            pos += chunk.len();
        }
        s.writer
            .write_data_vectored(s.id, at - s.file_offset, &mut pieces)?;
    }
    Ok(())
}

/// Reads into `buf` the blob bytes from `start` out of the segments they lie in.
fn read_span(segments: &[Placed], start: u64, buf: &mut [u8]) -> Result<(), WriteError> {
    for (s, at, range) in overlaps(segments, start, buf.len()) {
        s.writer.read_at(at, &mut buf[range])?;
    }
    Ok(())
}

/// The result of a blocking task; a task that panicked is an I/O error on the bundle.
async fn joined<T>(
    handle: tokio::task::JoinHandle<Result<T, WriteError>>,
) -> Result<T, WriteError> {
    handle.await.map_err(|e| WriteError::Io {
        path: PathBuf::from("(bundle)"),
        source: std::io::Error::other(e),
    })?
}

async fn wait(
    handle: Option<tokio::task::JoinHandle<Result<(), WriteError>>>,
) -> Result<(), WriteError> {
    match handle {
        None => Ok(()),
        Some(h) => joined(h).await,
    }
}
