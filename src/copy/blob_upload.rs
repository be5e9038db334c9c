//! One blob into a registry repository, from a bundle: skip it when present, mount it
//! from where this run already put it, or upload it (monolithic or chunked) with its
//! bytes counted on the progress bar as they leave.

use super::push_plan::PushOptions;
use crate::bundle::reader::{BundleReader, ReadError};
use crate::oci::{Descriptor, Digest};
use crate::progress::Progress;
use crate::registry::stall::StallWatch;
use crate::registry::{MountOutcome, Registry, RegistryError};
use futures_util::{StreamExt, TryStreamExt};

/// Puts one blob into `repo`: nothing when it is there, a mount when `mount_from`
/// holds it, an upload otherwise (chunked past the threshold), counted as it is sent.
pub(super) async fn push_blob(
    reader: &BundleReader,
    registry: &Registry,
    repo: &str,
    digest: &Digest,
    mount_from: Option<&str>,
    options: &PushOptions,
    progress: &Progress,
) -> Result<(), String> {
    let entry = reader
        .index
        .blob(digest)
        .ok_or_else(|| format!("blob {digest} is not in the bundle"))?;
    let desc = Descriptor {
        media_type: entry.media_type.clone(),
        digest: digest.clone(),
        size: entry.size,
    };
    let item = progress.item(&format!("{repo}@{}", digest.short()), desc.size);
    if registry
        .has_blob(repo, digest)
        .await
        .map_err(|e| e.to_string())?
    {
        item.complete();
        item.done("exists");
        return Ok(());
    }
    let location = match mount_from {
        Some(from) => match registry
            .mount_blob(repo, digest, from)
            .await
            .map_err(|e| e.to_string())?
        {
            MountOutcome::Mounted => {
                item.complete();
                item.done("mounted");
                return Ok(());
            }
            MountOutcome::Upload(_) if entry.entry.is_none() => {
                return Err(format!(
                    "the registry declined to mount external blob {digest} from `{from}`, and the bundle does not carry it"
                ));
            }
            MountOutcome::Upload(location) => {
                tracing::debug!(%repo, %digest, "mount declined; uploading");
                (location, None)
            }
        },
        None => registry
            .start_upload(repo)
            .await
            .map_err(|e| e.to_string())?,
    };
    let (location, min_chunk) = location;
    upload(
        reader, registry, repo, &desc, location, min_chunk, options, &item,
    )
    .await
    .map_err(|e| e.to_string())?;
    item.done("uploaded");
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn upload(
    reader: &BundleReader,
    registry: &Registry,
    repo: &str,
    desc: &Descriptor,
    location: String,
    min_chunk: Option<u64>,
    options: &PushOptions,
    item: &crate::progress::ItemProgress,
) -> Result<(), RegistryError> {
    // Every piece handed to the connection marks the watch: an upload fails on silence,
    // never on length.
    let watch = StallWatch::new();
    let counter = item.counter();
    let chunk = |start: u64, len: u64| {
        let (counter, watch) = (counter.clone(), watch.clone());
        reqwest::Body::wrap_stream(
            in_pieces(reader.range_stream(&desc.digest, start, len)).inspect_ok(move |b| {
                counter.inc(b.len() as u64);
                watch.touch();
            }),
        )
    };
    let chunk_size = options.chunk_size.max(min_chunk.unwrap_or(0)).max(1);
    if desc.size > options.chunk_threshold || min_chunk.is_some_and(|m| m > desc.size) {
        verify_first(reader, desc)?;
        registry
            .put_blob_chunked(repo, location, desc, chunk_size, &chunk, 0, &watch)
            .await?;
    } else {
        // Counted as sent; a new attempt opens the body again and counts from zero.
        let body = || {
            counter.rewind();
            let (counter, watch) = (counter.clone(), watch.clone());
            reqwest::Body::wrap_stream(in_pieces(reader.blob_stream(desc)).inspect_ok(move |b| {
                counter.inc(b.len() as u64);
                watch.touch();
            }))
        };
        let Err(error) = registry
            .put_blob(repo, &location, desc, &body, &watch)
            .await
        else {
            item.complete();
            return Ok(());
        };
        if !error.is_transient() && !error.may_hold_part() && !error.asks_to_wait() {
            return Err(error);
        }
        if error.asks_to_wait() {
            let wait = crate::registry::http::backoff(1, None);
            tracing::warn!(%repo, digest = %desc.digest, %error, ?wait, "asked to wait; going on after the pause");
            tokio::time::sleep(wait).await;
        }
        // A registry committing a large blob can answer after --timeout: the blob being
        // there is the answer that counts.
        if registry.has_blob(repo, &desc.digest).await.unwrap_or(false) {
            item.complete();
            return Ok(());
        }
        // Before anything else, ask the registry where the broken upload stands: go on
        // from the bytes it holds, or, when it dropped the session, send the blob again
        // in a new one. Sending to a dropped session would fail with a wrong cause.
        match registry.upload_status(repo, &location, desc.size).await {
            Ok((at, reached)) => {
                tracing::warn!(%repo, digest = %desc.digest, %error, reached, "upload broke; continuing from what the registry holds");
                verify_first(reader, desc)?;
                counter.rewind();
                counter.skip(reached);
                registry
                    .put_blob_chunked(repo, at, desc, chunk_size, &chunk, reached, &watch)
                    .await?;
            }
            Err(_) => {
                tracing::warn!(%repo, digest = %desc.digest, %error, "upload broke and the registry dropped it; uploading the blob again in a new session");
                let (again, _) = registry.start_upload(repo).await?;
                registry.put_blob(repo, &again, desc, &body, &watch).await?;
            }
        }
    }
    item.complete();
    Ok(())
}

/// Bytes handed to the connection at a time. The bundle reads 1 MiB at once; sent as
/// they are, a link below ~17 KB/s a stream would move no piece within 60 s and the watch
/// would call it stalled. 64 KiB pieces mark progress every few seconds at modem speed.
const PIECE: usize = 64 * 1024;

/// `stream` re-cut into pieces of at most [`PIECE`] bytes (no copy: `Bytes` are shared).
fn in_pieces<E>(
    stream: impl futures_util::Stream<Item = Result<bytes::Bytes, E>>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, E>> {
    stream.flat_map(|read| {
        let pieces: Vec<Result<bytes::Bytes, E>> = match read {
            Ok(mut b) => {
                let mut out = Vec::with_capacity(b.len().div_ceil(PIECE));
                while b.len() > PIECE {
                    out.push(Ok(b.split_to(PIECE)));
                }
                out.push(Ok(b));
                out
            }
            Err(e) => vec![Err(e)],
        };
        futures_util::stream::iter(pieces)
    })
}

/// Checks a blob whole before it is sent in pieces: a piece cannot be checked alone, and
/// the registry must never be left holding a damaged blob under its digest.
fn verify_first(reader: &BundleReader, desc: &Descriptor) -> Result<(), RegistryError> {
    reader
        .verify_blob(&desc.digest, desc.size)
        .map_err(|e| match e {
            ReadError::Damaged(d) => RegistryError::Damaged(d),
            other => RegistryError::Damaged(crate::oci::Damaged(other.to_string())),
        })
}
