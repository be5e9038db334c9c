//! One blob from its source into the bundle's segments, verified as it streams: the
//! network read, the hashing and the positioned writes overlap, a transient break starts
//! the blob again, and a wrong byte fails it before it is complete.

use super::to_bundle::{PackError, Placed};
use crate::bundle::writer::WriteError;
use crate::location::SourceError;
use crate::oci::{Digest, DigestError, Verifier};
use crate::plan::{Plan, PlannedBlob};
use crate::progress::Progress;
use futures_util::StreamExt;
use std::path::PathBuf;
use std::sync::Arc;

/// Buffer size for positioned writes.
const WRITE_CHUNK: usize = 1024 * 1024;
/// Attempts per blob on transient source errors.
const ATTEMPTS: u32 = 3;

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
        s.writer.write_at(s.file_offset, slice)?;
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
        item.inc(desc.size);
        item.done("stored");
        return Ok(digests);
    }
    let source = &plan.sources[blob.source];
    let mut attempt = 0;
    loop {
        attempt += 1;
        match stream_into(source, repo, desc, segments, &item).await {
            Ok(finished) => {
                let split = segments.len() > 1;
                let mut digests = Vec::new();
                for (s, (crc, sha)) in segments.iter().zip(finished) {
                    s.writer.complete_entry(s.id, crc)?;
                    digests.push(split.then_some(sha).flatten());
                }
                item.done("stored");
                return Ok(digests);
            }
            Err((_, StreamFailure::Source(e))) if e.is_transient() && attempt < ATTEMPTS => {
                tracing::warn!(digest = %desc.digest, %repo, error = %e, attempt, "blob download broke; starting it again");
                item.rewind();
            }
            Err((_, StreamFailure::Source(source))) => {
                return Err(PackError::Source {
                    digest: desc.digest.clone(),
                    repo: repo.clone(),
                    source: Box::new(source),
                });
            }
            Err((_, StreamFailure::Content(source))) => {
                return Err(PackError::Content {
                    repo: repo.clone(),
                    source,
                });
            }
            Err((_, StreamFailure::Write(e))) => return Err(e.into()),
        }
    }
}

enum StreamFailure {
    Source(SourceError),
    Content(DigestError),
    Write(WriteError),
}

/// Per-segment checksums while a blob streams: CRC-32 for the zip, sha256 for parts.
struct SegmentSums {
    crc: crc32fast::Hasher,
    sha: Option<sha2::Sha256>,
}

/// Streams one blob into its segments; returns each segment's CRC-32 and part digest, or
/// the bytes seen before failing. Double-buffered: one batch of positioned writes is in
/// flight on a blocking thread while the next buffer fills and is hashed, so network,
/// hashing and disk overlap.
async fn stream_into(
    source: &crate::location::Source,
    repo: &str,
    desc: &crate::oci::Descriptor,
    segments: &[Placed],
    item: &crate::progress::ItemProgress,
) -> Result<Vec<(u32, Option<Digest>)>, (u64, StreamFailure)> {
    use sha2::Digest as _;
    let mut stream = source
        .blob(repo, desc)
        .await
        .map_err(|e| (0, StreamFailure::Source(e)))?;
    let mut verifier = Verifier::new(&desc.digest, desc.size);
    let split = segments.len() > 1;
    let mut sums: Vec<SegmentSums> = segments
        .iter()
        .map(|_| SegmentSums {
            crc: crc32fast::Hasher::new(),
            sha: split.then(sha2::Sha256::new),
        })
        .collect();
    let shared: Arc<Vec<Placed>> = Arc::new(segments.to_vec());
    let (mut current, mut pos) = (0usize, 0u64);
    let mut buffer = Vec::with_capacity(WRITE_CHUNK);
    let mut buffer_start = 0u64;
    let mut in_flight: Option<tokio::task::JoinHandle<Result<(), WriteError>>> = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| (verifier.seen(), StreamFailure::Source(e)))?;
        verifier
            .update(&chunk)
            .map_err(|e| (verifier.seen(), StreamFailure::Content(e)))?;
        let mut rest = &chunk[..];
        while !rest.is_empty() && current < segments.len() {
            let seg = &segments[current];
            let n = ((seg.blob_offset + seg.size - pos) as usize).min(rest.len());
            sums[current].crc.update(&rest[..n]);
            if let Some(sha) = sums[current].sha.as_mut() {
                sha.update(&rest[..n]);
            }
            pos += n as u64;
            rest = &rest[n..];
            if pos == seg.blob_offset + seg.size {
                current += 1;
            }
        }
        buffer.extend_from_slice(&chunk);
        item.inc(chunk.len() as u64);
        if buffer.len() >= WRITE_CHUNK {
            let seen = verifier.seen();
            wait(in_flight.take())
                .await
                .map_err(|e| (seen, StreamFailure::Write(e)))?;
            let data = std::mem::replace(&mut buffer, Vec::with_capacity(WRITE_CHUNK));
            let start = buffer_start;
            buffer_start += data.len() as u64;
            let segs = shared.clone();
            in_flight = Some(tokio::task::spawn_blocking(move || {
                write_span(&segs, start, &data)
            }));
        }
    }
    let seen = verifier.seen();
    let finished = verifier
        .finish()
        .map_err(|e| (seen, StreamFailure::Content(e)));
    // Even on a failed check, let the write in flight end before the writers may be dropped.
    let written = wait(in_flight.take())
        .await
        .map_err(|e| (seen, StreamFailure::Write(e)));
    finished?;
    written?;
    if !buffer.is_empty() {
        let segs = shared.clone();
        wait(Some(tokio::task::spawn_blocking(move || {
            write_span(&segs, buffer_start, &buffer)
        })))
        .await
        .map_err(|e| (seen, StreamFailure::Write(e)))?;
    }
    Ok(sums
        .into_iter()
        .map(|s| {
            (
                s.crc.finalize(),
                s.sha.map(|h| Digest::from_sha256(h.finalize().into())),
            )
        })
        .collect())
}

/// Writes `data`, which starts at blob offset `start`, into the segments it overlaps.
fn write_span(segments: &[Placed], start: u64, data: &[u8]) -> Result<(), WriteError> {
    let end = start + data.len() as u64;
    for s in segments {
        let (from, to) = (start.max(s.blob_offset), end.min(s.blob_offset + s.size));
        if from < to {
            s.writer.write_at(
                s.file_offset + (from - s.blob_offset),
                &data[(from - start) as usize..(to - start) as usize],
            )?;
        }
    }
    Ok(())
}

async fn wait(
    handle: Option<tokio::task::JoinHandle<Result<(), WriteError>>>,
) -> Result<(), WriteError> {
    match handle {
        None => Ok(()),
        Some(h) => h.await.map_err(|e| WriteError::Io {
            path: PathBuf::from("(bundle)"),
            source: std::io::Error::other(e),
        })?,
    }
}
