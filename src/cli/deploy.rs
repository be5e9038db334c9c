//! Arguments of the commands that read the original outrider's config: `deploy` (images →
//! targets over SSH in one run) and `validate`.

use super::connection::RegistryArgs;
use super::heading::{INPUT, SELECTION};
use clap::Args;
use std::path::PathBuf;

/// `deploy` arguments.
#[derive(Args, Debug)]
pub struct DeployArgs {
    /// The config file (images, transport, targets, post_instructions).
    #[arg(short = 'c', long, value_name = "FILE", help_heading = INPUT)]
    pub config: PathBuf,
    /// Print the plan per target and touch nothing: manifests are read, no blob is.
    #[arg(long)]
    pub dry_run: bool,
    /// Targets worked on at once (default: the config's `parallel`, else 4).
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Skip the checks made on every target before anything is pulled (host key, login,
    /// room, the plugin's command; any failing one stops the run), so each target fails
    /// on its own during the deploy and the others go on.
    #[arg(long)]
    pub no_target_checks: bool,
    /// Write the temporary bundle and tar even when the temporary folder looks too small
    /// for them: by default deploy refuses before pulling.
    #[arg(long)]
    pub no_space_check: bool,
    /// Platform for multi-platform images (default: the config's `platforms`, else this host's).
    #[arg(long = "platform", value_name = "OS/ARCH", help_heading = SELECTION)]
    pub platforms: Vec<String>,
    /// Blobs of 1 MiB and more downloaded at once; smaller blobs go four times as many at
    /// once, as a round trip costs them more than their bytes.
    #[arg(short, long, value_name = "N", default_value_t = crate::copy::DEFAULT_JOBS)]
    pub jobs: usize,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Registry connection settings.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `validate` arguments.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The config file.
    #[arg(short = 'c', long, value_name = "FILE", help_heading = INPUT)]
    pub config: PathBuf,
}
