//! `outrider diff` (in progress).

use super::Outcome;

/// Runs `diff`.
pub fn run(_args: crate::cli::DiffArgs) -> anyhow::Result<Outcome> {
    anyhow::bail!("not built yet")
}
