//! Writes a [`Plan`] into a bundle: manifests from memory, blobs downloaded concurrently
//! straight into their planned place in the zip, each hashed as it streams and refused on
//! any size or digest mismatch. A blob that fails mid-stream on a transient error is
//! fetched again from the start, up to three times.

use crate::bundle::blob_entry;
use crate::bundle::index::{BlobEntry, BundleIndex, FORMAT, FORMAT_VERSION};
use crate::bundle::writer::{BundleWriter, EntryId, WriteError};
use crate::location::SourceError;
use crate::oci::{DigestError, Verifier};
use crate::plan::{Plan, PlannedBlob};
use crate::progress::Progress;
use futures_util::{StreamExt, TryStreamExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Buffer size for positioned writes.
const WRITE_CHUNK: usize = 1024 * 1024;
/// Attempts per blob on transient source errors.
const ATTEMPTS: u32 = 3;

/// Why a pack failed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Writing the bundle failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// Reading a blob failed.
    #[error("blob {digest} from `{repo}`: {source}")]
    Source {
        /// The blob.
        digest: crate::oci::Digest,
        /// Its repository.
        repo: String,
        /// The cause.
        source: SourceError,
    },
    /// A blob's bytes were not what its descriptor promised.
    #[error("blob from `{repo}` refused: {source}")]
    Content {
        /// Its repository.
        repo: String,
        /// The failed check.
        source: DigestError,
    },
}

/// Writes `plan` to `output` (via `output.partial`) and returns the final path.
pub async fn write_bundle(
    plan: &Plan,
    output: &Path,
    jobs: usize,
    progress: &Progress,
) -> Result<(PathBuf, BundleIndex), PackError> {
    let writer = Arc::new(BundleWriter::create(output)?);
    for (manifest, entry) in &plan.manifests {
        if entry.entry.is_some() {
            writer.write_entry(&blob_entry(&manifest.digest), &manifest.bytes)?;
        }
    }
    let placed: Vec<(EntryId, &PlannedBlob)> = plan
        .blobs
        .iter()
        .filter(|b| b.external.is_none())
        .map(|b| {
            (
                writer.place(&blob_entry(&b.descriptor.digest), b.descriptor.size),
                b,
            )
        })
        .collect();
    futures_util::stream::iter(placed.into_iter().map(|(id, blob)| {
        let writer = writer.clone();
        async move { fetch_blob(plan, blob, &writer, id, progress).await }
    }))
    .buffer_unordered(jobs.max(1))
    .try_collect::<Vec<()>>()
    .await?;
    let index = BundleIndex {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        tool: concat!("outrider ", env!("CARGO_PKG_VERSION")).into(),
        images: plan.images.clone(),
        manifests: plan.manifests.iter().map(|(_, e)| e.clone()).collect(),
        blobs: plan
            .blobs
            .iter()
            .map(|b| BlobEntry {
                digest: b.descriptor.digest.clone(),
                size: b.descriptor.size,
                media_type: b.descriptor.media_type.clone(),
                repositories: b.repositories.clone(),
                entry: b
                    .external
                    .is_none()
                    .then(|| blob_entry(&b.descriptor.digest)),
                destination_repository: b.external.clone(),
            })
            .collect(),
    };
    let writer_for_finish = writer.clone();
    let index_for_finish = index.clone();
    let path = tokio::task::spawn_blocking(move || writer_for_finish.finish(&index_for_finish))
        .await
        .map_err(|e| WriteError::Io {
            path: output.to_owned(),
            source: std::io::Error::other(e),
        })??;
    Ok((path, index))
}

async fn fetch_blob(
    plan: &Plan,
    blob: &PlannedBlob,
    writer: &Arc<BundleWriter>,
    id: EntryId,
    progress: &Progress,
) -> Result<(), PackError> {
    let desc = &blob.descriptor;
    let repo = &blob.repositories[0];
    let item = progress.item(desc.digest.short(), desc.size);
    let base = writer.data_offset(id);
    if let Some(bytes) = plan.prefetched.get(&desc.digest) {
        let mut v = Verifier::new(&desc.digest, desc.size);
        v.update(bytes)
            .and_then(|()| v.finish())
            .map_err(|source| PackError::Content {
                repo: repo.clone(),
                source,
            })?;
        writer.write_at(base, bytes)?;
        writer.complete_entry(id, crc32fast::hash(bytes))?;
        item.inc(desc.size);
        item.done("stored");
        return Ok(());
    }
    let source = &plan.sources[blob.source];
    let mut attempt = 0;
    loop {
        attempt += 1;
        match stream_into(source, repo, desc, writer, base, &item).await {
            Ok(crc) => {
                writer.complete_entry(id, crc)?;
                item.done("stored");
                return Ok(());
            }
            Err((written, StreamFailure::Source(e))) if e.is_transient() && attempt < ATTEMPTS => {
                tracing::warn!(digest = %desc.digest, %repo, error = %e, attempt, "blob download broke; starting it again");
                item.rewind(written);
            }
            Err((_, StreamFailure::Source(source))) => {
                return Err(PackError::Source {
                    digest: desc.digest.clone(),
                    repo: repo.clone(),
                    source,
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

/// Streams one blob into place; returns its CRC-32, or the bytes seen before failing.
/// Double-buffered: one positioned write is in flight on a blocking thread while the next
/// buffer fills and is hashed, so network, hashing and disk overlap.
async fn stream_into(
    source: &crate::location::Source,
    repo: &str,
    desc: &crate::oci::Descriptor,
    writer: &Arc<BundleWriter>,
    base: u64,
    item: &crate::progress::ItemProgress,
) -> Result<u32, (u64, StreamFailure)> {
    let mut stream = source
        .blob(repo, desc)
        .await
        .map_err(|e| (0, StreamFailure::Source(e)))?;
    let mut verifier = Verifier::new(&desc.digest, desc.size);
    let mut crc = crc32fast::Hasher::new();
    let mut buffer = Vec::with_capacity(WRITE_CHUNK);
    let mut offset = base;
    let mut in_flight: Option<tokio::task::JoinHandle<Result<(), WriteError>>> = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| (verifier.seen(), StreamFailure::Source(e)))?;
        verifier
            .update(&chunk)
            .map_err(|e| (verifier.seen(), StreamFailure::Content(e)))?;
        crc.update(&chunk);
        buffer.extend_from_slice(&chunk);
        item.inc(chunk.len() as u64);
        if buffer.len() >= WRITE_CHUNK {
            let seen = verifier.seen();
            wait(in_flight.take())
                .await
                .map_err(|e| (seen, StreamFailure::Write(e)))?;
            let data = std::mem::replace(&mut buffer, Vec::with_capacity(WRITE_CHUNK));
            let len = data.len() as u64;
            let w = writer.clone();
            in_flight = Some(tokio::task::spawn_blocking(move || {
                w.write_at(offset, &data)
            }));
            offset += len;
        }
    }
    let seen = verifier.seen();
    let finished = verifier
        .finish()
        .map_err(|e| (seen, StreamFailure::Content(e)));
    // Even on a failed check, let the write in flight end before the writer may be dropped.
    let written = wait(in_flight.take())
        .await
        .map_err(|e| (seen, StreamFailure::Write(e)));
    finished?;
    written?;
    if !buffer.is_empty() {
        let w = writer.clone();
        wait(Some(tokio::task::spawn_blocking(move || {
            w.write_at(offset, &buffer)
        })))
        .await
        .map_err(|e| (seen, StreamFailure::Write(e)))?;
    }
    Ok(crc.finalize())
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
