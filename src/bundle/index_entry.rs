//! Reads a volume's index entry, in the order that keeps a hostile bundle from being
//! believed: size bound, CRC-32, then the signature over the raw bytes (when keys are
//! trusted), then parsing, the format version and [`validate::check_index`].

use super::blob_reader::{self, EntrySpan};
use super::entry_name::INDEX_ENTRY;
use super::index::{BundleIndex, FORMAT, FORMAT_VERSION};
use super::read_error::ReadError;
use super::validate;
use crate::trust::seal::{self, MAX_SIGNATURE_BYTES, SIGNATURE_ENTRY};
use crate::trust::{Seal, TrustedKeys};
use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Largest index accepted (a bundle with 100 000 blobs has an index of ~40 MiB).
const MAX_INDEX_BYTES: u64 = 256 * 1024 * 1024;
/// Deepest nesting of arrays and objects accepted in an index. outrider's own indexes
/// nest 5 deep (`volume.holdings[].part`); serde_json skips an unknown field without a
/// depth limit, and another reader's recursive parser would overflow its stack, so the
/// bound is checked on the raw bytes before any parser runs.
pub const MAX_JSON_DEPTH: usize = 64;

/// The first point where `json` nests arrays and objects deeper than [`MAX_JSON_DEPTH`]:
/// brackets inside strings (escapes included) do not count. Linear, and constant memory.
pub(super) fn too_deep(json: &[u8]) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (at, &b) in json.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Some(at);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Reads one small entry whole, checking its size bound and CRC-32.
pub(super) fn read_entry(
    path: &Path,
    file: &std::fs::File,
    span: EntrySpan,
    what: &str,
    limit: u64,
) -> Result<Vec<u8>, ReadError> {
    if span.size > limit {
        return Err(ReadError::Index {
            path: path.to_owned(),
            reason: format!("{what} is {} bytes, over the {limit} limit", span.size),
        });
    }
    let mut buf = vec![0; span.size as usize];
    file.read_exact_at(&mut buf, span.offset)
        .map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
    // Integrity before meaning: a flipped bit must not be read as a fact.
    let crc = crc32fast::hash(&buf);
    if crc != span.crc32 {
        return Err(blob_reader::damage(
            what,
            path,
            0,
            &format!("CRC-32 {crc:08x}, the zip says {:08x}", span.crc32),
        )
        .into());
    }
    Ok(buf)
}

/// The volume's parsed, validated index and what its signature showed.
pub fn read_index(
    path: &Path,
    file: &std::fs::File,
    entries: &HashMap<String, EntrySpan>,
    trusted: &TrustedKeys,
) -> Result<(BundleIndex, Seal), ReadError> {
    let bad_index = |reason: String| ReadError::Index {
        path: path.to_owned(),
        reason,
    };
    let span = *entries
        .get(INDEX_ENTRY)
        .ok_or_else(|| bad_index("no `outrider.json` entry".into()))?;
    let buf = read_entry(
        path,
        file,
        span,
        "the index `outrider.json`",
        MAX_INDEX_BYTES,
    )?;
    let signature = entries
        .get(SIGNATURE_ENTRY)
        .map(|span| {
            read_entry(
                path,
                file,
                *span,
                "the signature `outrider.json.sig`",
                MAX_SIGNATURE_BYTES,
            )
        })
        .transpose()?;
    let untrusted = |reason: String| ReadError::Untrusted {
        path: path.to_owned(),
        reason,
    };
    let seal = seal::check(&buf, signature.as_deref(), trusted).map_err(untrusted)?;
    if let Some(at) = too_deep(&buf) {
        return Err(bad_index(format!(
            "arrays and objects nest deeper than {MAX_JSON_DEPTH} levels (at byte {at}); an index is refused before it is parsed"
        )));
    }
    let index: BundleIndex = serde_json::from_slice(&buf).map_err(|e| bad_index(e.to_string()))?;
    if index.format != FORMAT || index.format_version > FORMAT_VERSION {
        return Err(bad_index(format!(
            "format `{}` version {} (this outrider reads `{FORMAT}` up to version {FORMAT_VERSION})",
            crate::output::sanitize(&index.format),
            index.format_version
        )));
    }
    let seal = seal::agree(seal, index.signed_by.as_ref()).map_err(untrusted)?;
    validate::check_index(&index).map_err(bad_index)?;
    Ok((index, seal))
}
