//! `outrider report` (in progress).

use super::Outcome;

/// Runs `report`.
pub fn run(_args: crate::cli::ReportArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("not built yet")
}
