//! `unpack --cosign-key` and `--trusted-root` with identities: only images whose cosign
//! signature verifies offline (by a trusted key, or keylessly for an identity) go on to be
//! pushed, loaded or written.

use crate::blob_store::BlobStore;
use crate::bundle::index::ImageEntry;
use crate::bundle::reader::BundleReader;
use crate::oci::Digest;
use crate::output;
use crate::trust::TrustedKeys;
use crate::trust::image_signatures::check_images;
use crate::trust::keyless::images::{Keyless, check_images as check_keyless};
use anyhow::bail;

/// Checks every selected image's signature, naming each verdict; returns the images
/// that fail, for the caller to leave out. With `strict`, one failure stops everything
/// before anything is written; an unpack left with no image is an error either way.
pub fn unsigned(
    store: &BlobStore,
    reader: &BundleReader,
    keys: &TrustedKeys,
    strict: bool,
) -> anyhow::Result<Vec<Digest>> {
    let said = check_images(store, &reader.index, keys)
        .into_iter()
        .map(|(image, v)| {
            (
                image,
                v.map(|v| v.describe(image)).map_err(|e| e.to_string()),
            )
        })
        .collect();
    leave_out(said, "cosign", "keys", reader, strict)
}

/// `unpack --trusted-root`: leaves out (from `reader`'s index) the images without a valid
/// keyless signature for the identities given, naming each verdict; returns how many were
/// left out. `strict` and an unpack left empty fail as [`unsigned`] does.
pub fn keyless(
    reader: &mut BundleReader,
    bases: &[BundleReader],
    keyless: Option<&Keyless>,
    strict: bool,
) -> anyhow::Result<usize> {
    let Some(keyless) = keyless else {
        return Ok(0);
    };
    let failed = {
        let store = BlobStore::new(reader, bases);
        let said = check_keyless(&store, &reader.index, keyless)
            .into_iter()
            .map(|(image, v)| {
                (
                    image,
                    v.map(|v| v.describe(image)).map_err(|e| e.to_string()),
                )
            })
            .collect();
        leave_out(said, "keyless", "identities", reader, strict)?
    };
    reader.index.images.retain(|i| !failed.contains(&i.digest));
    Ok(failed.len())
}

/// Says each image's verdict (`Ok`: the line for a signature that verified; `Err`: why
/// none did) and returns the images without one; `--strict` or no image left stops the
/// unpack before anything is written. `kind` names the signatures, `trust` what was given.
fn leave_out(
    said: Vec<(&ImageEntry, Result<String, String>)>,
    kind: &str,
    trust: &str,
    reader: &BundleReader,
    strict: bool,
) -> anyhow::Result<Vec<Digest>> {
    let mut failed = Vec::new();
    for (image, verdict) in &said {
        match verdict {
            Ok(line) => output::note(line),
            Err(reason) => {
                output::problem(&format!(
                    "error: image `{}` ({}) is left out: no valid {kind} signature: {reason}",
                    image.reference,
                    image.digest.short()
                ));
                failed.push(image.digest.clone());
            }
        }
    }
    if failed.is_empty() {
        return Ok(failed);
    }
    if strict {
        bail!(
            "--strict: {} of {} images have no valid {kind} signature; nothing was written",
            failed.len(),
            said.len()
        );
    }
    if failed.len() == said.len() {
        bail!(
            "no image in `{}` has a valid {kind} signature for the {trust} given; nothing was written",
            reader.path().display()
        );
    }
    Ok(failed)
}
