//! Arguments of `receipt`: what a registry holds → a receipt for `pack --since`.

use super::address::parse_registry;
use super::connection::RegistryArgs;
use super::heading::{INPUT, OUTPUT};
use clap::Args;
use std::path::PathBuf;

/// `receipt` arguments.
#[derive(Args, Debug)]
pub struct ReceiptArgs {
    /// The registry to read (host[:port]).
    #[arg(long, value_name = "HOST[:PORT]", value_parser = parse_registry, help_heading = INPUT)]
    pub registry: String,
    /// Only repositories under this path.
    #[arg(long, value_name = "PATH", help_heading = INPUT)]
    pub prefix: Option<String>,
    /// The receipt to write.
    #[arg(short, long, value_name = "FILE", help_heading = OUTPUT)]
    pub output: PathBuf,
    /// Registry connection settings.
    #[command(flatten)]
    pub registry_args: RegistryArgs,
}
