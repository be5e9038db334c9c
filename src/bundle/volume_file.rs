//! One zip file of a bundle opened and checked before meaning: its entries (stored, named
//! by the grammar, once, none running past the end), its index (CRC-32, signature,
//! validation). A docker-charon payload is opened the same way, its index built by
//! [`super::charon`]. A file cut short is named as such by [`super::cut`]. Also what one
//! file says about the others of its set, for the reader above: whether it holds only the
//! entries its index assigns it, whether it is of the same set, and which sibling beside a
//! cut volume still opens.

use super::blob_reader::EntrySpan;
use super::entry_name::INDEX_ENTRY;
use super::index::BundleIndex;
use super::index_entry::read_index;
use super::read_error::ReadError;
use super::zip_entries::{stored_entries, valid_entry_name};
use crate::trust::seal::SIGNATURE_ENTRY;
use crate::trust::{Seal, TrustedKeys};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One opened zip file.
pub(super) struct Volume {
    pub(super) path: PathBuf,
    pub(super) file: Arc<std::fs::File>,
    pub(super) entries: HashMap<String, EntrySpan>,
    /// What its index's signature showed.
    pub(super) seal: Seal,
}

pub(super) fn open_file(
    path: &Path,
    trusted: &TrustedKeys,
) -> Result<(Volume, BundleIndex), ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let (file, _) = fs_err::File::open(path).map_err(io)?.into_parts();
    let len = file.metadata().map_err(io)?.len();
    // One walk of the zip's own records; a file that is no zip (or a copy cut short, which
    // lost its directory) is named for what it is.
    let central = super::zip_strict::check(path, &file, len).map_err(|e| match e {
        ReadError::NotZip { reason, .. } => super::cut::diagnose(path, &file, reason),
        other => other,
    })?;
    let named = |name: &str| central.iter().any(|c| c.name == name);
    if named(super::charon::DESCRIPTOR_ENTRY) && !named(INDEX_ENTRY) {
        return open_payload(path, central, &file, trusted);
    }
    let entries = stored_entries(
        path,
        central,
        valid_entry_name,
        "only `outrider.json`, `outrider.json.sig` and `blobs/sha256/<hex>[.part-NNNN]` belong in a bundle",
    )?;
    let (index, seal) = read_index(path, &file, &entries, trusted)?;
    Ok((
        Volume {
            path: path.to_owned(),
            file: Arc::new(file),
            entries,
            seal,
        },
        index,
    ))
}

/// Whether `path` opens as a volume of a set (see [`readable_sibling`]).
pub(super) fn opens_as_volume(path: &Path, trusted: &TrustedKeys) -> bool {
    matches!(open_file(path, trusted), Ok((_, index)) if index.volume.is_some())
}

/// Another volume of the set `path` (`NAME.NNN.zip`) belongs to, beside it, that opens:
/// the set's index, to read the rest by when `path` itself is cut short.
pub(super) fn readable_sibling(path: &Path, trusted: &TrustedKeys) -> Option<std::path::PathBuf> {
    let name = path.file_name()?.to_str()?;
    let (stem, number) = name.strip_suffix(".zip")?.rsplit_once('.')?;
    if number.len() < 3 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let mut candidates: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .filter_map(|n| n.into_string().ok())
        .filter(|n| {
            n.strip_prefix(stem)
                .and_then(|r| r.strip_prefix('.'))
                .and_then(|r| r.strip_suffix(".zip"))
                .is_some_and(|d| d.len() == number.len() && d.bytes().all(|b| b.is_ascii_digit()))
                && n != name
        })
        .map(|n| dir.join(n))
        .collect();
    candidates.sort();
    candidates.into_iter().find(|c| opens_as_volume(c, trusted))
}

/// Every entry of `volume` but the index must be one of `wanted` (entry names the index
/// assigns to this file); an unlisted entry is refused rather than ignored.
pub(super) fn refuse_unlisted(volume: &Volume, wanted: &HashSet<&str>) -> Result<(), ReadError> {
    match volume.entries.keys().find(|n| {
        n.as_str() != INDEX_ENTRY && n.as_str() != SIGNATURE_ENTRY && !wanted.contains(n.as_str())
    }) {
        Some(name) => Err(ReadError::BadEntry {
            path: volume.path.clone(),
            name: crate::output::sanitize(name),
            reason: "the index does not list it",
        }),
        None => Ok(()),
    }
}

/// `other` is a volume of the same set as `first`, with the same index but for its number.
pub(super) fn check_same_set(
    path: &Path,
    first: &BundleIndex,
    other: &BundleIndex,
) -> Result<u32, ReadError> {
    let (Some(info), Some(o)) = (&first.volume, &other.volume) else {
        return Err(ReadError::Index {
            path: path.to_owned(),
            reason: "not a volume of a set".into(),
        });
    };
    if o.bundle != info.bundle {
        return Err(ReadError::Index {
            path: path.to_owned(),
            reason: format!("not a volume of the set `{}` ({})", info.name, info.bundle),
        });
    }
    if !first.same_but_number(other) {
        return Err(ReadError::Index {
            path: path.to_owned(),
            reason: format!(
                "its index differs from volume {}'s beyond the volume number: the set was altered",
                info.number
            ),
        });
    }
    Ok(o.number)
}

/// A docker-charon payload, read as a bundle of one volume (see [`super::charon`]).
fn open_payload(
    path: &Path,
    central: Vec<super::zip_strict::Central>,
    file: &std::fs::File,
    trusted: &TrustedKeys,
) -> Result<(Volume, BundleIndex), ReadError> {
    if !trusted.is_empty() {
        return Err(ReadError::Untrusted {
            path: path.to_owned(),
            reason: "it is a docker-charon payload, which carries no signature to check against the trusted keys".into(),
        });
    }
    let raw = stored_entries(
        path,
        central,
        super::charon::valid_entry_name,
        super::charon::NAMING_RULE,
    )?;
    let payload = super::charon::open(path, file, &raw)?;
    if !payload.already_transferred.is_empty() {
        crate::output::note(&format!(
            "`{}` is a docker-charon payload that leaves out {} images as already transferred: {}",
            path.display(),
            payload.already_transferred.len(),
            payload
                .already_transferred
                .iter()
                .map(|n| crate::output::sanitize(n))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let file = file.try_clone().map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok((
        Volume {
            path: path.to_owned(),
            file: Arc::new(file),
            entries: payload.entries,
            seal: Seal::Unsigned,
        },
        payload.index,
    ))
}
