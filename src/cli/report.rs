//! Command-line types for the approver's view: lineage options of `pack` and of the far
//! side (`unpack`, `serve`, `verify`), and the `report` and `diff` commands.

use super::trust::{CosignArgs, TrustArgs};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// `pack`'s lineage options: the series, its sequence, an expiry.
#[derive(Args, Debug, Clone, Default)]
pub struct PackLineageArgs {
    /// The series this bundle belongs to (the far side refuses one older than a bundle
    /// of the series it has applied). Default with --sign: the key's fingerprint.
    #[arg(long, value_name = "NAME")]
    pub series: Option<String>,
    /// Its sequence in the series (default: one more than the counter kept in
    /// `outrider-series.json` beside the output, or than a --since bundle of the series).
    #[arg(long, value_name = "N")]
    pub sequence: Option<u64>,
    /// The far side refuses the bundle after this long (`30d`, `12h`, `2w`).
    #[arg(long, value_name = "DURATION")]
    pub expires: Option<String>,
}

/// The far side's lineage options: where it remembers what it applied, and overrides.
#[derive(Args, Debug, Clone, Default)]
pub struct LineageArgs {
    /// The folder holding `lineage.json`, the highest sequence applied per series and
    /// signer (default `$XDG_STATE_HOME/outrider`, else `~/.local/state/outrider`).
    #[arg(long, env = "OUTRIDER_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Apply a bundle older than (or as old as) one of its series already applied.
    #[arg(long)]
    pub allow_rollback: bool,
    /// Apply a bundle past its expiry (`pack --expires`).
    #[arg(long)]
    pub allow_expired: bool,
}

impl LineageArgs {
    /// Admits `reader`'s bundle at the far side (recorded as applied with `record`), or
    /// refuses it in one line as expired or a rollback, before anything is written.
    pub fn admit(
        &self,
        reader: &crate::bundle::reader::BundleReader,
        record: bool,
    ) -> Result<(), crate::lineage::LineageError> {
        use crate::lineage::{Admit, Allow};
        let dir = self
            .state_dir
            .clone()
            .unwrap_or_else(crate::lineage::default_dir);
        let allow = Allow {
            rollback: self.allow_rollback,
            expired: self.allow_expired,
        };
        let mode = if record { Admit::Record } else { Admit::Check };
        if let Some(line) = crate::lineage::admit(reader, &dir, allow, mode)? {
            crate::output::note(&line);
        }
        Ok(())
    }
}

impl LineageArgs {
    /// [`LineageArgs::admit`] for bundles given together (`serve`): the newest of each
    /// series is admitted; the older ones of the same series are its bases.
    pub fn admit_all(
        &self,
        readers: &[crate::bundle::reader::BundleReader],
        record: bool,
    ) -> Result<(), crate::lineage::LineageError> {
        let indexes: Vec<_> = readers.iter().map(|r| &r.index).collect();
        for (reader, base) in readers.iter().zip(crate::lineage::superseded(&indexes)) {
            if !base {
                self.admit(reader, record)?;
            }
        }
        Ok(())
    }
}

/// How `report` writes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// Markdown.
    Md,
    /// One self-contained HTML page (no scripts, no network; prints and reads on a phone).
    Html,
    /// One row per image and artifact.
    Csv,
    /// The whole model (see json-output.md).
    Json,
}

/// `report` arguments.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Bundles to report on (the volumes of a set are one bundle).
    #[arg(required = true, value_name = "BUNDLE")]
    pub bundles: Vec<PathBuf>,
    /// The document's format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: ReportFormat,
    /// Write it to this file (default: stdout).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keys the bundles must be signed by.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Keys each image's cosign signature is checked with (else: "not checked").
    #[command(flatten)]
    pub cosign: CosignArgs,
    /// Keyless signatures checked for each image: the signer's identity and issuer are
    /// shown.
    #[command(flatten)]
    pub keyless: super::keyless::KeylessArgs,
}

/// `diff` arguments.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The earlier bundle.
    pub old: PathBuf,
    /// The later bundle.
    pub new: PathBuf,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}
