//! `outrider verify`: re-hash every stored blob and manifest, and check that every
//! manifest's references are present and agree with the index. Names each fault.

use super::Outcome;
use crate::bundle::reader::BundleReader;
use crate::cli::VerifyArgs;
use crate::oci::ParsedManifest;
use crate::output;

/// Every fault found in an opened bundle, as lines.
pub fn faults(reader: &BundleReader) -> Vec<String> {
    let index = &reader.index;
    let mut faults = Vec::new();
    // External blobs and manifests are held by the far side: listed, not stored, so there
    // is nothing here to hash. Their references are still checked below.
    // Blobs in volumes not given are not checked here (`--set` checks the whole set).
    for b in index
        .blobs
        .iter()
        .filter(|b| b.entry.is_some() && reader.has(&b.digest))
    {
        if let Err(e) = reader.verify_blob(&b.digest, b.size) {
            faults.push(format!("blob {}: {e}", b.digest));
        }
    }
    for m in index
        .manifests
        .iter()
        .filter(|m| m.entry.is_some() && reader.has(&m.digest))
    {
        let manifest = match reader.manifest(&m.digest) {
            Ok(raw) => raw,
            Err(e) => {
                faults.push(format!("manifest {}: {e}", m.digest));
                continue;
            }
        };
        match manifest.parse() {
            Ok(ParsedManifest::Image { config, layers }) => {
                let listed: Vec<_> = std::iter::once(&config).chain(layers.iter()).collect();
                for d in &listed {
                    match index.blob(&d.digest) {
                        None => faults.push(format!(
                            "manifest {} needs blob {}, which the bundle lacks",
                            m.digest, d.digest
                        )),
                        Some(b) if b.size != d.size => faults.push(format!(
                            "manifest {} says blob {} is {} bytes; the bundle holds {}",
                            m.digest, d.digest, d.size, b.size
                        )),
                        Some(_) => {}
                    }
                }
                if listed.iter().map(|d| &d.digest).ne(m.blobs.iter()) {
                    faults.push(format!(
                        "manifest {}: the index lists other blobs than the manifest names",
                        m.digest
                    ));
                }
            }
            Ok(ParsedManifest::Index { manifests }) => {
                for child in &m.children {
                    match manifests.iter().find(|e| &e.descriptor.digest == child) {
                        None => faults.push(format!("index {} does not list child {} the bundle index claims", m.digest, child)),
                        Some(e) if index.manifest(child).is_none_or(|c| c.size != e.descriptor.size) => {
                            faults.push(format!("index {} needs child {}, which the bundle lacks or holds at another size", m.digest, child))
                        }
                        Some(_) => {}
                    }
                }
                let complete = m.children.len() == manifests.len();
                if m.complete != Some(complete) {
                    faults.push(format!(
                        "index {}: `complete` is {:?} but {} of {} children are present",
                        m.digest,
                        m.complete,
                        m.children.len(),
                        manifests.len()
                    ));
                }
            }
            Err(e) => faults.push(format!("manifest {}: {e}", m.digest)),
        }
    }
    for image in &index.images {
        if index.manifest(&image.digest).is_none() {
            faults.push(format!(
                "image `{}`: manifest {} is not in the bundle",
                image.reference, image.digest
            ));
        }
    }
    faults
}

/// Runs `verify`.
pub fn run(args: VerifyArgs) -> anyhow::Result<Outcome> {
    let reader = BundleReader::open_set(&args.bundle, args.set)?;
    let mut faults = faults(&reader);
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
        output::json(
            &serde_json::json!({ "bundle": reader.opened(), "checked": checked, "faults": faults }),
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
