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
    let verifier = match &cosign {
        Some(keys) => Verifier::CosignKeys(keys),
        None => Verifier::None,
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
