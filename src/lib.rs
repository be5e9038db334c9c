//! outrider: carries container images into air-gapped networks. `pack` reads registries
//! (or OCI layouts, archives, docker-charon payloads) into one random-access zip bundle;
//! `unpack` pushes it into a registry.
//!
//! Layering, on floors (README, "Design"; held by `tests/it/architecture.rs`): `commands`
//! → surfaces (`cli`, `serve`) → planning and moving (`plan`, `copy`, `sinks`, `config`)
//! → formats, peers and trust (`sources`, `registry`, `bundle`, `trust`, …) → `oci`
//! vocabulary. A file imports its own floor or lower, and no import loop is allowed.

pub mod atomic_file;
pub mod blob_store;
pub mod bundle;
pub mod charts;
pub mod cksum;
pub mod cli;
pub mod client_configs;
pub mod clobber;
pub mod commands;
pub mod config;
pub mod copy;
pub mod deploy;
pub mod destination;
pub mod docker_archive;
pub mod far_side;
pub mod k3s_registries;
pub mod lineage;
pub mod location;
pub mod oci;
pub mod output;
pub mod plan;
pub mod progress;
pub mod receipt;
pub mod registry;
pub mod report;
pub mod secret;
pub mod serve;
pub mod sinks;
pub mod size;
pub mod sources;
pub mod space;
pub mod trust;
pub mod write_behind;

use clap::Parser;
use std::process::ExitCode;

/// Parses arguments, runs the command, renders any error; returns the exit code
/// (0 success, 1 failure, 2 usage or config error).
pub fn run() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_tracing(cli.verbose, cli.quiet);
    output::set_quiet(cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            output::report_error(&anyhow::Error::new(e).context("starting the async runtime"));
            return ExitCode::from(1);
        }
    };
    let quiet = cli.quiet;
    let result = runtime.block_on(async move {
        match cli.command {
            cli::Command::Pack(a) => commands::pack::run(a, quiet).await,
            cli::Command::Plan(a) => commands::plan::run(a).await,
            cli::Command::Images(a) => commands::images::run(a).await,
            cli::Command::Unpack(a) => commands::unpack::run(a, quiet).await,
            cli::Command::Inspect(a) => commands::inspect::run(a),
            cli::Command::Verify(a) => commands::verify::run(a),
            cli::Command::Receipt(a) => commands::receipt::run(a).await,
            cli::Command::Validate(a) => commands::validate::run(a),
            cli::Command::Deploy(a) => commands::deploy::run(a, quiet).await,
            cli::Command::Serve(a) => commands::serve::run(a).await,
            cli::Command::Version(a) => commands::version::run(a),
            cli::Command::Completions(a) => commands::shell::completions(a),
            cli::Command::Man(a) => commands::shell::man(a),
            cli::Command::Report(a) => commands::report::run(a),
            cli::Command::Diff(a) => commands::diff::run(a),
        }
    });
    match result {
        Ok(commands::Outcome::Success) => ExitCode::SUCCESS,
        Ok(commands::Outcome::Failed) => ExitCode::from(1),
        Err(e) => {
            output::report_error(&e);
            if e.downcast_ref::<commands::UsageError>().is_some() {
                ExitCode::from(2)
            } else if e.downcast_ref::<commands::Interrupted>().is_some() {
                ExitCode::from(130)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn init_tracing(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    // Libraries' own lines (rustls, hyper, russh) stay out until -vv: outrider names
    // every failure itself, with its cause and fix.
    let default = match (quiet, verbose) {
        (true, _) => "off,outrider=error",
        (false, 0) => "off,outrider=info",
        (false, 1) => "off,outrider=debug",
        (false, _) => "info,outrider=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(progress::LogWriter)
        .with_ansi(ansi)
        .with_target(verbose > 0)
        .try_init();
}
