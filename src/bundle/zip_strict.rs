//! How a bundle's zip is read: one walk of its raw records, which finds the entries and
//! checks the rules other zip readers leave open, so that every reader of a bundle sees
//! the same entries: the end record's entry count and directory size
//! agree with the central directory it points at (a smaller count would hide entries from
//! one reader and not another), every local header names its entry exactly as the central
//! one does (a reader that walks local headers would otherwise write `../…`), and no entry
//! sets a general-purpose flag a bundle does not use (bit 0, encryption, makes Python's
//! `zipfile` refuse what outrider would read). `bundle-format.md`, rule 1, states them.

use super::read_error::ReadError;
use std::os::unix::fs::FileExt;
use std::path::Path;

// The signatures the writer lays out are the ones read back here.
use super::zip_layout::{
    CENTRAL_SIG, DESCRIPTOR_SIG, EOCD_SIG, LOCAL_SIG, ZIP64_EOCD_SIG, ZIP64_LOCATOR_SIG,
};
const EOCD_LEN: u64 = 22;
/// Flags a bundle may set: bit 3 (sizes and CRC-32 after the data; a reader takes them
/// from the central directory) and bit 11 (names are UTF-8). Every other bit asks for
/// something a STORED bundle never needs (encryption, compression options, masking).
pub(super) const ALLOWED_FLAGS: u16 = (1 << 3) | (1 << 11);

pub(super) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
pub(super) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Where the central directory is and what the end records say of it.
struct Directory {
    offset: u64,
    size: u64,
    count: u64,
    /// Where the directory must end: the (Zip64) end record.
    end: u64,
}

/// One entry as the central directory gives it, with where its data starts (from its
/// local header).
pub(super) struct Central {
    /// The name, decoded: UTF-8 (general-purpose bit 11) or ASCII.
    pub(super) name: String,
    /// Compression method (0: stored).
    pub(super) method: u16,
    /// Compressed and uncompressed sizes.
    pub(super) compressed: u64,
    pub(super) size: u64,
    /// CRC-32 from the central directory.
    pub(super) crc32: u32,
    /// Offset of the first data byte.
    pub(super) data_offset: u64,
}

/// Bytes read at once from the entries' area: local headers lie between entries in
/// offset order, so one read serves the headers of every small entry it covers.
const WINDOW: usize = 256 * 1024;

/// Reads of increasing offsets through one buffer (a few system calls for thousands of
/// small entries instead of two each).
struct Window<'a> {
    file: &'a std::fs::File,
    len: u64,
    buf: Vec<u8>,
    start: u64,
}

impl Window<'_> {
    /// `n` bytes at `offset`, which must lie within the file. When they are not in the
    /// window, it is refilled from `offset` with `ahead` bytes (at least `n`): a whole
    /// window when the bytes after are more headers worth having, just the header when a
    /// large entry's data follows.
    fn at(&mut self, offset: u64, n: usize, ahead: usize) -> std::io::Result<&[u8]> {
        let end = offset + n as u64;
        if offset < self.start || end > self.start + self.buf.len() as u64 {
            let want = (ahead.max(n) as u64).min(self.len - offset) as usize;
            // A failed read leaves an empty window, never stale bytes under a new start.
            self.buf.clear();
            self.buf.resize(want, 0);
            if let Err(e) = self.file.read_exact_at(&mut self.buf, offset) {
                self.buf.clear();
                return Err(e);
            }
            self.start = offset;
        }
        let from = (offset - self.start) as usize;
        Ok(&self.buf[from..from + n])
    }
}

/// Extra fields that give an entry another name than its name field: Info-ZIP's Unicode
/// Path (0x7075) is read by the zip crate and `unzip` in place of the name, and Unicode
/// Comment (0x6375) rides with it. outrider never writes them; a bundle holding one would
/// name an entry one way to one reader and another way to the next.
const RENAMING_EXTRAS: [u16; 2] = [0x7075, 0x6375];

/// Whether `extra` (a header's extra fields) holds a field in [`RENAMING_EXTRAS`].
fn renames(mut extra: &[u8]) -> bool {
    while extra.len() >= 4 {
        let (id, n) = (u16_at(extra, 0), usize::from(u16_at(extra, 2)));
        if RENAMING_EXTRAS.contains(&id) {
            return true;
        }
        extra = extra.get(4 + n..).unwrap_or(&[]);
    }
    false
}

/// Checks the zip structure of `file` (`len` bytes) and returns its entries in directory
/// order; a file with no end record to find is `NotZip` (the caller tells a cut copy
/// from it).
pub(super) fn check(
    path: &Path,
    file: &std::fs::File,
    len: u64,
) -> Result<Vec<Central>, ReadError> {
    let bad = |reason: String| ReadError::NotZip {
        path: path.to_owned(),
        reason,
    };
    let read = |offset: u64, n: u64| -> Result<Vec<u8>, ReadError> {
        let end = offset.checked_add(n).filter(|e| *e <= len);
        let Some(_) = end else {
            return Err(bad(format!(
                "a zip record at offset {offset} runs past the end of the file"
            )));
        };
        let mut buf = vec![0; n as usize];
        file.read_exact_at(&mut buf, offset)
            .map_err(|source| ReadError::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(buf)
    };
    let dir = directory(len, &read).map_err(bad)?;
    if dir.offset.checked_add(dir.size) != Some(dir.end) {
        return Err(bad(format!(
            "the central directory ({} bytes at offset {}) does not end where the end record starts (offset {}): bytes between them would be read by some readers only",
            dir.size, dir.offset, dir.end
        )));
    }
    let cd = read(dir.offset, dir.size)?;
    let mut window = Window {
        file,
        len,
        buf: Vec::new(),
        start: 0,
    };
    let mut entries = Vec::new();
    let mut at = 0usize;
    // Entries lie back to back from the first byte, in directory order, so a reader that
    // walks local headers (a streaming unzip) meets exactly the entries the directory lists.
    let mut expected = 0u64;
    while at < cd.len() {
        if cd.len() - at < 46 || u32_at(&cd, at) != CENTRAL_SIG {
            return Err(bad(format!(
                "central directory entry {} at offset {} is not a central header",
                entries.len() + 1,
                dir.offset + at as u64
            )));
        }
        let flags = u16_at(&cd, at + 8);
        let name_len = usize::from(u16_at(&cd, at + 28));
        let extra_len = usize::from(u16_at(&cd, at + 30));
        let comment_len = usize::from(u16_at(&cd, at + 32));
        let next = at + 46 + name_len + extra_len + comment_len;
        if next > cd.len() {
            return Err(bad(format!(
                "central directory entry {} runs past the directory's size",
                entries.len() + 1
            )));
        }
        let name = &cd[at + 46..at + 46 + name_len];
        let refuse = |reason: &'static str| ReadError::BadEntry {
            path: path.to_owned(),
            name: crate::output::sanitize(&String::from_utf8_lossy(name)),
            reason,
        };
        if name.contains(&0) {
            return Err(refuse("a name holds a NUL byte"));
        }
        if flags & !ALLOWED_FLAGS != 0 {
            return Err(refuse(flag_reason(flags)));
        }
        let decoded = match std::str::from_utf8(name) {
            Ok(n) if flags & (1 << 11) != 0 || n.is_ascii() => n.to_owned(),
            _ => {
                return Err(refuse(
                    "a name that is not ASCII must be UTF-8 and say so (general-purpose flag bit 11)",
                ));
            }
        };
        let extra = &cd[at + 46 + name_len..at + 46 + name_len + extra_len];
        if renames(extra) {
            return Err(refuse(
                "an extra field gives it another name (Unicode Path); a bundle names each entry once, in its name field",
            ));
        }
        let (compressed, size, header) = size_and_offset(&cd[at..], extra).ok_or_else(|| {
            refuse("its Zip64 extra field lacks a size or the local header offset")
        })?;
        if header != expected {
            return Err(refuse(
                "it does not start where the previous entry ends: entries lie back to back from the first byte, in directory order",
            ));
        }
        // The directory survived, the bytes it points at did not: a copy cut short.
        let cut = |want: u64| ReadError::Cut {
            path: path.to_owned(),
            have: len,
            want: Some(want),
        };
        let local_end = header + 30 + name_len as u64;
        if local_end > len {
            return Err(cut(local_end.saturating_add(size)));
        }
        let io = |source| ReadError::Io {
            path: path.to_owned(),
            source,
        };
        // Small entries: read on, their neighbours' headers come with this one.
        let ahead = if compressed < WINDOW as u64 {
            WINDOW
        } else {
            0
        };
        let local = window.at(header, 30 + name_len, ahead).map_err(io)?;
        if u32_at(local, 0) != LOCAL_SIG {
            return Err(refuse(
                "its local header is missing (no signature at its offset)",
            ));
        }
        let local_flags = u16_at(local, 6);
        if local_flags & !ALLOWED_FLAGS != 0 {
            return Err(refuse(flag_reason(local_flags)));
        }
        if u16_at(local, 8) != u16_at(&cd, at + 10) {
            return Err(refuse(
                "its local header gives another compression method than the central directory",
            ));
        }
        if usize::from(u16_at(local, 26)) != name_len || &local[30..] != name {
            return Err(refuse(
                "its local header names another entry than the central directory",
            ));
        }
        let local_sizes_saturated = u32_at(local, 18) == u32::MAX;
        let local_extra_len = usize::from(u16_at(local, 28));
        let data_offset = local_end + local_extra_len as u64;
        if local_extra_len > 0 {
            if data_offset > len {
                return Err(cut(data_offset.saturating_add(compressed)));
            }
            let local_extra = window.at(local_end, local_extra_len, ahead).map_err(io)?;
            if renames(local_extra) {
                return Err(refuse(
                    "an extra field in its local header gives it another name (Unicode Path); a bundle names each entry once, in its name field",
                ));
            }
        }
        let data_end = data_offset
            .checked_add(compressed)
            .ok_or_else(|| refuse("its size overflows"))?;
        if data_end > len {
            return Err(cut(data_end));
        }
        expected = data_end;
        if local_flags & (1 << 3) != 0 {
            // A data descriptor follows: CRC-32 and sizes (8 bytes each with Zip64), after
            // an optional signature.
            let signed = data_end + 4 <= len
                && window
                    .at(data_end, 4, WINDOW)
                    .is_ok_and(|b| u32_at(b, 0) == DESCRIPTOR_SIG);
            let sizes = if local_sizes_saturated { 16 } else { 8 };
            expected += if signed { 4 } else { 0 } + 4 + sizes;
        }
        entries.push(Central {
            name: decoded,
            method: u16_at(&cd, at + 10),
            compressed,
            size,
            crc32: u32_at(&cd, at + 16),
            data_offset,
        });
        at = next;
    }
    if expected != dir.offset {
        return Err(bad(format!(
            "{} bytes lie between the last entry and the central directory: a reader walking local headers would read them as entries",
            dir.offset.abs_diff(expected)
        )));
    }
    if entries.len() as u64 != dir.count {
        return Err(bad(format!(
            "the end record counts {} entries but the central directory holds {}: a reader trusting the count would not see them all",
            dir.count,
            entries.len()
        )));
    }
    Ok(entries)
}

fn flag_reason(flags: u16) -> &'static str {
    if flags & 1 != 0 {
        "it is marked encrypted (general-purpose flag bit 0); a bundle is never encrypted"
    } else {
        "it sets a general-purpose flag a bundle never uses (only bits 3 and 11 are allowed)"
    }
}

/// The compressed size, uncompressed size and local header offset of the central header
/// `h`, from its Zip64 extra field where a 32-bit field is saturated.
fn size_and_offset(h: &[u8], mut extra: &[u8]) -> Option<(u64, u64, u64)> {
    let mut zip64: &[u8] = &[];
    while extra.len() >= 4 {
        let (id, n) = (u16_at(extra, 0), usize::from(u16_at(extra, 2)));
        let body = extra.get(4..4 + n)?;
        if id == 1 {
            zip64 = body;
            break;
        }
        extra = &extra[4 + n..];
    }
    // Zip64 fields appear in this order, each only when its 32-bit field is saturated:
    // uncompressed size, compressed size, local header offset.
    let mut out = [0u64; 3];
    for (slot, at) in out.iter_mut().zip([24, 20, 42]) {
        let small = u32_at(h, at);
        *slot = if small == u32::MAX {
            let v = u64_at(zip64.get(..8)?, 0);
            zip64 = &zip64[8..];
            v
        } else {
            u64::from(small)
        };
    }
    Some((out[1], out[0], out[2]))
}

/// Finds the end record that ends the file exactly (its comment running to the last byte),
/// and the Zip64 record when the end record defers to it.
fn directory(
    len: u64,
    read: &impl Fn(u64, u64) -> Result<Vec<u8>, ReadError>,
) -> Result<Directory, String> {
    let span = len.min(EOCD_LEN + 0xFFFF);
    let tail = read(len - span, span).map_err(|e| e.to_string())?;
    if tail.len() < EOCD_LEN as usize {
        return Err("too short to hold an end of central directory record".into());
    }
    let found = (0..=tail.len().saturating_sub(EOCD_LEN as usize))
        .rev()
        .find(|&i| {
            u32_at(&tail, i) == EOCD_SIG
                && i + EOCD_LEN as usize + usize::from(u16_at(&tail, i + 20)) == tail.len()
        })
        .ok_or("no end of central directory record ends the file")?;
    let e = &tail[found..];
    let eocd = len - span + found as u64;
    // One disk: a reader that follows disk numbers (Python's `zipfile` refuses others)
    // would look for the directory elsewhere.
    if u16_at(e, 4) != 0 || u16_at(e, 6) != 0 {
        return Err(
            "the end record names another disk than the first: a bundle is one file".into(),
        );
    }
    let (this_disk, total) = (u16_at(e, 8), u16_at(e, 10));
    let (size, offset) = (u32_at(e, 12), u32_at(e, 16));
    if this_disk != total {
        return Err(format!(
            "the end record counts {this_disk} entries on this disk but {total} in all"
        ));
    }
    let zip64 = total == u16::MAX || size == u32::MAX || offset == u32::MAX;
    if !zip64 {
        return Ok(Directory {
            offset: u64::from(offset),
            size: u64::from(size),
            count: u64::from(total),
            end: eocd,
        });
    }
    let locator =
        read(eocd.checked_sub(20).ok_or("no Zip64 locator")?, 20).map_err(|e| e.to_string())?;
    if u32_at(&locator, 0) != ZIP64_LOCATOR_SIG {
        return Err("the end record defers to a Zip64 record but no locator precedes it".into());
    }
    if u32_at(&locator, 4) != 0 || u32_at(&locator, 16) != 1 {
        return Err(
            "the Zip64 locator names another disk than the first: a bundle is one file".into(),
        );
    }
    let at = u64_at(&locator, 8);
    let rec = read(at, 56).map_err(|e| e.to_string())?;
    let rec_end = at
        .checked_add(12)
        .and_then(|x| x.checked_add(u64_at(&rec, 4)));
    if u32_at(&rec, 0) != ZIP64_EOCD_SIG || rec_end != Some(eocd - 20) {
        return Err("the Zip64 end record is not where its locator says".into());
    }
    if u32_at(&rec, 16) != 0 || u32_at(&rec, 20) != 0 {
        return Err(
            "the Zip64 end record names another disk than the first: a bundle is one file".into(),
        );
    }
    let (this_disk, total) = (u64_at(&rec, 24), u64_at(&rec, 32));
    if this_disk != total {
        return Err(format!(
            "the Zip64 end record counts {this_disk} entries on this disk but {total} in all"
        ));
    }
    Ok(Directory {
        offset: u64_at(&rec, 48),
        size: u64_at(&rec, 40),
        count: total,
        end: at,
    })
}

#[cfg(test)]
mod tests {
    use super::super::zip_layout::{Placement, central_directory, data_descriptor, local_header};
    use std::os::unix::fs::FileExt;

    /// Lays out entries of the given sizes (zero bytes: a sparse file) with outrider's own
    /// layout code, `gap` bytes apart, and checks the result.
    fn layout(sizes: &[u64], gap: u64) -> Result<(), String> {
        layout_patched(sizes, gap, &|_| {})
    }

    /// As [`layout`], with `patch` run on the file (and its length) before the check.
    fn layout_patched(
        sizes: &[u64],
        gap: u64,
        patch: &dyn Fn((&std::fs::File, u64)),
    ) -> Result<(), String> {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("b.zip");
        let file = std::fs::File::create_new(&path).expect("create");
        let mut placed: Vec<Placement> = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            let header_offset = placed.last().map_or(0, |p| p.end() + gap);
            placed.push(Placement {
                name: format!("blobs/sha256/{i:064x}"),
                size,
                header_offset,
                crc32: 0,
            });
        }
        for p in &placed {
            file.write_all_at(&local_header(p), p.header_offset)
                .expect("header");
            file.write_all_at(&data_descriptor(p), p.data_end())
                .expect("descriptor");
        }
        let end = placed.last().map_or(0, Placement::end);
        file.write_all_at(&central_directory(&placed, end), end)
            .expect("directory");
        let len = file.metadata().expect("len").len();
        patch((&file, len));
        super::check(&path, &file, len)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn outriders_own_zip64_layouts_pass() {
        // 65 535 entries: the entry count moves to the Zip64 end record.
        layout(&[0; 65_535], 0).expect("65 535 entries");
        // A 5 GiB entry (Zip64 sizes), then one starting past 4 GiB (Zip64 offset).
        layout(&[5 << 30, 0], 0).expect("entries past 4 GiB");
    }

    #[test]
    fn a_zip_that_names_another_disk_is_refused() {
        // The end record's "number of this disk" (offset 4), then the Zip64 locator's
        // disk count (offset 16 of the locator, 20 + 22 bytes before the end).
        let this_disk = |(f, len): (&std::fs::File, u64)| {
            f.write_all_at(&1u16.to_le_bytes(), len - 22 + 4)
                .expect("patch")
        };
        let e = layout_patched(&[10, 10], 0, &this_disk).expect_err("disk 1");
        assert!(e.contains("another disk"), "{e}");
        let disks = |(f, len): (&std::fs::File, u64)| {
            f.write_all_at(&2u32.to_le_bytes(), len - 22 - 20 + 16)
                .expect("patch")
        };
        let e = layout_patched(&[0; 65_535], 0, &disks).expect_err("two disks");
        assert!(e.contains("another disk"), "{e}");
    }

    #[test]
    fn bytes_between_entries_are_refused() {
        let e = layout(&[10, 10], 1).expect_err("a gap");
        assert!(
            e.contains("does not start where the previous entry ends"),
            "{e}"
        );
    }
}
