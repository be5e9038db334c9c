//! `outrider verify`: re-hash every stored blob and manifest, and check that every
//! manifest's references are present and agree with the index. Names each fault.

use super::Outcome;
use crate::blob_store::BlobStore;
use crate::bundle::agreement::Checked;
use crate::bundle::reader::{BundleReader, ReadError};
use crate::cli::VerifyArgs;
use crate::oci::Digest;
use crate::output;
use crate::trust::image_signatures::{check_images, verdict_json};
use crate::trust::keyless::images as keyless_images;
use std::collections::HashSet;

/// What a check covered: blobs and manifests re-hashed whole, parts re-hashed alone
/// (their blob's other parts being in volumes not given), and what the files given could
/// not check, so that a volume checked alone is never reported as if it were the set.
#[derive(Default)]
pub struct Coverage {
    /// Blobs and manifests re-hashed against their digest and size.
    pub whole: usize,
    /// Parts re-hashed against their part digest and size only.
    pub parts: usize,
    /// What needs volumes not given, one line each.
    pub not_checked: Vec<String>,
}

/// A read error as a fault line: damage names the blob, the file and the fix itself.
fn fault_line(kind: &str, digest: &Digest, e: ReadError) -> String {
    match e {
        ReadError::Damaged(d) => d.to_string(),
        other => format!("{kind} {digest}: {other}"),
    }
}

/// Every fault found in an opened bundle, as lines: stored bytes that fail their digest,
/// size or CRC-32, and every disagreement between the index and the manifests that would
/// stop an image in `unpack` (the same checks, from `bundle::agreement`). The index itself
/// was validated when the bundle was opened.
pub fn faults(reader: &BundleReader) -> (Vec<String>, Coverage) {
    let index = &reader.index;
    let mut faults = Vec::new();
    let mut coverage = Coverage::default();
    // External blobs and manifests are held by the far side: listed, not stored, so there
    // is nothing here to hash.
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
    let mut elsewhere = 0usize;
    for (digest, size, carried, kind) in stored {
        if !carried {
            continue;
        }
        if !reader.has(digest) {
            elsewhere += 1;
            continue;
        }
        coverage.whole += 1;
        if let Err(e) = reader.verify_blob(digest, size) {
            // Named here; the manifest checks below need not read or name it again.
            checked.already_reported(digest);
            faults.push(fault_line(kind, digest, e));
        }
    }
    // A blob cut into parts, some in volumes not given: each part here is checked alone;
    // the blob's own digest needs every part.
    for digest in reader.partly_here() {
        let (parts, damaged) = reader.verify_parts_alone(digest);
        coverage.parts += parts;
        faults.extend(damaged.into_iter().map(|e| fault_line("blob", digest, e)));
        coverage.not_checked.push(split_line(reader, digest));
        elsewhere = elsewhere.saturating_sub(1);
    }
    if let Some(line) = absent_line(reader, elsewhere) {
        coverage.not_checked.insert(0, line);
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
    (faults, coverage)
}

/// Numbers as `1, 3, 4`.
fn numbers(n: impl IntoIterator<Item = u32>) -> String {
    n.into_iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a blob cut into parts, some in volumes not given, leaves unchecked.
fn split_line(reader: &BundleReader, digest: &Digest) -> String {
    let holdings = reader.index.volume.iter().flat_map(|v| &v.holdings);
    let given = reader.volumes_given();
    let (mut here, mut away, mut count) = (Vec::new(), Vec::new(), 0);
    for (h, p) in holdings
        .filter(|h| h.digest == *digest)
        .filter_map(|h| Some((h, h.part.as_ref()?)))
    {
        count = p.count;
        if given.contains(&h.volume) {
            here.push(p.number);
        } else {
            away.push(h.volume);
        }
    }
    away.dedup();
    format!(
        "blob {digest} whole: its digest needs all {count} parts, the others in volumes {}; part {} here checked alone against its part digest",
        numbers(away),
        numbers(here)
    )
}

/// What volumes not given leave unchecked: the entries only they hold (`count`), and the
/// index against the manifests among them.
fn absent_line(reader: &BundleReader, count: usize) -> Option<String> {
    let missing = reader.missing_volumes();
    (!missing.is_empty()).then(|| {
        format!(
            "volumes {}, not given: the {count} blobs and manifests only they hold, and the index against those manifests",
            numbers(missing.iter().map(|(n, _)| *n))
        )
    })
}

/// What was read, for the verdict: ` (the set of 4 volumes)`, ` (volume 2 of 4, checked
/// alone)`; empty for a bundle in one file.
fn scope(reader: &BundleReader) -> String {
    let Some(info) = &reader.index.volume else {
        return String::new();
    };
    let given = reader.volumes_given();
    match given.as_slice() {
        _ if given.len() as u32 == info.total => format!(" (the set of {} volumes)", info.total),
        [one] => format!(" (volume {one} of {}, checked alone)", info.total),
        _ => format!(
            " (volumes {} of {}, checked without the others)",
            numbers(given.iter().copied()),
            info.total
        ),
    }
}

/// Runs `verify`.
pub fn run(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let trusted = args.trust.load()?;
    let cosign_keys = args.cosign.load()?;
    let keyless = args.keyless.load().map_err(|e| super::UsageError(e.0))?;
    let reader = BundleReader::open_set(&args.bundle, args.set, &trusted)?;
    super::note_seal(&reader, &trusted, true);
    args.lineage.admit(&reader, false)?;
    let (mut faults, coverage) = faults(&reader);
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
    let keyless_verdicts = keyless
        .as_ref()
        .map(|k| keyless_images::check_images(&BlobStore::new(&reader, &[]), &reader.index, k))
        .unwrap_or_default();
    for (image, verdict) in &keyless_verdicts {
        match verdict {
            Ok(v) => output::note(&v.describe(image)),
            Err(u) => faults.push(format!(
                "image `{}` has no valid keyless signature: {u}",
                image.reference
            )),
        }
    }
    if args.set {
        for (n, path) in reader.missing_volumes() {
            faults.push(format!("volume {n} (`{}`) is missing", path.display()));
        }
    }
    let not_checked = coverage.not_checked;
    let scope = scope(&reader);
    if args.json {
        output::document(
            "verify",
            &serde_json::json!({
                "bundle": reader.opened(),
                "signature": reader.seal().to_json(),
                "checked": coverage.whole,
                "partsChecked": coverage.parts,
                "volumes": reader.index.volume.as_ref().map(|v| serde_json::json!({
                    "total": v.total,
                    "checked": reader.volumes_given(),
                })),
                "notChecked": not_checked,
                "faults": faults,
                "images": verdicts.iter().map(|(i, v)| verdict_json(i, v)).collect::<Vec<_>>(),
                "keyless": keyless_verdicts.iter().map(|(i, v)| serde_json::json!({
                    "image": i.reference, "digest": i.digest, "verified": v.is_ok(),
                    "signer": v.as_ref().ok().map(|v| v.to_json()),
                    "reasons": v.as_ref().err().map(|u| u.reasons.clone()),
                })).collect::<Vec<_>>(),
            }),
        );
    }
    if !not_checked.is_empty() {
        let hint = if args.set {
            String::new()
        } else {
            format!(
                "; `outrider verify --set {}` checks the whole set",
                reader.path().display()
            )
        };
        output::note(&format!(
            "`{}`{scope}, not checked{hint}:",
            reader.path().display()
        ));
        for line in &not_checked {
            output::note(&format!("  {line}"));
        }
    }
    let parts = match coverage.parts {
        0 => String::new(),
        1 => " and 1 part of a split blob".into(),
        n => format!(" and {n} parts of split blobs"),
    };
    let outcome = if faults.is_empty() {
        output::note(&format!(
            "`{}`{scope}: {} blobs and manifests{parts} verified, no faults",
            reader.path().display(),
            coverage.whole
        ));
        Outcome::Success
    } else {
        for f in &faults {
            output::problem(&format!("fault: {f}"));
        }
        output::problem(&format!(
            "error: `{}`{scope} has {} faults",
            reader.path().display(),
            faults.len()
        ));
        Outcome::Failed
    };
    drop((verdicts, keyless_verdicts));
    // The process ends with this command: freeing a large bundle's index entry by entry
    // (tens of thousands of strings) took 8% of verify's time on the bench's 71k
    // entries, for memory the operating system takes back at exit anyway.
    std::mem::forget(reader);
    Ok(outcome)
}

/// `pack --verify-signatures`: checks every image of the bundle just written (`paths`, its
/// volumes) for a keyless signature that verifies with the trusted root and identities; if
/// one does not, the bundle is removed (nothing unverified is carried) and pack fails
/// naming each image and the check that failed.
pub fn refuse_unverified(
    paths: &[std::path::PathBuf],
    args: &crate::cli::keyless::PackKeylessArgs,
) -> anyhow::Result<()> {
    if !args.verify_signatures {
        return Ok(());
    }
    let keyless = args
        .keyless
        .load()
        .map_err(|e| super::UsageError(e.0))?
        .ok_or_else(|| {
            super::UsageError("--verify-signatures needs --trusted-root and identities".into())
        })?;
    let failed: Vec<String> = {
        let reader = BundleReader::open_set(paths, true, &crate::trust::TrustedKeys::none())?;
        keyless_images::check_images(&BlobStore::new(&reader, &[]), &reader.index, &keyless)
            .into_iter()
            .filter_map(|(image, verdict)| match verdict {
                Ok(v) => {
                    output::note(&v.describe(image));
                    None
                }
                Err(u) => Some(format!("image `{}`: {u}", image.reference)),
            })
            .collect()
    };
    if failed.is_empty() {
        return Ok(());
    }
    for path in paths {
        let _ = fs_err::remove_file(path);
    }
    anyhow::bail!(
        "--verify-signatures: {} images have no valid keyless signature, so the bundle was removed:\n  {}",
        failed.len(),
        failed.join("\n  ")
    )
}
