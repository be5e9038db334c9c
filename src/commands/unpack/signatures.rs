//! `unpack --cosign-key`: only images whose cosign signature verifies offline go on to be
//! pushed, loaded or written.

use crate::bundle::reader::BundleReader;
use crate::output;
use crate::trust::TrustedKeys;
use crate::trust::image_signatures::check_images;
use anyhow::bail;

/// Checks every selected image's signature and keeps only those that pass; returns how
/// many were left out. With `strict`, one failure stops everything before anything is
/// written; an unpack left with no image is an error either way.
pub fn keep_signed(
    reader: &mut BundleReader,
    keys: &TrustedKeys,
    strict: bool,
) -> anyhow::Result<usize> {
    let verdicts = check_images(reader, keys);
    let mut failed = Vec::new();
    for (image, verdict) in &verdicts {
        match verdict {
            Ok(v) => output::note(&format!(
                "image `{}`: cosign signature {} ({}) by {} (`{}`) verified",
                image.reference,
                v.artifact.short(),
                v.form,
                v.key,
                v.source
            )),
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
        return Ok(0);
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
    let count = failed.len();
    reader.index.images.retain(|i| !failed.contains(&i.digest));
    Ok(count)
}
