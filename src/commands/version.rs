//! `outrider version`: what this binary is, for a site admin checking what was copied
//! across: version, git commit (and whether the tree was dirty), target triple, build
//! date, and the bundle and receipt format versions it reads and writes. `--version`
//! stays one line.

use super::Outcome;
use crate::cli::VersionArgs;
use crate::output;

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Version {
    version: &'static str,
    commit: &'static str,
    dirty: Option<bool>,
    target: &'static str,
    build_date: &'static str,
    bundle_format: Formats,
    receipt_format: Formats,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Formats {
    reads: Vec<u32>,
    writes: u32,
}

/// Runs `version`.
pub fn run(args: VersionArgs) -> anyhow::Result<Outcome> {
    let bundle = crate::bundle::index::FORMAT_VERSION;
    let receipt = crate::receipt::FORMAT_VERSION;
    let v = Version {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("OUTRIDER_COMMIT"),
        dirty: match env!("OUTRIDER_DIRTY") {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        target: env!("OUTRIDER_TARGET"),
        build_date: env!("OUTRIDER_BUILD_DATE"),
        bundle_format: Formats {
            reads: (1..=bundle).collect(),
            writes: bundle,
        },
        receipt_format: Formats {
            reads: (1..=receipt).collect(),
            writes: receipt,
        },
    };
    if args.json {
        output::document("version", &v);
        return Ok(Outcome::Success);
    }
    let dirty = match v.dirty {
        Some(true) => " (dirty tree)",
        Some(false) => "",
        None => " (tree state unknown)",
    };
    let list = |f: &Formats| {
        f.reads
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    for line in [
        format!("outrider {}", v.version),
        format!("commit:         {}{dirty}", v.commit),
        format!("target:         {}", v.target),
        format!("build date:     {}", v.build_date),
        format!(
            "bundle format:  reads {}, writes {} ({} when a bundle holds no referrers and no --registry-path)",
            list(&v.bundle_format),
            v.bundle_format.writes,
            crate::bundle::index::FORMAT_VERSION_PLAIN
        ),
        format!(
            "receipt format: reads {}, writes {}",
            list(&v.receipt_format),
            v.receipt_format.writes
        ),
    ] {
        output::line(&line);
    }
    Ok(Outcome::Success)
}
