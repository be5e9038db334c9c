//! Arguments of the commands about the binary itself: `version`, `completions`, `man`.

use clap::Args;
use std::path::PathBuf;

/// `version` arguments.
#[derive(Args, Debug)]
pub struct VersionArgs {
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `completions` arguments.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `man` arguments.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// The folder to write `outrider.1` and `outrider-<command>.1` into.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}
