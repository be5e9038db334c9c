//! `outrider verify`: re-hash every stored blob and manifest, and check that every
//! manifest's references are present and agree with the index. Names each fault.

use super::Outcome;
use crate::blob_store::BlobStore;
use crate::bundle::agreement::Checked;
use crate::bundle::reader::BundleReader;
use crate::cli::VerifyArgs;
use crate::output;
use crate::trust::image_signatures::{check_images, verdict_json};
use std::collections::HashSet;

/// Every fault found in an opened bundle, as lines: stored bytes that fail their digest,
/// size or CRC-32, and every disagreement between the index and the manifests that would
/// stop an image in `unpack` (the same checks, from `bundle::agreement`). The index itself
/// was validated when the bundle was opened.
pub fn faults(reader: &BundleReader) -> Vec<String> {
    let index = &reader.index;
    let mut faults = Vec::new();
    // External blobs and manifests are held by the far side: listed, not stored, so there
    // is nothing here to hash. Blobs in volumes not given are not checked here (`--set`
    // checks the whole set).
    let stored = index
        .blobs
        .iter()
        .map(|b| (&b.digest, b.size, b.entry.is_some(), "blob"))
        .chain(
            index
                .manifests
                .iter()
                .map(|m| (&m.digest, m.size, m.entry.is_some(), "manifest")),
        );
    let mut checked = Checked::default();
    for (digest, size, carried, kind) in stored {
        if carried
            && reader.has(digest)
            && let Err(e) = reader.verify_blob(digest, size)
        {
            // Named here; the manifest checks below need not read or name it again.
            checked.already_reported(digest);
            faults.push(match e {
                // These name the blob, the file and the fix themselves.
                crate::bundle::reader::ReadError::Damaged(d) => d.to_string(),
                other => format!("{kind} {digest}: {other}"),
            });
        }
    }
    let mut seen = HashSet::new();
    for image in &index.images {
        for f in checked.image_faults(index, image, reader) {
            // A manifest shared by several images is named once.
            if seen.insert(f.clone()) {
                faults.push(f);
            }
        }
    }
    faults
}

/// Runs `verify`.
pub fn run(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let trusted = args.trust.load()?;
    let cosign_keys = args.cosign.load()?;
    let reader = BundleReader::open_set(&args.bundle, args.set, &trusted)?;
    super::note_seal(&reader, &trusted, true);
    let mut faults = faults(&reader);
    let verdicts = cosign_keys
        .as_ref()
        .map(|keys| check_images(&BlobStore::new(&reader, &[]), &reader.index, keys))
        .unwrap_or_default();
    for (image, verdict) in &verdicts {
        match verdict {
            Ok(v) => output::note(&v.describe(image)),
            Err(u) => faults.push(format!(
                "image `{}` has no valid cosign signature: {u}",
                image.reference
            )),
        }
    }
    for (n, path) in reader.missing_volumes() {
        if args.set {
            faults.push(format!("volume {n} (`{}`) is missing", path.display()));
        } else {
            output::note(&format!(
                "volume {n} not given, not checked (`--set` checks the whole set)"
            ));
        }
    }
    let checked = reader
        .index
        .blobs
        .iter()
        .map(|b| &b.digest)
        .chain(reader.index.manifests.iter().map(|m| &m.digest))
        .filter(|d| reader.has(d))
        .count();
    if args.json {
        output::document(
            "verify",
            &serde_json::json!({
                "bundle": reader.opened(),
                "signature": reader.seal().to_json(),
                "checked": checked,
                "faults": faults,
                "images": verdicts.iter().map(|(i, v)| verdict_json(i, v)).collect::<Vec<_>>(),
            }),
        );
    }
    if faults.is_empty() {
        output::note(&format!(
            "`{}`: {checked} blobs and manifests verified, no faults",
            reader.path().display()
        ));
        Ok(Outcome::Success)
    } else {
        for f in &faults {
            output::problem(&format!("fault: {f}"));
        }
        output::problem(&format!(
            "error: `{}` has {} faults",
            reader.path().display(),
            faults.len()
        ));
        Ok(Outcome::Failed)
    }
}
