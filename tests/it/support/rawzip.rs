//! Reads a bundle's entries and writes zips the way an attacker would: any names (twice,
//! too), any CRC-32, any method, STORED data. The zip crate's writer refuses duplicate
//! names and computes CRCs itself, so hostile bundles are laid out here by hand
//! (PKWARE APPNOTE 4.3: local headers, central directory, end record; no Zip64, which
//! the small test bundles never need).

use std::io::Read;
use std::path::Path;

/// One entry to write.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Entry name.
    pub name: String,
    /// Stored bytes.
    pub data: Vec<u8>,
    /// CRC-32 written in the headers; `None` computes the right one.
    pub crc: Option<u32>,
    /// Compression method written in the headers (the data stays stored).
    pub method: u16,
    /// General-purpose flags written in both headers.
    pub flags: u16,
    /// Name written in the local header when it differs from the central one.
    pub local_name: Option<String>,
    /// Written as a local header and data only, left out of the central directory.
    pub unlisted: bool,
    /// Extra fields, written in both headers.
    pub extra: Vec<u8>,
}

impl Entry {
    /// A stored entry with the right CRC.
    pub fn new(name: &str, data: Vec<u8>) -> Entry {
        Entry {
            name: name.into(),
            data,
            crc: None,
            method: 0,
            flags: 0,
            local_name: None,
            unlisted: false,
            extra: Vec::new(),
        }
    }
}

/// Every entry of a zip, in directory order.
pub fn read(path: &Path) -> Vec<Entry> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).expect("open")).expect("zip");
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).expect("entry");
            let mut data = Vec::new();
            f.read_to_end(&mut data).expect("read entry");
            Entry::new(&f.name().expect("entry name"), data)
        })
        .collect()
}

/// The bytes of a zip holding `entries` exactly as given.
pub fn write(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        let crc = e.crc.unwrap_or_else(|| crc32(&e.data));
        let size = e.data.len() as u32;
        let name = e.name.as_bytes();
        let local_name = e.local_name.as_deref().map_or(name, str::as_bytes);
        let fixed = |sig: u32, central: bool, name: &[u8]| {
            let mut h = Vec::new();
            h.extend(sig.to_le_bytes());
            if central {
                h.extend(20u16.to_le_bytes()); // version made by
            }
            h.extend(20u16.to_le_bytes()); // version needed
            h.extend(e.flags.to_le_bytes());
            h.extend(e.method.to_le_bytes());
            h.extend(0u16.to_le_bytes()); // time
            h.extend(0x21u16.to_le_bytes()); // date: 1980-01-01
            h.extend(crc.to_le_bytes());
            h.extend(size.to_le_bytes());
            h.extend(size.to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend((e.extra.len() as u16).to_le_bytes());
            h
        };
        out.extend(fixed(0x0403_4b50, false, local_name));
        out.extend(local_name);
        out.extend(&e.extra);
        out.extend(&e.data);
        if e.flags & (1 << 3) != 0 {
            // Flag bit 3: a data descriptor follows the data (signed, as Python writes it).
            out.extend(0x0807_4b50u32.to_le_bytes());
            out.extend(crc.to_le_bytes());
            out.extend(size.to_le_bytes());
            out.extend(size.to_le_bytes());
        }
        if e.unlisted {
            continue;
        }
        central.extend(fixed(0x0201_4b50, true, name));
        central.extend(0u16.to_le_bytes()); // comment length
        central.extend(0u16.to_le_bytes()); // disk
        central.extend(0u16.to_le_bytes()); // internal attributes
        central.extend((0o100644u32 << 16).to_le_bytes());
        central.extend(offset.to_le_bytes());
        central.extend(name);
        central.extend(&e.extra);
    }
    let start = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]); // disk numbers
    let listed = entries.iter().filter(|e| !e.unlisted).count() as u16;
    out.extend(listed.to_le_bytes());
    out.extend(listed.to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(start.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// `zip` (as [`write`] makes it: no comment) with its end record counting `count` entries.
pub fn with_entry_count(mut zip: Vec<u8>, count: u16) -> Vec<u8> {
    let eocd = zip.len() - 22;
    for at in [eocd + 8, eocd + 10] {
        zip[at..at + 2].copy_from_slice(&count.to_le_bytes());
    }
    zip
}

/// CRC-32 (IEEE), bitwise: the tests need no speed.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
