//! `outrider completions SHELL` and `outrider man DIR`: shell completions (clap_complete)
//! and man pages for the command and every subcommand (clap_mangen), generated from the
//! same clap definitions the binary parses, so they cannot drift from it: each page has a
//! section per help heading (INPUT, SELECTION, OUTPUT, TRUST, REGISTRY CONNECTION, …), as
//! `--help` groups them. The release script ships both in every archive.

use super::Outcome;
use crate::cli::{CompletionsArgs, ManArgs};
use anyhow::Context;
use clap::CommandFactory;

/// Runs `completions`: the script on stdout.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut command = crate::cli::Cli::command();
    clap_complete::generate(args.shell, &mut command, "outrider", &mut std::io::stdout());
    Ok(Outcome::Success)
}

/// Runs `man`: `outrider.1` and `outrider-<command>.1` for each subcommand into the folder.
pub fn man(args: ManArgs) -> anyhow::Result<Outcome> {
    fs_err::create_dir_all(&args.dir)?;
    let mut command = crate::cli::Cli::command();
    // Built, so each command's page lists the global options too, under their heading.
    command.build();
    let mut written = 0;
    let mut pages = vec![(command.get_name().to_owned(), command.clone())];
    // (`build` added `help`, whose page would only repeat `outrider --help`.)
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("outrider-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, page) in pages {
        let path = args.dir.join(format!("{name}.1"));
        let mut bytes = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut bytes)
            .with_context(|| format!("rendering `{name}`"))?;
        fs_err::write(&path, bytes)?;
        written += 1;
    }
    crate::output::note(&format!(
        "wrote {written} man pages into `{}`",
        args.dir.display()
    ));
    Ok(Outcome::Success)
}
