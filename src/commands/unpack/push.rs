//! `--push` chosen and reported: the registry sink's options built from the command line
//! (and the config of `-c`), the push or its dry run, the receipt, and the report table.

use super::super::{Outcome, registry_settings};
use crate::bundle::reader::BundleReader;
use crate::cli::UnpackArgs;
use crate::copy::to_registry::{PushOptions, PushResult, TagOutcome};
use crate::destination::Naming;
use crate::output;
use crate::progress::{Mode, Progress};
use crate::receipt::Receipt;
use crate::sinks::registry::Options;

/// The registry sink's options: `host`, the connection settings of the command line and
/// of the config, and how the push names, moves and checks.
pub(super) fn options(
    args: &UnpackArgs,
    host: &str,
    naming: &Naming,
    config: Option<&crate::config::Config>,
) -> anyhow::Result<Options> {
    let (mut transport, mut credentials) = registry_settings(&args.registry, &[host.to_owned()])?;
    if let Some(config) = config {
        super::super::apply_config_registries(config, &mut transport, &mut credentials)?;
    }
    Ok(Options {
        host: host.to_owned(),
        transport,
        credentials,
        push: PushOptions {
            naming: naming.clone(),
            jobs: args.jobs,
            chunk_threshold: args.chunk_threshold,
            chunk_size: args.chunk_size,
            strict: args.strict,
            existing_tags: args.existing_tags,
        },
        create_repositories: args.create_repositories,
        dry_run: args.dry_run,
    })
}

/// What a push did, for the files written after it.
pub(super) struct Pushed {
    /// How the command ends.
    pub(super) outcome: Outcome,
    /// `http` or `https`, as the registry was reached.
    pub(super) scheme: &'static str,
    /// What this push placed (none for a dry run).
    pub(super) receipt: Option<Receipt>,
}

/// Pushes; returns the outcome, the scheme the registry was reached with, and what it
/// placed.
pub(super) async fn push(
    args: &UnpackArgs,
    options: &Options,
    reader: &BundleReader,
    quiet: bool,
) -> anyhow::Result<Pushed> {
    let host = options.host.as_str();
    let registry = options.connect(reader).await?;
    if options.dry_run {
        return Ok(Pushed {
            outcome: dry_run(args, options, reader, &registry).await?,
            scheme: registry.scheme_name().await,
            receipt: None,
        });
    }
    let total = reader.index.blobs.iter().map(|b| b.size).sum();
    let progress = Progress::new(Mode::detect(quiet), "push", total);
    // On Ctrl-C the push is dropped where it stands. Nothing it wrote is wrong: blobs are
    // checked by the registry against their digest, manifests go after their blobs, and a
    // tag after its image's manifests, so no tag points at a half image.
    let result = tokio::select! {
        r = options.push(&registry, reader, &progress) => r,
        _ = tokio::signal::ctrl_c() => {
            progress.finish();
            return Err(super::super::Interrupted(format!(
                "the push to `{host}` stopped where it stood; no tag was moved to an image that did not arrive whole. The same command goes on: blobs already at the registry are skipped (one HEAD each) and the rest are sent"
            ))
            .into());
        }
    };
    progress.finish();
    let PushResult { reports, receipt } = result?;
    // The receipt is written before the table is printed, but a receipt that cannot be
    // written (a full disk) must not hide what was pushed: its error waits for the table.
    let placed = receipt.clone();
    let receipt_failed = args.receipt.as_ref().and_then(|path| {
        match receipt.merge_into_file(path) {
            Ok(merged) => {
                output::note(&format!(
                    "receipt `{}`: {} repositories at `{}`",
                    path.display(),
                    merged.repositories.len(),
                    merged.registry
                ));
                None
            }
            Err(e) => Some(anyhow::Error::new(e).context(format!(
                "the images above were pushed, but the receipt `{}` could not be written; free the space and write it with `outrider receipt --registry {host} -o {}` (or rerun this unpack: what is there is not sent again)",
                path.display(),
                path.display()
            ))),
        }
    });
    if args.json {
        output::document(
            "unpack",
            &serde_json::json!({
                "registry": host,
                "existingTags": args.existing_tags.name(),
                "images": reports,
            }),
        );
    } else {
        let rows: Vec<Vec<String>> = reports
            .iter()
            .map(|r| {
                // A tag set where there was none is the usual case, left unsaid.
                let words: Vec<&str> = r
                    .tag
                    .as_ref()
                    .map(|t| t.word())
                    .filter(|w| *w != "new")
                    .into_iter()
                    .chain(r.note.as_deref())
                    .collect();
                let status = match words.is_empty() {
                    false if r.ok() => format!("ok ({})", words.join("; ")),
                    _ => r.status.clone(),
                };
                vec![
                    r.source.clone(),
                    r.destination.clone(),
                    r.digest
                        .as_ref()
                        .map_or("-".into(), |d| d.short().to_owned()),
                    r.artifacts.as_ref().map_or("-".into(), |a| a.describe()),
                    status,
                ]
            })
            .collect();
        output::table(
            &["SOURCE", "DESTINATION", "DIGEST", "ARTIFACTS", "STATUS"],
            &rows,
        );
    }
    let failed = reports.iter().filter(|r| !r.ok()).count();
    if failed > 0 {
        output::problem(&format!(
            "error: {failed} of {} images were not pushed",
            reports.len()
        ));
    }
    if let Some(e) = receipt_failed {
        return Err(e);
    }
    let scheme = registry.scheme_name().await;
    if failed > 0 {
        return Ok(Pushed {
            outcome: Outcome::Failed,
            scheme,
            receipt: Some(placed),
        });
    }
    let identical = reports
        .iter()
        .filter(|r| r.tag == Some(TagOutcome::Identical))
        .count();
    output::note(&format!(
        "pushed {} images to `{host}` ({identical} tags identical, left as they were; other existing tags: {})",
        reports.len(),
        args.existing_tags.name()
    ));
    Ok(Pushed {
        outcome: Outcome::Success,
        scheme,
        receipt: Some(placed),
    })
}

/// `--push --dry-run`: per image, what the registry lacks and where the tag would move.
async fn dry_run(
    args: &UnpackArgs,
    options: &Options,
    reader: &BundleReader,
    registry: &crate::registry::Registry,
) -> anyhow::Result<Outcome> {
    let host = options.host.as_str();
    let previews = options.preview(registry, reader).await?;
    if args.json {
        output::document(
            "unpack",
            &serde_json::json!({ "dryRun": true, "registry": host, "images": previews }),
        );
    } else {
        let rows: Vec<Vec<String>> = previews
            .iter()
            .map(|p| {
                let tag = match (&p.tag_now, &p.refused) {
                    (_, Some(why)) => format!("would not push: {why}"),
                    (_, None) if p.cannot_write.is_some() => "would fail: no push access".into(),
                    (Some(now), None) if now == &p.tag_after => "unchanged".into(),
                    (Some(now), None) => format!("{} -> {}", now.short(), p.tag_after.short()),
                    (None, None) => format!("new -> {}", p.tag_after.short()),
                };
                let tag = match &p.note {
                    Some(n) => format!("{tag} ({n})"),
                    None => tag,
                };
                vec![
                    p.source.clone(),
                    p.destination.clone(),
                    format!("{}/{}", p.blobs_present, p.blobs),
                    output::bytes(p.bytes_to_send),
                    tag,
                ]
            })
            .collect();
        output::table(
            &["SOURCE", "DESTINATION", "BLOBS THERE", "TO SEND", "TAG"],
            &rows,
        );
        let total: u64 = previews.iter().map(|p| p.bytes_to_send).sum();
        output::note(&format!(
            "dry run: nothing was written to `{host}`; a push would send {}",
            output::bytes(total)
        ));
    }
    // One line per repository the credentials may not write: the push would fail there.
    let mut said = std::collections::HashSet::new();
    let denied: Vec<(&str, &str)> = previews
        .iter()
        .filter_map(|p| {
            p.cannot_write
                .as_deref()
                .map(|why| (p.destination.as_str(), why))
        })
        .filter(|(_, why)| said.insert(*why))
        .collect();
    for (destination, why) in &denied {
        output::problem(&format!(
            "cannot push `{destination}`: {why}; hint: use credentials with push access to it (--username, or `docker login`)"
        ));
    }
    if !denied.is_empty() {
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Success)
}
