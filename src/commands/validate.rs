//! `outrider validate -c FILE`: every problem at once, as `FILE:LINE:COLUMN: PATH: MESSAGE`;
//! exit 0 only when the file is valid, 2 otherwise.

use super::Outcome;
use crate::cli::ValidateArgs;
use crate::config::{self, ConfigError};
use crate::output;

/// Runs `validate`.
pub fn run(args: ValidateArgs) -> anyhow::Result<Outcome> {
    match config::load(&args.config) {
        Ok(c) => {
            let targets = c
                .document
                .get("targets")
                .and_then(|t| t.as_array())
                .map_or(0, Vec::len);
            output::line(&format!(
                "`{}` is valid: {} images, {targets} targets",
                args.config.display(),
                c.images.len()
            ));
            Ok(Outcome::Success)
        }
        Err(ConfigError::Invalid(path, problems)) => {
            for p in &problems {
                output::line(&format!(
                    "{}:{}:{}: {}: {}",
                    path.display(),
                    p.line,
                    p.column,
                    p.path,
                    p.message
                ));
            }
            Err(super::UsageError(format!(
                "`{}` has {} problems",
                path.display(),
                problems.len()
            ))
            .into())
        }
        Err(e) => Err(super::UsageError(e.to_string()).into()),
    }
}
