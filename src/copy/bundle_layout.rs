//! How a plan is laid out in files before any byte is written: which entries, in which
//! order, in which volume, and the index each volume carries. Pure: the same plan always
//! gives the same layout, which is what lets an interrupted pack resume into its
//! `.partial` files.

use crate::bundle::blob_entry;
use crate::bundle::index::{BlobEntry, BundleIndex, Holding, Part, VolumeInfo};
use crate::bundle::volumes::{self, Item, Segment};
use crate::oci::Digest;
use crate::plan::Plan;
use std::path::{Path, PathBuf};

use super::pack_error::PackError;

/// The files a pack writes: one bundle, or `<stem>.NNN.zip` volumes.
pub(super) fn volume_paths(output: &Path, total: u32, split: bool) -> (String, Vec<PathBuf>) {
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
    .with_registry_path(plan.registry_path)
}

/// Identity of a volume set, the same in every volume's index.
pub(super) struct SetName<'a> {
    pub(super) bundle: &'a Digest,
    pub(super) name: &'a str,
    pub(super) total: u32,
    pub(super) limit: u64,
}

/// The volume block of the index for volume `number`; part digests as known so far.
pub(super) fn volume_info(
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
    (index.lineage, index.packed_with) = plan
        .provenance
        .as_deref()
        .cloned()
        .map(|p| (p.lineage, p.packed_with))
        .unzip();
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

impl Layout {
    /// What a journal must match to resume into `.partial` files: the tool, the volume
    /// size, every entry's place and the index. Other images, options or registry content
    /// change it.
    pub fn key(&self, volume_size: Option<u64>) -> Digest {
        let mut text = format!(
            "{}\n{}\n",
            env!("CARGO_PKG_VERSION"),
            volume_size.unwrap_or(0)
        );
        for s in &self.segments {
            text.push_str(&format!(
                "{} {} {} {} {}\n",
                self.items[s.item].digest, s.volume, s.name, s.offset, s.size
            ));
        }
        text.push_str(&serde_json::to_string(&self.index).unwrap_or_default());
        Digest::of(text.as_bytes())
    }
}
