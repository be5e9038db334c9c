//! What belongs to one volume of a set, and what a volume can prove on its own. A volume
//! given alone (`verify VOLUME`) holds parts of blobs whose other parts are elsewhere: the
//! blob's digest needs them all, but each part has its own digest and size in
//! `volume.holdings`, so every byte the volume holds is still checked.

use super::blob_reader::BlobReader;
use super::index::{BundleIndex, Part};
use super::read_error::ReadError;
use super::reader::BundleReader;
use crate::oci::Digest;
use std::collections::HashSet;

/// What one volume of a set holds, from the index's `holdings`: the set's totals say
/// nothing about the file in hand.
pub struct Held<'a> {
    /// The volume's number, from 1.
    pub number: u32,
    /// How many volumes the set has.
    pub total: u32,
    /// Bytes of its entries: whole blobs and manifests, and parts.
    pub bytes: u64,
    /// Whole blobs it holds.
    pub blobs: usize,
    /// Whole manifests it holds.
    pub manifests: usize,
    /// Parts of blobs cut into parts, with the blob they belong to.
    pub parts: Vec<(&'a Digest, &'a Part)>,
}

/// What volume `number` of `index`'s set holds; `None` for a bundle in one file.
pub fn held_by(index: &BundleIndex, number: u32) -> Option<Held<'_>> {
    let info = index.volume.as_ref()?;
    let mut held = Held {
        number,
        total: info.total,
        bytes: 0,
        blobs: 0,
        manifests: 0,
        parts: Vec::new(),
    };
    for h in info.holdings.iter().filter(|h| h.volume == number) {
        let size = match &h.part {
            Some(p) => {
                held.parts.push((&h.digest, p));
                p.size
            }
            None if index.manifest(&h.digest).is_some() => {
                held.manifests += 1;
                index.size_of(&h.digest).unwrap_or(0)
            }
            None => {
                held.blobs += 1;
                index.size_of(&h.digest).unwrap_or(0)
            }
        };
        held.bytes = held.bytes.saturating_add(size);
    }
    Some(held)
}

impl BundleReader {
    /// Numbers of the volumes read, in order (empty for a bundle in one file).
    pub fn volumes_given(&self) -> Vec<u32> {
        let Some(info) = &self.index.volume else {
            return Vec::new();
        };
        let missing: HashSet<u32> = self.missing_volumes().iter().map(|(n, _)| *n).collect();
        (1..=info.total).filter(|n| !missing.contains(n)).collect()
    }

    /// Blobs cut into parts of which the volumes read hold some but not all, in index
    /// order: they cannot be read whole, only part by part
    /// ([`BundleReader::verify_parts_alone`]).
    pub fn partly_here(&self) -> Vec<&Digest> {
        self.index
            .blobs
            .iter()
            .map(|b| &b.digest)
            .filter(|d| self.partial.contains_key(*d))
            .collect()
    }

    /// Re-hashes, one at a time and streaming, each part of `digest` held by the volumes
    /// read: its CRC-32, part digest and size. Returns how many parts were checked and one
    /// fault per damaged part, each naming its volume.
    pub fn verify_parts_alone(&self, digest: &Digest) -> (usize, Vec<ReadError>) {
        let pieces = self.partial.get(digest).map_or(&[][..], Vec::as_slice);
        let faults = pieces
            .iter()
            .filter_map(|p| {
                let mut reader = BlobReader::entry(&self.path, digest, p.clone());
                std::io::copy(&mut reader, &mut std::io::sink())
                    .err()
                    .map(|e| self.read_error(e))
            })
            .collect();
        (pieces.len(), faults)
    }
}
