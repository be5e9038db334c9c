//! Pushes a bundle into a registry: blobs first (HEAD to skip what exists, cross-repository
//! mount where this run already pushed the blob elsewhere, upload otherwise), then
//! manifests children-first, by digest before by tag, then every tag read back and compared.
//! An image is reported failed, and its manifests never pushed, when any blob it needs failed.

use crate::bundle::index::{BundleIndex, ImageEntry};
use crate::bundle::reader::BundleReader;
use crate::oci::manifest::reduced_index;
use crate::oci::{Descriptor, Digest, ParsedManifest, RawManifest};
use crate::progress::Progress;
use crate::registry::{MountOutcome, Registry, RegistryError};
use futures_util::StreamExt;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Settings for a push.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// Path prepended to every destination repository.
    pub prefix: Option<String>,
    /// Blobs moved at once.
    pub jobs: usize,
    /// Blobs larger than this are uploaded in chunks.
    pub chunk_threshold: u64,
    /// Chunk size for chunked uploads.
    pub chunk_size: u64,
}

/// Outcome for one image.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImageReport {
    /// Source reference from the bundle.
    pub source: String,
    /// Where it went: `host/repo:tag` or `host/repo@digest`.
    pub destination: String,
    /// Digest the destination tag now points at.
    pub digest: Option<Digest>,
    /// `ok` or the error.
    pub status: String,
    /// Extra words: a reduced index's new digest, a platform manifest tagged directly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ImageReport {
    /// Whether the image arrived whole.
    pub fn ok(&self) -> bool {
        self.status == "ok"
    }
}

/// Destination repository for an image: its source path under `prefix`.
pub fn destination_repository(image: &ImageEntry, prefix: Option<&str>) -> String {
    match prefix
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
    {
        Some(p) => format!("{p}/{}", image.repository),
        None => image.repository.clone(),
    }
}

/// Manifests (children first) and blobs an image needs from the bundle.
fn closure(index: &BundleIndex, top: &Digest) -> (Vec<Digest>, BTreeSet<Digest>) {
    let mut manifests = Vec::new();
    let mut blobs = BTreeSet::new();
    fn walk(
        index: &BundleIndex,
        d: &Digest,
        manifests: &mut Vec<Digest>,
        blobs: &mut BTreeSet<Digest>,
    ) {
        if manifests.contains(d) {
            return;
        }
        if let Some(m) = index.manifest(d) {
            for c in &m.children {
                walk(index, c, manifests, blobs);
            }
            blobs.extend(m.blobs.iter().cloned());
        }
        manifests.push(d.clone());
    }
    walk(index, top, &mut manifests, &mut blobs);
    (manifests, blobs)
}

/// Pushes every image of the bundle; returns one report per image.
pub async fn push_bundle(
    reader: &BundleReader,
    registry: &Registry,
    options: &PushOptions,
    progress: &Progress,
) -> Vec<ImageReport> {
    let index = &reader.index;
    // Which repositories need which blobs.
    let mut wanted: Vec<(String, Digest)> = Vec::new();
    let mut closures = Vec::new();
    for image in &index.images {
        let repo = destination_repository(image, options.prefix.as_deref());
        let (manifests, blobs) = closure(index, &image.digest);
        for b in &blobs {
            if !wanted.iter().any(|(r, d)| r == &repo && d == b) {
                wanted.push((repo.clone(), b.clone()));
            }
        }
        closures.push((repo, manifests, blobs));
    }
    // First repository of each blob uploads; the others mount from it afterwards.
    let mut first: HashMap<Digest, String> = HashMap::new();
    let (mut uploads, mut mounts) = (Vec::new(), Vec::new());
    for (repo, digest) in wanted {
        match first.get(&digest) {
            Some(from) => mounts.push((repo, digest, Some(from.clone()))),
            None => {
                first.insert(digest.clone(), repo.clone());
                uploads.push((repo, digest, None));
            }
        }
    }
    let mut failed: HashMap<(String, Digest), String> = HashMap::new();
    for batch in [uploads, mounts] {
        let results: Vec<_> =
            futures_util::stream::iter(batch.into_iter().map(|(repo, digest, from)| async move {
                let result = push_blob(
                    reader,
                    registry,
                    &repo,
                    &digest,
                    from.as_deref(),
                    options,
                    progress,
                )
                .await;
                (repo, digest, result)
            }))
            .buffer_unordered(options.jobs.max(1))
            .collect()
            .await;
        for (repo, digest, result) in results {
            if let Err(e) = result {
                tracing::error!(%repo, %digest, error = %e, "blob push failed");
                failed.insert((repo, digest), e);
            }
        }
    }
    let mut reports = Vec::new();
    let mut pushed_manifests: HashSet<(String, Digest)> = HashSet::new();
    for (image, (repo, manifests, blobs)) in index.images.iter().zip(closures) {
        let name = format!("{}/{repo}", registry.name);
        let destination = match &image.tag {
            Some(t) => format!("{name}:{t}"),
            None => format!("{name}@{}", image.digest),
        };
        let mut report = ImageReport {
            source: image.reference.clone(),
            destination,
            digest: None,
            status: "ok".into(),
            note: None,
        };
        if let Some(((_, d), e)) = blobs
            .iter()
            .find_map(|b| failed.get_key_value(&(repo.clone(), b.clone())))
        {
            report.status = format!("blob {d} failed: {e}");
            reports.push(report);
            continue;
        }
        match push_manifests(
            reader,
            registry,
            &repo,
            image,
            &manifests,
            &mut pushed_manifests,
        )
        .await
        {
            Ok((digest, note)) => {
                report.note = note;
                report.digest = Some(digest.clone());
                if let Some(tag) = &image.tag {
                    match registry.head_manifest(&repo, tag).await {
                        Ok(Some(found)) if found == digest => {}
                        Ok(found) => {
                            report.status = format!(
                                "read back `{repo}:{tag}`: expected {digest}, registry has {}",
                                found.map_or("nothing".into(), |f| f.to_string())
                            )
                        }
                        Err(e) => report.status = format!("read back `{repo}:{tag}`: {e}"),
                    }
                }
            }
            Err(e) => report.status = e,
        }
        reports.push(report);
    }
    reports
}

async fn push_blob(
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
    let item = progress.item(digest.short(), desc.size);
    if registry
        .has_blob(repo, digest)
        .await
        .map_err(|e| e.to_string())?
    {
        item.inc(desc.size);
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
                item.inc(desc.size);
                item.done("mounted");
                return Ok(());
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
    let counted =
        |s: futures_util::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>| s;
    if desc.size > options.chunk_threshold || min_chunk.is_some_and(|m| m > desc.size) {
        reader
            .verify_blob(&desc.digest, desc.size)
            .map_err(|e| RegistryError::Status {
                registry: registry.name.clone(),
                method: "PATCH".into(),
                what: format!("blob {}", desc.digest),
                status: 0,
                body: e.to_string(),
            })?;
        let chunk_size = options.chunk_size.max(min_chunk.unwrap_or(0)).max(1);
        let chunk = |start: u64, len: u64| {
            reqwest::Body::wrap_stream(counted(
                reader.range_stream(&desc.digest, start, len).boxed(),
            ))
        };
        registry
            .put_blob_chunked(repo, location, desc, chunk_size, &chunk)
            .await?;
        item.inc(desc.size);
    } else {
        let body = || reqwest::Body::wrap_stream(counted(reader.blob_stream(desc).boxed()));
        registry.put_blob(repo, &location, desc, &body).await?;
        item.inc(desc.size);
    }
    Ok(())
}

/// Pushes an image's manifests; returns the digest its tag points at and a note.
async fn push_manifests(
    reader: &BundleReader,
    registry: &Registry,
    repo: &str,
    image: &ImageEntry,
    manifests: &[Digest],
    pushed: &mut HashSet<(String, Digest)>,
) -> Result<(Digest, Option<String>), String> {
    let top_entry = reader
        .index
        .manifest(&image.digest)
        .ok_or_else(|| format!("manifest {} is not in the bundle", image.digest))?;
    // The manifest the tag will point at: the original, or for a partial index one child
    // or an index reduced to the children carried.
    let mut note = None;
    let mut extra: Option<RawManifest> = None;
    let mut target = image.digest.clone();
    if top_entry.complete == Some(false) {
        let top = reader.manifest(&image.digest).map_err(|e| e.to_string())?;
        if top_entry.children.len() == 1 {
            target = top_entry.children[0].clone();
            note = Some(format!(
                "one platform carried: tagged its manifest {}",
                target.short()
            ));
        } else {
            let ParsedManifest::Index { manifests: entries } =
                top.parse().map_err(|e| e.to_string())?
            else {
                return Err("index entry is not an index".into());
            };
            let kept: Vec<_> = entries
                .iter()
                .filter(|e| top_entry.children.contains(&e.descriptor.digest))
                .collect();
            let reduced = reduced_index(&top, &kept).map_err(|e| e.to_string())?;
            target = reduced.digest.clone();
            note = Some(format!(
                "{} of {} platforms carried: pushed a reduced index {}",
                kept.len(),
                entries.len(),
                reduced.digest
            ));
            extra = Some(reduced);
        }
    }
    for digest in manifests {
        if digest == &image.digest && top_entry.complete == Some(false) {
            continue; // the original partial index is never pushed: it names absent children
        }
        if pushed.contains(&(repo.to_owned(), digest.clone())) {
            continue;
        }
        let m = reader.manifest(digest).map_err(|e| e.to_string())?;
        registry
            .put_manifest(repo, digest.as_str(), &m)
            .await
            .map_err(|e| e.to_string())?;
        pushed.insert((repo.to_owned(), digest.clone()));
    }
    let target_manifest = match extra {
        Some(m) => {
            registry
                .put_manifest(repo, m.digest.as_str(), &m)
                .await
                .map_err(|e| e.to_string())?;
            m
        }
        None => reader.manifest(&target).map_err(|e| e.to_string())?,
    };
    if let Some(tag) = &image.tag {
        registry
            .put_manifest(repo, tag, &target_manifest)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok((target, note))
}
