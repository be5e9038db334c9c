//! `outrider report`: the approver's document over one or more bundles, in Markdown,
//! HTML, CSV or JSON, to stdout or a file.

use super::{Outcome, UsageError};
use crate::bundle::reader::BundleReader;
use crate::cli::{ReportArgs, ReportFormat};
use crate::report::{Verifier, csv, html, json, markdown};

/// Runs `report`.
pub fn run(args: ReportArgs) -> anyhow::Result<Outcome> {
    let trusted = args.trust.load()?;
    let cosign = args.cosign.load()?;
    if let Some(out) = &args.output {
        let mut inputs = crate::clobber::Inputs::default();
        for b in &args.bundles {
            inputs.add("a bundle", b);
        }
        inputs.check("-o", out).map_err(UsageError)?;
    }
    // A volume set is one bundle: volumes of a set already opened are not reported twice.
    let mut readers: Vec<BundleReader> = Vec::new();
    for path in &args.bundles {
        let reader = BundleReader::open(path, &trusted)?;
        let seen = reader.index.volume.as_ref().is_some_and(|v| {
            readers.iter().any(|r| {
                r.index
                    .volume
                    .as_ref()
                    .is_some_and(|w| w.bundle == v.bundle)
            })
        });
        if !seen {
            readers.push(reader);
        }
    }
    let total: u64 = readers
        .iter()
        .flat_map(|r| r.opened())
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    if total >= 1 << 30 {
        crate::output::note(&format!(
            "re-hashing {} of bundle files for their sha256",
            crate::output::bytes(total)
        ));
    }
    let keyless = args.keyless.load().map_err(|e| UsageError(e.0))?;
    let verifier = Verifier {
        keys: cosign.as_ref(),
        keyless: keyless.as_ref(),
    };
    let report = crate::report::build(&readers, &verifier)?;
    let text = match args.format {
        ReportFormat::Md => markdown::render(&report),
        ReportFormat::Html => html::render(&report),
        ReportFormat::Csv => csv::render(&report),
        ReportFormat::Json => json::render(&report),
    };
    match &args.output {
        Some(path) => {
            crate::atomic_file::write(path, text.as_bytes(), None)?;
            crate::output::note(&format!(
                "wrote `{}`: {} images in {} bundles",
                path.display(),
                report.summary.images,
                report.summary.bundles
            ));
        }
        None => std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())?,
    }
    Ok(Outcome::Success)
}

/// Keeps the images named by `wanted` (a repository path, `registry/repository`, or a
/// reference as written or normalised); none named keeps all. A name matching nothing is
/// a usage error listing what the bundle has.
pub fn only_images(
    images: &mut Vec<crate::bundle::index::ImageEntry>,
    wanted: &[String],
) -> anyhow::Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let matches = |i: &crate::bundle::index::ImageEntry, w: &str| {
        let normal = w.parse::<crate::oci::ImageRef>().map(|r| r.to_string());
        i.repository == w
            || i.origin() == w
            || i.reference == w
            || i.requested == w
            || normal.is_ok_and(|n| n == i.reference)
    };
    for w in wanted {
        if !images.iter().any(|i| matches(i, w)) {
            let has: Vec<&str> = images.iter().map(|i| i.reference.as_str()).collect();
            anyhow::bail!(UsageError(format!(
                "no image of `{}` in the bundle (it has: {})",
                crate::output::sanitize(w),
                has.join(", ")
            )));
        }
    }
    images.retain(|i| wanted.iter().any(|w| matches(i, w)));
    Ok(())
}

/// `inspect --extract-artifacts DIR`: writes the SBOMs and attestations, one line each
/// (or JSON with `json`).
pub fn extract_artifacts(
    reader: &BundleReader,
    dir: &std::path::Path,
    json: bool,
) -> anyhow::Result<Outcome> {
    let (written, notes) = crate::report::extract::extract(reader, dir)?;
    for n in &notes {
        crate::output::note(n);
    }
    if json {
        crate::output::document("inspect", &serde_json::json!({ "extracted": written }));
    } else {
        for w in &written {
            crate::output::line(&format!(
                "{}\t{}\t{}{}",
                w.path.display(),
                w.image,
                format!("{:?}", w.category).to_lowercase(),
                if w.exact { "" } else { " (decoded from DSSE)" }
            ));
        }
    }
    crate::output::note(&format!(
        "{} files written to `{}`",
        written.len(),
        dir.display()
    ));
    Ok(Outcome::Success)
}
