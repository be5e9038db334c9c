//! One zip file of a bundle opened and checked before meaning: its entries (stored, named
//! by the grammar, once, none running past the end), its index (CRC-32, signature,
//! validation). A docker-charon payload is opened the same way, its index built by
//! [`super::charon`]. A file cut short is named as such by [`super::cut`].

use super::INDEX_ENTRY;
use super::blob_reader::EntrySpan;
use super::index::BundleIndex;
use super::index_entry::read_index;
use super::read_error::ReadError;
use super::zip_entries::{stored_entries, valid_entry_name};
use crate::trust::{Seal, TrustedKeys};
use std::collections::HashMap;
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
    let mut archive =
        zip::ZipArchive::new(&file).map_err(|e| super::cut::diagnose(path, &file, e))?;
    // The zip crate keeps one entry per name; a second copy would silently win or lose.
    if archive.has_duplicate_names() {
        return Err(ReadError::BadEntry {
            path: path.to_owned(),
            name: "(several)".into(),
            reason: "a name appears twice in the central directory; a bundle names each entry once",
        });
    }
    if archive
        .index_for_name(super::charon::DESCRIPTOR_ENTRY)
        .is_some()
        && archive.index_for_name(INDEX_ENTRY).is_none()
    {
        return open_payload(path, len, &file, &mut archive, trusted);
    }
    let entries = stored_entries(
        path,
        len,
        &mut archive,
        valid_entry_name,
        "only `outrider.json`, `outrider.json.sig` and `blobs/sha256/<hex>[.part-NNNN]` belong in a bundle",
    )?;
    super::zip_strict::check(path, &file, len)?;
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

/// Whether `path` opens as a volume of a set (see [`super::cut::readable_sibling`]).
pub(super) fn opens_as_volume(path: &Path, trusted: &TrustedKeys) -> bool {
    matches!(open_file(path, trusted), Ok((_, index)) if index.volume.is_some())
}

/// A docker-charon payload, read as a bundle of one volume (see [`super::charon`]).
fn open_payload(
    path: &Path,
    len: u64,
    file: &std::fs::File,
    archive: &mut zip::ZipArchive<&std::fs::File>,
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
        len,
        archive,
        super::charon::valid_entry_name,
        super::charon::NAMING_RULE,
    )?;
    super::zip_strict::check(path, file, len)?;
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
