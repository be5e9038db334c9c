//! One blob into a registry repository, from a bundle: skip it when present, mount it
//! from where this run already put it, or upload it (monolithic or chunked) with its
//! bytes counted on the progress bar as they leave.

use super::to_registry::PushOptions;
use crate::bundle::reader::{BundleReader, ReadError};
use crate::oci::{Descriptor, Digest};
use crate::progress::Progress;
use crate::registry::{MountOutcome, Registry, RegistryError};
use futures_util::TryStreamExt;

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
    if desc.size > options.chunk_threshold || min_chunk.is_some_and(|m| m > desc.size) {
        reader
            .verify_blob(&desc.digest, desc.size)
            .map_err(|e| match e {
                ReadError::Damaged(d) => RegistryError::Damaged(d),
                other => RegistryError::Damaged(crate::oci::Damaged(other.to_string())),
            })?;
        let chunk_size = options.chunk_size.max(min_chunk.unwrap_or(0)).max(1);
        let counter = item.counter();
        let chunk = |start: u64, len: u64| {
            let counter = counter.clone();
            reqwest::Body::wrap_stream(
                reader
                    .range_stream(&desc.digest, start, len)
                    .inspect_ok(move |b| counter.inc(b.len() as u64)),
            )
        };
        registry
            .put_blob_chunked(repo, location, desc, chunk_size, &chunk)
            .await?;
    } else {
        // Counted as sent; a retry opens the body again and counts from zero.
        let counter = item.counter();
        let body = || {
            counter.rewind();
            let counter = counter.clone();
            reqwest::Body::wrap_stream(
                reader
                    .blob_stream(desc)
                    .inspect_ok(move |b| counter.inc(b.len() as u64)),
            )
        };
        registry.put_blob(repo, &location, desc, &body).await?;
    }
    item.complete();
    Ok(())
}
