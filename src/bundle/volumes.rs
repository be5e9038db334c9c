//! Planning a bundle split into volumes that each stay under a size (FAT32: 4 GiB − 1),
//! zip headers and the volume's own index included. Entries go to volumes in write order,
//! whole where they fit; only a blob larger than a whole volume is cut into parts, and then
//! the parts fill volumes to the brim. Pure arithmetic: no I/O.

use super::entry_name::blob_entry;
use super::zip_layout::MAX_DESCRIPTOR_LEN;
use crate::oci::Digest;

/// Bytes every volume spends besides its entries: the index entry's local and central
/// headers and data descriptor, the end-of-central-directory record, the Zip64 end record
/// and locator, and room for a signature entry (`outrider.json.sig`, at most 96 bytes of
/// base64).
const FIXED: u64 = (30 + 13) + (46 + 13) + 16 + 22 + 56 + 20 + (30 + 17) + (46 + 17) + 16 + 96;
/// Smallest part worth starting in a volume's remaining space.
const MIN_PART: u64 = 64 * 1024;

/// One thing to store, in write order.
#[derive(Clone, Debug)]
pub struct Item {
    /// Its digest.
    pub digest: Digest,
    /// Its size.
    pub size: u64,
}

/// One zip entry of the plan: a whole item or a part of one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Index into the items.
    pub item: usize,
    /// Volume number, from 1.
    pub volume: u32,
    /// Entry name.
    pub name: String,
    /// Offset of this segment in the item.
    pub offset: u64,
    /// Bytes in this segment.
    pub size: u64,
    /// `(number, count)` when the item is cut into parts.
    pub part: Option<(u32, u32)>,
}

/// Zip bytes an entry costs besides its data: local header, data descriptor and central
/// directory record, with room for every Zip64 field it could need.
fn entry_cost(name: &str) -> u64 {
    30 + name.len() as u64 + 20 + MAX_DESCRIPTOR_LEN + 46 + name.len() as u64 + 28
}

fn whole_name(d: &Digest) -> String {
    blob_entry(d)
}

fn part_name(d: &Digest, number: u32) -> String {
    format!("{}.part-{number:04}", blob_entry(d))
}

/// Assigns items to volumes of at most `limit` bytes, each also holding an index of
/// `index_len(segments)` bytes. Re-plans until the index fits the room reserved for it.
pub fn plan(
    items: &[Item],
    limit: u64,
    index_len: impl Fn(&[Segment]) -> u64,
) -> Result<Vec<Segment>, String> {
    let mut reserve = index_len(&[]) + 4096;
    for _ in 0..16 {
        let segments = assign(items, limit, reserve)?;
        let need = index_len(&segments);
        if need <= reserve {
            return Ok(segments);
        }
        reserve = need + need / 16 + 4096;
    }
    Err("the volume plan did not settle; choose a larger --volume-size".into())
}

fn assign(items: &[Item], limit: u64, reserve: u64) -> Result<Vec<Segment>, String> {
    let capacity = limit.checked_sub(reserve + FIXED).filter(|c| *c >= 2 * MIN_PART).ok_or_else(|| {
        format!("--volume-size {limit} leaves no room: each volume carries the index ({reserve} bytes here) and zip headers; use at least {} bytes", reserve + FIXED + 2 * MIN_PART)
    })?;
    let mut out = Vec::new();
    let (mut volume, mut used) = (1u32, 0u64);
    for (i, item) in items.iter().enumerate() {
        let name = whole_name(&item.digest);
        let cost = entry_cost(&name) + item.size;
        if cost <= capacity {
            // Whole: here if it fits in the space left, else at the start of the next volume.
            if used + cost > capacity {
                volume += 1;
                used = 0;
            }
            out.push(Segment {
                item: i,
                volume,
                name,
                offset: 0,
                size: item.size,
                part: None,
            });
            used += cost;
            continue;
        }
        // Larger than a volume: parts, filling the space left and then whole volumes.
        let first = out.len();
        let (mut offset, mut number) = (0u64, 1u32);
        while offset < item.size {
            let name = part_name(&item.digest, number);
            let room = capacity.saturating_sub(used + entry_cost(&name));
            if room < MIN_PART.min(item.size - offset) {
                volume += 1;
                used = 0;
                continue;
            }
            let take = room.min(item.size - offset);
            out.push(Segment {
                item: i,
                volume,
                name: name.clone(),
                offset,
                size: take,
                part: Some((number, 0)),
            });
            used += entry_cost(&name) + take;
            offset += take;
            number += 1;
        }
        let count = number - 1;
        for s in &mut out[first..] {
            s.part = s.part.map(|(n, _)| (n, count));
        }
    }
    Ok(out)
}

/// Number of volumes a plan uses.
pub fn total(segments: &[Segment]) -> u32 {
    segments.iter().map(|s| s.volume).max().unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u8, size: u64) -> Item {
        Item {
            digest: Digest::of(&[n]),
            size,
        }
    }

    #[test]
    fn whole_where_they_fit_parts_only_when_larger_than_a_volume() {
        let limit = 1 << 20;
        let items = vec![
            item(1, 300_000),
            item(2, 300_000),
            item(3, 600_000),
            item(4, 2_500_000),
            item(5, 1000),
        ];
        let segments = plan(&items, limit, |_| 10_000).unwrap();
        let volume_of = |i: usize| {
            segments
                .iter()
                .filter(|s| s.item == i)
                .map(|s| s.volume)
                .collect::<Vec<_>>()
        };
        assert_eq!(volume_of(0), vec![1]);
        assert_eq!(volume_of(1), vec![1]);
        assert_eq!(volume_of(2), vec![2], "moves whole to the next volume");
        let parts: Vec<_> = segments.iter().filter(|s| s.item == 3).collect();
        assert!(
            parts.len() >= 3
                && parts
                    .iter()
                    .all(|p| p.part.map(|(_, c)| c) == Some(parts.len() as u32))
        );
        assert_eq!(parts.iter().map(|p| p.size).sum::<u64>(), 2_500_000);
        for v in 1..=total(&segments) {
            let used: u64 = segments
                .iter()
                .filter(|s| s.volume == v)
                .map(|s| s.size + entry_cost(&s.name))
                .sum();
            assert!(used + 10_000 + FIXED <= limit, "volume {v} holds {used}");
        }
        assert!(plan(&items, 50_000, |_| 10_000).is_err());
    }
}
