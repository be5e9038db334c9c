//! The byte layout of a zip of STORED entries whose sizes are known before their data is
//! written (PKWARE APPNOTE 6.3.10, §4.3–4.5). Knowing every offset up front is what lets
//! concurrent downloads write straight into their place in the file, with no spool copy.
//! Each entry sets flag bit 3: its CRC-32 follows the data in a data descriptor, so the
//! local header is final the moment the entry is placed, before a byte of data arrives.
//! That is what lets the bundle's own sha256 follow the download through an entry still
//! being written ([`super::in_order_sum`]) instead of waiting for it to end. The local
//! header still gives the sizes, for readers that walk local headers. Zip64 fields are
//! used exactly where a size or offset needs them. Timestamps are fixed (1980-01-01) so
//! equal inputs give equal bytes.

pub(super) const LOCAL_SIG: u32 = 0x0403_4b50;
pub(super) const CENTRAL_SIG: u32 = 0x0201_4b50;
pub(super) const EOCD_SIG: u32 = 0x0605_4b50;
pub(super) const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
pub(super) const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
pub(super) const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
const MAX32: u64 = 0xFFFF_FFFF;
/// Bit 3: CRC-32 in a data descriptor after the data; bit 11: names are UTF-8.
const FLAGS: u16 = (1 << 3) | (1 << 11);
/// The longest data descriptor: signature, CRC-32 and two 8-byte (Zip64) sizes.
pub const MAX_DESCRIPTOR_LEN: u64 = 24;
/// MS-DOS date for 1980-01-01, time 00:00.
const DOS_DATE: u16 = (1 << 5) | 1;

/// One entry's place in the archive.
#[derive(Clone, Debug)]
pub struct Placement {
    /// Entry name.
    pub name: String,
    /// Data size in bytes.
    pub size: u64,
    /// Offset of the local header.
    pub header_offset: u64,
    /// CRC-32 of the data, once known.
    pub crc32: u32,
}

impl Placement {
    /// Offset where the entry's data starts.
    pub fn data_offset(&self) -> u64 {
        self.header_offset + local_header_len(&self.name, self.size)
    }

    /// Offset of the data descriptor, just past the entry's data.
    pub fn data_end(&self) -> u64 {
        self.data_offset() + self.size
    }

    /// Offset just past the entry: its data and data descriptor.
    pub fn end(&self) -> u64 {
        self.data_end() + descriptor_len(self.size)
    }
}

fn needs_zip64_sizes(size: u64) -> bool {
    size >= MAX32
}

/// Length of the local header (with name and extra field) for an entry.
pub fn local_header_len(name: &str, size: u64) -> u64 {
    30 + name.len() as u64 + if needs_zip64_sizes(size) { 20 } else { 0 }
}

/// Length of the data descriptor after an entry of `size` bytes: 8-byte sizes exactly
/// when the local header carries Zip64 sizes (APPNOTE §4.3.9.1).
pub fn descriptor_len(size: u64) -> u64 {
    if needs_zip64_sizes(size) {
        MAX_DESCRIPTOR_LEN
    } else {
        16
    }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn version_needed(zip64: bool) -> u16 {
    if zip64 { 45 } else { 20 }
}

/// The local file header for an entry: final at placement, as it holds no CRC-32 (zero,
/// with bit 3; the data descriptor and the central directory carry it).
pub fn local_header(p: &Placement) -> Vec<u8> {
    let zip64 = needs_zip64_sizes(p.size);
    let mut out = Vec::with_capacity(local_header_len(&p.name, p.size) as usize);
    put32(&mut out, LOCAL_SIG);
    put16(&mut out, version_needed(zip64));
    put16(&mut out, FLAGS);
    put16(&mut out, 0); // stored
    put16(&mut out, 0); // time
    put16(&mut out, DOS_DATE);
    put32(&mut out, 0); // CRC-32: in the data descriptor
    let small = if zip64 { MAX32 as u32 } else { p.size as u32 };
    put32(&mut out, small);
    put32(&mut out, small);
    put16(&mut out, p.name.len() as u16);
    put16(&mut out, if zip64 { 20 } else { 0 });
    out.extend_from_slice(p.name.as_bytes());
    if zip64 {
        put16(&mut out, 0x0001);
        put16(&mut out, 16);
        put64(&mut out, p.size);
        put64(&mut out, p.size);
    }
    out
}

/// The data descriptor written after a placed entry's data (its CRC must be known).
pub fn data_descriptor(p: &Placement) -> Vec<u8> {
    let mut out = Vec::with_capacity(descriptor_len(p.size) as usize);
    put32(&mut out, DESCRIPTOR_SIG);
    put32(&mut out, p.crc32);
    if needs_zip64_sizes(p.size) {
        put64(&mut out, p.size);
        put64(&mut out, p.size);
    } else {
        put32(&mut out, p.size as u32);
        put32(&mut out, p.size as u32);
    }
    out
}

/// Central directory plus (zip64) end records for all entries, to be written at
/// `offset`, the end of the last entry's data.
pub fn central_directory(entries: &[Placement], offset: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for p in entries {
        let big_size = needs_zip64_sizes(p.size);
        let big_offset = p.header_offset >= MAX32;
        let mut extra = Vec::new();
        if big_size || big_offset {
            let mut body = Vec::new();
            if big_size {
                put64(&mut body, p.size);
                put64(&mut body, p.size);
            }
            if big_offset {
                put64(&mut body, p.header_offset);
            }
            put16(&mut extra, 0x0001);
            put16(&mut extra, body.len() as u16);
            extra.extend(body);
        }
        put32(&mut out, CENTRAL_SIG);
        put16(&mut out, (3 << 8) | 45); // made by: Unix, spec 4.5
        put16(&mut out, version_needed(big_size || big_offset));
        put16(&mut out, FLAGS);
        put16(&mut out, 0);
        put16(&mut out, 0);
        put16(&mut out, DOS_DATE);
        put32(&mut out, p.crc32);
        let small = if big_size {
            MAX32 as u32
        } else {
            p.size as u32
        };
        put32(&mut out, small);
        put32(&mut out, small);
        put16(&mut out, p.name.len() as u16);
        put16(&mut out, extra.len() as u16);
        put16(&mut out, 0); // comment
        put16(&mut out, 0); // disk
        put16(&mut out, 0); // internal attrs
        put32(&mut out, 0o100644 << 16); // external attrs: regular file, rw-r--r--
        put32(
            &mut out,
            if big_offset {
                MAX32 as u32
            } else {
                p.header_offset as u32
            },
        );
        out.extend_from_slice(p.name.as_bytes());
        out.extend(extra);
    }
    let cd_size = out.len() as u64;
    let count = entries.len() as u64;
    let zip64 = count >= 0xFFFF || cd_size >= MAX32 || offset >= MAX32;
    if zip64 {
        let zip64_eocd_offset = offset + cd_size;
        put32(&mut out, ZIP64_EOCD_SIG);
        put64(&mut out, 44);
        put16(&mut out, (3 << 8) | 45);
        put16(&mut out, 45);
        put32(&mut out, 0);
        put32(&mut out, 0);
        put64(&mut out, count);
        put64(&mut out, count);
        put64(&mut out, cd_size);
        put64(&mut out, offset);
        put32(&mut out, ZIP64_LOCATOR_SIG);
        put32(&mut out, 0);
        put64(&mut out, zip64_eocd_offset);
        put32(&mut out, 1);
    }
    put32(&mut out, EOCD_SIG);
    put16(&mut out, 0);
    put16(&mut out, 0);
    let c16 = if zip64 { 0xFFFF } else { count as u16 };
    put16(&mut out, c16);
    put16(&mut out, c16);
    put32(&mut out, if zip64 { MAX32 as u32 } else { cd_size as u32 });
    put32(&mut out, if zip64 { MAX32 as u32 } else { offset as u32 });
    put16(&mut out, 0);
    out
}
