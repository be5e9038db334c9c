//! `unpack --cosign-key` and `--trusted-root` with identities: only images whose cosign
//! signature verifies offline (by a trusted key, or keylessly for an identity) go on to be
//! pushed, loaded or written.

use crate::blob_store::BlobStore;
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
    let verdicts = check_images(store, &reader.index, keys);
    let mut failed = Vec::new();
    for (image, verdict) in &verdicts {
        match verdict {
            Ok(v) => output::note(&v.describe(image)),
            Err(reason) => {
                output::problem(&format!(
                    "error: image `{}` ({}) is left out: no valid cosign signature: {reason}",
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
            "--strict: {} of {} images have no valid cosign signature; nothing was written",
            failed.len(),
            verdicts.len()
        );
    }
    if failed.len() == verdicts.len() {
        bail!(
            "no image in `{}` has a valid cosign signature for the keys given; nothing was written",
            reader.path().display()
        );
    }
    Ok(failed)
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
    let store = BlobStore::new(reader, bases);
    let verdicts = check_keyless(&store, &reader.index, keyless);
    let mut failed = Vec::new();
    for (image, verdict) in &verdicts {
        match verdict {
            Ok(v) => output::note(&v.describe(image)),
            Err(reason) => {
                output::problem(&format!(
                    "error: image `{}` ({}) is left out: no valid keyless signature: {reason}",
                    image.reference,
                    image.digest.short()
                ));
                failed.push(image.digest.clone());
            }
        }
    }
    if !failed.is_empty() && strict {
        bail!(
            "--strict: {} of {} images have no valid keyless signature; nothing was written",
            failed.len(),
            verdicts.len()
        );
    }
    if !failed.is_empty() && failed.len() == verdicts.len() {
        bail!(
            "no image in `{}` has a valid keyless signature for the identities given; nothing was written",
            reader.path().display()
        );
    }
    let left_out = failed.len();
    drop(verdicts);
    drop(store);
    reader.index.images.retain(|i| !failed.contains(&i.digest));
    Ok(left_out)
}
