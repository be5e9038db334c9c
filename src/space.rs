//! Room on the output file system, checked before a long write begins: a pack or a tar
//! whose size is known up front is refused at once, with both numbers and the fix,
//! instead of failing with ENOSPC (or EFBIG on a FAT32 stick) after an hour of download.
//!
//! Free space is `statvfs`'s `f_bavail × f_frsize` (what an unprivileged writer may use);
//! the per-file limit comes from `statfs`'s `f_type` (Linux only: vfat/msdos is FAT,
//! whose files stop at 4 GiB − 1; exFAT has no such limit). Both through rustix's safe
//! wrappers: the crate forbids `unsafe`.

use crate::docker_archive::ArchiveImage;
use crate::output::bytes;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A file system that will receive a write.
#[derive(Debug, Clone)]
pub struct Room {
    /// Where it is mounted (the topmost ancestor of the path on the same device).
    pub mount: PathBuf,
    /// Bytes an unprivileged writer may still use.
    pub free: u64,
    /// The largest file it can hold, and its name, when it has such a limit.
    pub file_limit: Option<(u64, &'static str)>,
}

/// `statfs` `f_type` of vfat/msdos (`MSDOS_SUPER_MAGIC`).
#[cfg(target_os = "linux")]
const MSDOS_SUPER_MAGIC: i64 = 0x4d44;

/// The nearest ancestor of `path` (itself included) that exists: what a write creating
/// missing folders lands on.
fn existing(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|a| !a.as_os_str().is_empty() && a.exists())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The file system holding `dir` (or the nearest existing ancestor of it).
pub fn room(dir: &Path) -> std::io::Result<Room> {
    let at = existing(dir);
    let vfs = rustix::fs::statvfs(&at)?;
    // A file system of no blocks (proc, sysfs) has no room to speak of: not measured, so
    // the write itself says what is wrong with the place.
    if vfs.f_blocks == 0 {
        return Err(std::io::Error::other("a file system without blocks"));
    }
    let free = vfs.f_bavail.saturating_mul(vfs.f_frsize);
    let dev = std::fs::metadata(&at)?.dev();
    let abs = std::fs::canonicalize(&at).unwrap_or_else(|_| at.clone());
    let mount = abs
        .ancestors()
        .take_while(|a| std::fs::metadata(a).is_ok_and(|m| m.dev() == dev))
        .last()
        .map_or_else(|| abs.clone(), Path::to_path_buf);
    Ok(Room {
        mount,
        free,
        file_limit: file_limit(&at),
    })
}

#[cfg(target_os = "linux")]
fn file_limit(at: &Path) -> Option<(u64, &'static str)> {
    let fs = rustix::fs::statfs(at).ok()?;
    // `f_type` is a signed or unsigned word depending on the architecture.
    #[allow(clippy::unnecessary_cast)]
    let kind = fs.f_type as i64;
    (kind == MSDOS_SUPER_MAGIC).then_some((crate::size::FAT32, "FAT32 (vfat)"))
}

#[cfg(not(target_os = "linux"))]
fn file_limit(_at: &Path) -> Option<(u64, &'static str)> {
    None
}

/// What a command is about to write into one file system.
pub struct Need<'a> {
    /// What is written, for messages (`the bundle`, `the tar`).
    pub what: &'a str,
    /// The folder it goes into.
    pub dir: &'a Path,
    /// Bytes still to be written (already minus what a resumed run finds on disk).
    pub bytes: u64,
    /// The largest single file, for a per-file limit; 0 when it cannot exceed one.
    pub largest: u64,
    /// The fix when space is short.
    pub space_hint: &'a str,
    /// The fix when a file would pass the file system's per-file limit.
    pub limit_hint: &'a str,
}

/// Refuses a write that cannot fit: both numbers and the fix, one line. A file system
/// that cannot be asked (an unusual mount) passes: the write itself will say.
pub fn check(need: &Need<'_>) -> Result<(), String> {
    let Ok(room) = room(need.dir) else {
        tracing::debug!(
            "space check: `{}` cannot be measured; not checked",
            need.dir.display()
        );
        return Ok(());
    };
    judge(need, &room)
}

/// [`check`] against a measured file system.
fn judge(need: &Need<'_>, room: &Room) -> Result<(), String> {
    if let Some((limit, name)) = room.file_limit
        && need.largest > limit
    {
        return Err(format!(
            "{} would be a {} file, and `{}` is {name}, whose files stop at {} ({limit} bytes); hint: {}",
            need.what,
            bytes(need.largest),
            room.mount.display(),
            bytes(limit),
            need.limit_hint
        ));
    }
    if need.bytes > room.free {
        return Err(format!(
            "{} needs {}, {} free on {}; hint: {} (or skip this check with --no-space-check)",
            need.what,
            bytes(need.bytes),
            bytes(room.free),
            room.mount.display(),
            need.space_hint
        ));
    }
    tracing::debug!(
        "space check: {} needs {}, {} free on {}{}",
        need.what,
        bytes(need.bytes),
        bytes(room.free),
        room.mount.display(),
        room.file_limit
            .map(|(l, n)| format!(" ({n}: files up to {})", bytes(l)))
            .unwrap_or_default()
    );
    Ok(())
}

/// Zip bytes per bundle entry besides its data, generously: local header and central
/// record with every Zip64 field (~280 bytes for a `blobs/sha256/…` name), plus the
/// entry's record in the index (`outrider.json`, pretty-printed: digest, size, media type,
/// repositories), rounded up.
pub const BUNDLE_PER_ENTRY: u64 = 2048;
/// Bytes per bundle file besides its entries: the index's own headers and image list,
/// the end records, a signature, and `SHA256SUMS` beside it.
pub const BUNDLE_FIXED: u64 = 1 << 20;

/// The bytes a bundle of `carried` data bytes in `entries` entries takes on disk, at
/// most: each volume (1 without `--volume-size`) carries the whole index, so the margin
/// is counted once per volume. A volume is never larger than its size, so with small
/// volumes the margin per volume is at most half of one (the rest holds data).
pub fn bundle_bytes(carried: u64, entries: u64, volume_size: Option<u64>) -> u64 {
    let per_file = BUNDLE_FIXED + entries * BUNDLE_PER_ENTRY;
    match volume_size {
        Some(v) => {
            let margin = per_file.min(v / 2);
            let files = carried.div_ceil(v.saturating_sub(margin).max(1)) + 1;
            carried + files * margin
        }
        None => carried + per_file,
    }
}

/// Disk space the `.partial` files of an interrupted pack of `output` already hold
/// (allocated blocks, so a sparse file counts only what was written): a resume writes
/// into them, and a fresh start truncates them, so either way that space comes back.
pub fn partial_bytes(output: &Path) -> u64 {
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = file.strip_suffix(".zip").unwrap_or(&file).to_owned();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n == format!("{file}.partial")
                || (n.starts_with(&format!("{stem}.")) && n.ends_with(".zip.partial"))
        })
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.blocks() * 512)
        .sum()
}

/// Round up to a tar record.
fn padded(n: u64) -> u64 {
    n.div_ceil(512) * 512
}

/// Bytes of the plain tar of `images`, at most: a 512-byte header per file and each file
/// padded to 512, the two folders and `oci-layout`, the JSON files (`index.json`,
/// `manifest.json`, generously 1 KiB per image and layer name), and the two zero records
/// that end it. A compressed tar is rarely smaller (layers are compressed already), so
/// this stands for it too.
pub fn tar_bytes(images: &[ArchiveImage]) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 3 * 512 + 512 + 1024;
    for image in images {
        for m in &image.made {
            if seen.insert(m.digest.clone()) {
                total += 512 + padded(m.bytes.len() as u64);
            }
        }
        for d in &image.contents {
            if seen.insert(d.digest.clone()) {
                total += 512 + padded(d.size);
            }
        }
        total += 1024 * (2 + image.layers.len() as u64);
    }
    total + 2 * 512 + 4096
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_margin_grows_per_volume() {
        assert_eq!(bundle_bytes(0, 0, None), BUNDLE_FIXED);
        let one = bundle_bytes(10 << 30, 100, None);
        assert_eq!(one, (10 << 30) + BUNDLE_FIXED + 100 * BUNDLE_PER_ENTRY);
        // 10 GiB in FAT32 volumes: 3 volumes, counted as 4 (the last one's margin).
        let split = bundle_bytes(10 << 30, 100, Some(crate::size::FAT32));
        assert_eq!(
            split,
            (10 << 30) + 4 * (BUNDLE_FIXED + 100 * BUNDLE_PER_ENTRY)
        );
        // Volumes smaller than the margin: half of each counted as margin, not more.
        let tiny = bundle_bytes(3_000_000, 10, Some(300_000));
        assert_eq!(tiny, 3_000_000 + 21 * 150_000);
    }

    #[test]
    fn a_file_over_fat32s_limit_is_refused_with_the_fix() {
        let fat = Room {
            mount: PathBuf::from("/mnt/usb"),
            free: 64 << 30,
            file_limit: Some((crate::size::FAT32, "FAT32 (vfat)")),
        };
        let dir = PathBuf::from("/mnt/usb");
        let mut need = Need {
            what: "the bundle",
            dir: &dir,
            bytes: 5 << 30,
            largest: 5 << 30,
            space_hint: "free space",
            limit_hint: "split it with --volume-size fat32",
        };
        let e = judge(&need, &fat).expect_err("refused");
        assert!(
            e.contains("a 5.0 GiB file")
                && e.contains("`/mnt/usb` is FAT32 (vfat)")
                && e.contains("4294967295 bytes")
                && e.contains("--volume-size fat32"),
            "{e}"
        );
        // Volumes of at most the limit pass.
        need.largest = crate::size::FAT32;
        assert!(judge(&need, &fat).is_ok());
        // Short of space: both numbers and the mount.
        need.bytes = 65 << 30;
        let e = judge(&need, &fat).expect_err("refused");
        assert!(
            e.contains("needs 65.0 GiB, 64.0 GiB free on /mnt/usb"),
            "{e}"
        );
    }

    #[test]
    fn the_temp_dir_is_measured() {
        let r = room(&std::env::temp_dir().join("no/such/dir")).expect("room");
        assert!(r.mount.is_absolute());
        assert!(r.free > 0);
    }

    #[test]
    fn a_write_larger_than_the_disk_is_refused_with_both_numbers() {
        let dir = std::env::temp_dir();
        let need = Need {
            what: "the bundle",
            dir: &dir,
            bytes: u64::MAX / 2,
            largest: 0,
            space_hint: "free space",
            limit_hint: "split",
        };
        let e = check(&need).expect_err("refused");
        assert!(
            e.contains("the bundle needs") && e.contains("free on /"),
            "{e}"
        );
    }
}
