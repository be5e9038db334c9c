//! The parents of a bundle: each `--since` bundle or receipt, named by file name and
//! digest, and the plain sentence a far side prints when what a parent described is not
//! at the destination.

use super::error::LineageError;
use super::record::{Parent, ParentKind};
use crate::bundle::index::BundleIndex;
use crate::bundle::reader::BundleReader;
use crate::oci::Digest;
use crate::trust::TrustedKeys;
use std::path::Path;

/// The largest index read to name a bundle (the reader's own limit is the same order).
const MAX_INDEX: u64 = 256 << 20;

/// A bundle's identity: for a volume set its `volume.bundle`, else the sha256 of its
/// `outrider.json` entry as stored.
pub fn identity(path: &Path, index: &BundleIndex) -> Result<Digest, LineageError> {
    if let Some(v) = &index.volume {
        return Ok(v.bundle.clone());
    }
    let io = |e: std::io::Error| LineageError::Io(path.to_owned(), e);
    let file = fs_err::File::open(path).map_err(io)?;
    let mut zip =
        zip::ZipArchive::new(file).map_err(|e| io(std::io::Error::other(e.to_string())))?;
    let entry = zip
        .by_name("outrider.json")
        .map_err(|e| io(std::io::Error::other(e.to_string())))?;
    let (digest, _) = Digest::of_reader(std::io::Read::take(entry, MAX_INDEX)).map_err(io)?;
    Ok(digest)
}

/// The parent a `--since` file makes: a bundle (a zip: its identity, series and
/// sequence) or a receipt (the sha256 of the file).
pub fn parent(path: &Path) -> Result<Parent, LineageError> {
    let io = |e: std::io::Error| LineageError::Io(path.to_owned(), e);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let mut magic = [0u8; 2];
    let is_zip = std::io::Read::read_exact(&mut fs_err::File::open(path).map_err(io)?, &mut magic)
        .is_ok()
        && &magic == b"PK";
    if !is_zip {
        let (digest, _) = Digest::of_reader(fs_err::File::open(path).map_err(io)?).map_err(io)?;
        return Ok(Parent {
            kind: ParentKind::Receipt,
            name,
            digest,
            series: None,
            sequence: None,
        });
    }
    let bundle = BundleReader::open(path, &TrustedKeys::none())
        .map_err(|e| LineageError::Parent(path.to_owned(), e.to_string()))?;
    let lineage = bundle.index.lineage.as_ref();
    Ok(Parent {
        kind: ParentKind::Bundle,
        name,
        digest: identity(path, &bundle.index)?,
        series: lineage.and_then(|l| l.series.clone()),
        sequence: lineage.and_then(|l| l.sequence),
    })
}

/// The sentence that names what an incremental bundle needs at its destination, for the
/// lines that list missing blobs: `this bundle needs `week1.zip` (sha256 …) or its receipt
/// at the destination`. `None` when the bundle records no parents.
pub fn needs(index: &BundleIndex) -> Option<String> {
    let parents = &index.lineage.as_ref()?.parents;
    if parents.is_empty() {
        return None;
    }
    let named: Vec<String> = parents
        .iter()
        .map(|p| match p.kind {
            ParentKind::Bundle => format!(
                "`{}` ({}{}) or its receipt",
                crate::output::sanitize(&p.name),
                p.digest,
                p.sequence
                    .map(|s| format!(", sequence {s}"))
                    .unwrap_or_default()
            ),
            ParentKind::Receipt => format!(
                "what the receipt `{}` ({}) lists",
                crate::output::sanitize(&p.name),
                p.digest
            ),
        })
        .collect();
    Some(format!(
        "this bundle needs {} at the destination: apply that first",
        named.join(" and ")
    ))
}
