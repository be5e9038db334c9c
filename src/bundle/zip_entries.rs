//! The zip entries of a bundle or payload: every one stored uncompressed, named once, and
//! named by the grammar of its kind, before anything reads them.

use super::blob_reader::EntrySpan;
use super::entry_name::INDEX_ENTRY;
use super::read_error::ReadError;
use crate::oci::Digest;
use crate::trust::seal::SIGNATURE_ENTRY;
use std::collections::HashMap;
use std::path::Path;

/// Whether `name` is an entry name a bundle may hold.
pub(super) fn valid_entry_name(name: &str) -> bool {
    name == INDEX_ENTRY
        || name == SIGNATURE_ENTRY
        || name.strip_prefix("blobs/sha256/").is_some_and(|rest| {
            let (hex, part) = rest
                .split_once(".part-")
                .map_or((rest, None), |(h, p)| (h, Some(p)));
            format!("sha256:{hex}").parse::<Digest>().is_ok()
                && part.is_none_or(|p| p.len() == 4 && p.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// The stored entries of a zip of `len` bytes, by name; anything compressed is refused,
/// and an entry that runs past the end is named as a cut copy.
pub(super) fn stored_entries(
    path: &Path,
    len: u64,
    archive: &mut zip::ZipArchive<&std::fs::File>,
    valid_name: impl Fn(&str) -> bool,
    naming_rule: &'static str,
) -> Result<HashMap<String, EntrySpan>, ReadError> {
    let not_zip = |e: zip::result::ZipError| ReadError::NotZip {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let mut entries = HashMap::new();
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(not_zip)?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let bad = |reason| ReadError::BadEntry {
            path: path.to_owned(),
            name: crate::output::sanitize(&name),
            reason,
        };
        // A NUL ends the name for C readers and not for others: two readers, two names.
        if entry.name_raw().contains(&0) {
            return Err(bad("a name holds a NUL byte"));
        }
        if !valid_name(&name) {
            return Err(bad(naming_rule));
        }
        if entry.compression() != zip::CompressionMethod::Stored
            || entry.compressed_size() != entry.size()
        {
            return Err(bad("entries must be stored uncompressed"));
        }
        let offset = entry.data_start().ok_or_else(|| bad("no data offset"))?;
        super::cut::check_span(path, len, offset.saturating_add(entry.size()))?;
        let span = EntrySpan {
            offset,
            size: entry.size(),
            crc32: entry.crc32(),
        };
        if entries.insert(name.clone(), span).is_some() {
            return Err(bad("a name appears twice; a bundle names each entry once"));
        }
    }
    Ok(entries)
}
