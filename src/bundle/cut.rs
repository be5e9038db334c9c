//! A bundle or volume that a copy cut short: a zip keeps its directory at its end, so a
//! copy that stopped early loses exactly what a reader looks for first, and "no end
//! record" says nothing of the copy. Here such a file is named for
//! what it is, with its size and, where anything says it, the size it should have: a
//! volume's siblings list what it holds, so its entries' bytes are a floor; a bundle in
//! one file has nothing else to ask, so only the missing end is named.

use super::index::BundleIndex;
use super::read_error::ReadError;
use super::zip_layout::{EOCD_SIG, LOCAL_SIG, descriptor_len, local_header_len};
use super::zip_strict::{u16_at, u32_at};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The EOCD record is 22 bytes and its comment at most 65535.
const EOCD_SPAN: u64 = 22 + 0xFFFF;

/// Why `file` (at `path`) did not open as a zip: cut short, a checksum list given in
/// place of a bundle, or `reason`, what the zip walk found wrong.
pub(super) fn diagnose(path: &Path, mut file: &std::fs::File, reason: String) -> ReadError {
    let not_zip = |reason: String| ReadError::NotZip {
        path: path.to_owned(),
        reason,
    };
    if path.file_name().and_then(|n| n.to_str()) == Some(super::checksums::SUMS_FILE) {
        return not_zip(
            "it is the checksum list written beside a bundle: run `sha256sum -c SHA256SUMS` in its folder, and give outrider the bundle".into(),
        );
    }
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return not_zip(reason);
    };
    let mut head = [0u8; 4];
    let starts_as_zip = file.seek(SeekFrom::Start(0)).is_ok()
        && file.read_exact(&mut head).is_ok()
        && u32::from_le_bytes(head) == LOCAL_SIG;
    let from = len.saturating_sub(EOCD_SPAN);
    let mut tail = Vec::new();
    let tail_read = file.seek(SeekFrom::Start(from)).is_ok() && file.read_to_end(&mut tail).is_ok();
    // A real end record ends the file exactly (its comment last); the same four bytes
    // inside blob data do not. An end record whose directory ends right where it starts,
    // with bytes after it, is a whole zip with something appended: not a cut copy.
    let (mut has_end, mut end_with_bytes_after) = (false, false);
    for at in (0..tail.len().saturating_sub(21)).filter(|&at| u32_at(&tail, at) == EOCD_SIG) {
        has_end |= at + 22 + usize::from(u16_at(&tail, at + 20)) == tail.len();
        let (size, offset) = (u32_at(&tail, at + 12), u32_at(&tail, at + 16));
        end_with_bytes_after |=
            offset == u32::MAX || u64::from(offset) + u64::from(size) == from + at as u64;
    }
    if tail_read && (starts_as_zip || len == 0) && !has_end && !end_with_bytes_after {
        return ReadError::Cut {
            path: path.to_owned(),
            have: len,
            want: None,
        };
    }
    not_zip(reason)
}

/// Whether `e` says a file was cut short.
pub(super) fn is_cut(e: &ReadError) -> bool {
    matches!(e, ReadError::Cut { .. })
}

/// The same error, with the floor on its size that volume `number`'s siblings give.
pub(super) fn with_floor(e: ReadError, index: &BundleIndex, number: u32) -> ReadError {
    match e {
        ReadError::Cut { path, have, .. } => ReadError::Cut {
            path,
            have,
            want: Some(volume_floor(index, number)),
        },
        other => other,
    }
}

/// Bytes volume `number` holds at least: every entry the index assigns to it, with its
/// local header and data descriptor (its own index and central directory come on top).
pub(super) fn volume_floor(index: &BundleIndex, number: u32) -> u64 {
    let Some(info) = &index.volume else {
        return 0;
    };
    info.holdings
        .iter()
        .filter(|h| h.volume == number)
        .map(|h| {
            let size = h
                .part
                .as_ref()
                .map(|p| p.size)
                .or_else(|| index.size_of(&h.digest))
                .unwrap_or(0);
            local_header_len(&h.entry, size) + size + descriptor_len(size)
        })
        .sum()
}

/// Says that volume `number` is cut short and what that blocks; the caller then counts it
/// as missing.
pub(super) fn note_missing(number: u32, e: ReadError) {
    crate::output::note(&format!(
        "volume {number} is not usable: {e}. Until then it counts as missing: the images with content in it are blocked, the others are usable"
    ));
}

/// `paths` without any named `SHA256SUMS` (a note says each is left out), unless that
/// would leave nothing: then the reader's own message says what the file is.
pub(super) fn without_sums_list(paths: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
    let is_list = |p: &std::path::PathBuf| {
        p.file_name().and_then(|n| n.to_str()) == Some(super::checksums::SUMS_FILE)
    };
    if paths.iter().all(is_list) {
        return paths.to_vec();
    }
    for p in paths.iter().filter(|p| is_list(p)) {
        crate::output::note(&format!(
            "`{}` left out: it is the checksum list beside the bundle (check it with `sha256sum -c {}`), not a volume",
            p.display(),
            super::checksums::SUMS_FILE
        ));
    }
    paths.iter().filter(|p| !is_list(p)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnosed(bytes: &[u8]) -> ReadError {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.zip");
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        diagnose(&path, &file, "test".into())
    }

    #[test]
    fn a_zip_start_without_an_end_record_is_a_cut_copy_even_with_eocd_bytes_inside() {
        let mut bytes = LOCAL_SIG.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[7u8; 100]);
        // The signature inside blob data, not ending the file, is no end record.
        bytes.extend_from_slice(&EOCD_SIG.to_le_bytes());
        bytes.extend_from_slice(&[9u8; 100]);
        let e = diagnosed(&bytes);
        assert!(
            matches!(
                e,
                ReadError::Cut {
                    have: 208,
                    want: None,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("sha256sum -c SHA256SUMS"), "{e}");
        // A file that is no zip at all keeps the zip walk's word.
        assert!(matches!(diagnosed(b"hello"), ReadError::NotZip { .. }));
        // A whole zip with bytes appended after its end record is no cut copy: its end
        // record (an empty directory that ends where the record starts) is there.
        let mut appended = LOCAL_SIG.to_le_bytes().to_vec();
        appended.extend_from_slice(&[0u8; 46]);
        appended.extend_from_slice(&EOCD_SIG.to_le_bytes());
        appended.extend_from_slice(&[0u8; 8]); // disks and counts
        appended.extend_from_slice(&0u32.to_le_bytes()); // directory size
        appended.extend_from_slice(&50u32.to_le_bytes()); // directory offset: here
        appended.extend_from_slice(&[0u8; 2]); // comment length
        appended.extend_from_slice(&[7u8; 10]);
        assert!(matches!(diagnosed(&appended), ReadError::NotZip { .. }));
        // An empty file is a copy that never started.
        assert!(matches!(diagnosed(b""), ReadError::Cut { have: 0, .. }));
    }
}
