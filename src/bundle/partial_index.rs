//! What a tag points at when only some platforms of a multi-platform image travel: the
//! one platform's own manifest, or an index reduced to the platforms carried. Either way
//! the far side sees another digest than the source's; `pack` says so per image, the push
//! dry run shows it, and the push writes it.

use crate::bundle::index::ManifestEntry;
use crate::oci::manifest::reduced_index;
use crate::oci::{Digest, ParsedManifest, RawManifest};

/// The manifest a partial index's tag will point at.
pub struct Arrival {
    /// Its digest.
    pub digest: Digest,
    /// The reduced index to push first, when one was built (none for one platform).
    pub reduced: Option<RawManifest>,
    /// One line for the report: what was tagged instead of the original.
    pub note: String,
}

/// Whether only some of an index's children travel, so its tag arrives under another
/// digest. Cheap: callers ask before reading the index's bytes.
pub fn is_partial(entry: &ManifestEntry) -> bool {
    entry.complete == Some(false)
}

/// For an index of which only `entry.children` travel, what its tag will point at; `None`
/// when the image travels whole.
pub fn arrival(entry: &ManifestEntry, top: &RawManifest) -> Result<Option<Arrival>, String> {
    if !is_partial(entry) {
        return Ok(None);
    }
    if entry.children.len() == 1 {
        let digest = entry.children[0].clone();
        return Ok(Some(Arrival {
            note: format!(
                "one platform carried: tagged its manifest {}",
                digest.short()
            ),
            digest,
            reduced: None,
        }));
    }
    let ParsedManifest::Index { manifests: entries } = top.parse().map_err(|e| e.to_string())?
    else {
        return Err("index entry is not an index".into());
    };
    let kept: Vec<_> = entries
        .iter()
        .filter(|e| entry.children.contains(&e.descriptor.digest))
        .collect();
    let reduced = reduced_index(top, &kept).map_err(|e| e.to_string())?;
    Ok(Some(Arrival {
        note: format!(
            "{} of {} platforms carried: pushed a reduced index {}",
            kept.len(),
            entries.len(),
            reduced.digest
        ),
        digest: reduced.digest.clone(),
        reduced: Some(reduced),
    }))
}
