//! The zip entries of a bundle or payload: every one stored uncompressed, named once, and
//! named by the grammar of its kind, before anything reads them.

use super::blob_reader::EntrySpan;
use super::entry_name::INDEX_ENTRY;
use super::read_error::ReadError;
use super::zip_strict::Central;
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

/// The stored entries of a zip (as [`super::zip_strict::check`] read them), by name;
/// anything compressed is refused, and so is a name outside `valid_name`'s grammar or
/// given twice.
pub(super) fn stored_entries(
    path: &Path,
    central: Vec<Central>,
    valid_name: impl Fn(&str) -> bool,
    naming_rule: &'static str,
) -> Result<HashMap<String, EntrySpan>, ReadError> {
    let mut entries = HashMap::with_capacity(central.len());
    for entry in central {
        let bad = |reason| ReadError::BadEntry {
            path: path.to_owned(),
            name: crate::output::sanitize(&entry.name),
            reason,
        };
        if !valid_name(&entry.name) {
            return Err(bad(naming_rule));
        }
        if entry.method != 0 || entry.compressed != entry.size {
            return Err(bad("entries must be stored uncompressed"));
        }
        let span = EntrySpan {
            offset: entry.data_offset,
            size: entry.size,
            crc32: entry.crc32,
        };
        if entries.insert(entry.name.clone(), span).is_some() {
            return Err(bad("a name appears twice; a bundle names each entry once"));
        }
    }
    Ok(entries)
}
