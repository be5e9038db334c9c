//! Writes a [`Plan`] into a bundle, or into volumes of at most `--volume-size` bytes:
//! manifests from memory, blobs downloaded concurrently straight into their planned place
//! (a blob larger than a volume lands in parts across several), each hashed as it streams
//! and refused on any size or digest mismatch. A blob that fails mid-stream on a transient
//! error is fetched again from the start, up to three times.

use super::blob_fetch::{fetch_blob, write_bytes};
use crate::bundle::blob_entry;
use crate::bundle::index::{BlobEntry, BundleIndex, Holding, Part, VolumeInfo};
use crate::bundle::volumes::{self, Item, Segment};
use crate::bundle::writer::{BundleWriter, EntryId, WriteError};
use crate::location::SourceError;
use crate::oci::{Digest, DigestError};
use crate::plan::{Plan, PlannedBlob};
use crate::progress::Progress;
use crate::trust::BundleSigner;
use futures_util::{StreamExt, TryStreamExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
        source: Box<SourceError>,
    },
    /// The volume size cannot hold the bundle's index and headers.
    #[error("{0}")]
    Volumes(String),
    /// A blob's bytes were not what its descriptor promised.
    #[error("blob from `{repo}` refused: {source}")]
    Content {
        /// Its repository.
        repo: String,
        /// The failed check.
        source: DigestError,
    },
}

/// Where one segment of a blob or manifest goes.
#[derive(Clone)]
pub(super) struct Placed {
    pub(super) writer: Arc<BundleWriter>,
    pub(super) id: EntryId,
    /// File offset of the segment's first byte.
    pub(super) file_offset: u64,
    /// Offset of the segment in the blob.
    pub(super) blob_offset: u64,
    pub(super) size: u64,
}

/// The files a pack writes: one bundle, or `<stem>.NNN.zip` volumes.
fn volume_paths(output: &Path, total: u32, split: bool) -> (String, Vec<PathBuf>) {
    let file = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bundle.zip".into());
    let stem = file.strip_suffix(".zip").unwrap_or(&file).to_owned();
    if !split {
        return (stem, vec![output.to_owned()]);
    }
    let width = total.to_string().len().max(3);
    let paths = (1..=total)
        .map(|n| output.with_file_name(format!("{stem}.{n:0width$}.zip")))
        .collect();
    (stem, paths)
}

fn base_index(plan: &Plan) -> BundleIndex {
    BundleIndex::new(
        concat!("outrider ", env!("CARGO_PKG_VERSION")).into(),
        plan.images.clone(),
        plan.manifests.iter().map(|(_, e)| e.clone()).collect(),
        plan.blobs
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
        plan.referrers.clone(),
    )
}

/// The volume block of the index for volume `number`; part digests as known so far.
/// Identity of a volume set, the same in every volume's index.
struct SetName<'a> {
    bundle: &'a Digest,
    name: &'a str,
    total: u32,
    limit: u64,
}

fn volume_info(
    set: &SetName<'_>,
    number: u32,
    items: &[Item],
    segments: &[Segment],
    part_digests: &[Option<Digest>],
) -> VolumeInfo {
    let holdings = segments
        .iter()
        .enumerate()
        .map(|(i, s)| Holding {
            digest: items[s.item].digest.clone(),
            volume: s.volume,
            entry: s.name.clone(),
            part: s.part.map(|(number, count)| Part {
                number,
                count,
                offset: s.offset,
                size: s.size,
                digest: part_digests
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| Digest::of(b"")),
            }),
        })
        .collect();
    VolumeInfo {
        bundle: set.bundle.clone(),
        name: set.name.to_owned(),
        number,
        total: set.total,
        size_limit: set.limit,
        holdings,
    }
}

/// How a plan is laid out in files, before any byte is written.
pub struct Layout {
    /// Everything stored, in write order: manifests (children first), then blobs.
    pub items: Vec<Item>,
    /// How many of `items` are manifests (they come first).
    pub manifest_count: usize,
    /// Where each item, or part of one, goes.
    pub segments: Vec<Segment>,
    /// The index, without the volume block.
    pub index: BundleIndex,
    /// File name stem of the output.
    pub stem: String,
}

/// Lays `plan` out in one file, or in volumes of at most `volume_size` bytes.
/// `signed_by` is the signing key's fingerprint, named in the index (and so counted in
/// its size) when the bundle is signed.
pub fn layout(
    plan: &Plan,
    output: &Path,
    volume_size: Option<u64>,
    signed_by: Option<&Digest>,
) -> Result<Layout, PackError> {
    let mut items: Vec<Item> = plan
        .manifests
        .iter()
        .filter(|(_, e)| e.entry.is_some())
        .map(|(m, _)| Item {
            digest: m.digest.clone(),
            size: m.bytes.len() as u64,
        })
        .collect();
    let manifest_count = items.len();
    items.extend(
        plan.blobs
            .iter()
            .filter(|b| b.external.is_none())
            .map(|b| Item {
                digest: b.descriptor.digest.clone(),
                size: b.descriptor.size,
            }),
    );
    let mut index = base_index(plan);
    index.signed_by = signed_by.cloned();
    let (stem, _) = volume_paths(output, 1, false);
    let segments = match volume_size {
        None => items
            .iter()
            .enumerate()
            .map(|(i, it)| Segment {
                item: i,
                volume: 1,
                name: blob_entry(&it.digest),
                offset: 0,
                size: it.size,
                part: None,
            })
            .collect(),
        Some(limit) => {
            // The index is the same size in every volume (fixed-width digests and numbers),
            // so measuring it with placeholder part digests is exact.
            let measure = |segments: &[Segment]| {
                let total = volumes::total(segments).max(1);
                let mut probe = index.clone();
                probe.volume = Some(volume_info(
                    &SetName {
                        bundle: &Digest::of(b""),
                        name: &stem,
                        total,
                        limit,
                    },
                    total,
                    &items,
                    segments,
                    &[],
                ));
                serde_json::to_vec_pretty(&probe).map_or(u64::MAX, |v| v.len() as u64)
            };
            volumes::plan(&items, limit, measure).map_err(PackError::Volumes)?
        }
    };
    Ok(Layout {
        items,
        manifest_count,
        segments,
        index,
        stem,
    })
}

/// Writes `plan` to `output` (via `.partial` names), split into volumes of at most
/// `volume_size` bytes when given, each volume's index signed by `signer` when given;
/// returns the files written and the index.
pub async fn write_bundle(
    plan: &Plan,
    output: &Path,
    volume_size: Option<u64>,
    jobs: usize,
    progress: &Progress,
    signer: Option<Arc<BundleSigner>>,
) -> Result<(Vec<PathBuf>, BundleIndex), PackError> {
    let Layout {
        items,
        manifest_count,
        segments,
        index,
        stem,
    } = layout(
        plan,
        output,
        volume_size,
        signer.as_ref().map(|s| s.fingerprint()),
    )?;
    let blobs: Vec<&PlannedBlob> = plan.blobs.iter().filter(|b| b.external.is_none()).collect();
    let total = volumes::total(&segments);
    let (_, paths) = volume_paths(output, total, volume_size.is_some());
    let writers: Vec<Arc<BundleWriter>> = paths
        .iter()
        .map(|p| BundleWriter::create(p).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let mut placed: Vec<Vec<Placed>> = vec![Vec::new(); items.len()];
    for s in &segments {
        let writer = writers[(s.volume - 1) as usize].clone();
        let id = writer.place(&s.name, s.size);
        placed[s.item].push(Placed {
            file_offset: writer.data_offset(id),
            writer,
            id,
            blob_offset: s.offset,
            size: s.size,
        });
    }
    let mut part_digests: Vec<Option<Digest>> = vec![None; segments.len()];
    let mut results: Vec<Vec<Option<Digest>>> = vec![Vec::new(); items.len()];
    for (i, (manifest, _)) in plan
        .manifests
        .iter()
        .filter(|(_, e)| e.entry.is_some())
        .enumerate()
    {
        results[i] = write_bytes(&placed[i], &manifest.bytes)?;
    }
    let fetched: Vec<(usize, Vec<Option<Digest>>)> =
        futures_util::stream::iter(blobs.iter().enumerate().map(|(k, blob)| {
            let segs = &placed[manifest_count + k];
            async move {
                fetch_blob(plan, blob, segs, progress)
                    .await
                    .map(|d| (manifest_count + k, d))
            }
        }))
        .buffer_unordered(jobs.max(1))
        .try_collect()
        .await?;
    for (i, digests) in fetched {
        results[i] = digests;
    }
    // Part digests, in segment order.
    let mut next: Vec<usize> = vec![0; items.len()];
    for (k, s) in segments.iter().enumerate() {
        part_digests[k] = results[s.item].get(next[s.item]).cloned().flatten();
        next[s.item] += 1;
    }
    let bundle_id = {
        let layout: Vec<String> = segments
            .iter()
            .map(|s| {
                format!(
                    "{} {} {} {} {}",
                    items[s.item].digest, s.volume, s.name, s.offset, s.size
                )
            })
            .collect();
        Digest::of(format!("{}\n{}", volume_size.unwrap_or(0), layout.join("\n")).as_bytes())
    };
    let mut written = Vec::new();
    for (n, writer) in writers.iter().enumerate() {
        let mut volume_index = index.clone();
        if let Some(limit) = volume_size {
            volume_index.volume = Some(volume_info(
                &SetName {
                    bundle: &bundle_id,
                    name: &stem,
                    total,
                    limit,
                },
                n as u32 + 1,
                &items,
                &segments,
                &part_digests,
            ));
        }
        let writer = writer.clone();
        let signer = signer.clone();
        let path =
            tokio::task::spawn_blocking(move || writer.finish(&volume_index, signer.as_deref()))
                .await
                .map_err(|e| WriteError::Io {
                    path: output.to_owned(),
                    source: std::io::Error::other(e),
                })??;
        written.push(path);
    }
    if let Some(limit) = volume_size {
        for path in &written {
            let size = fs_err::metadata(path)
                .map_err(|source| WriteError::Io {
                    path: path.clone(),
                    source,
                })?
                .len();
            if size > limit {
                for p in &written {
                    let _ = std::fs::remove_file(p);
                }
                return Err(PackError::Volumes(format!(
                    "`{}` came out at {size} bytes, over the {limit}-byte volume size; no volume kept",
                    path.display()
                )));
            }
        }
    }
    Ok((written, index))
}
