//! `--push` chosen and reported: the registry sink's options built from the command line
//! (and the config of `-c`), the push or its dry run, the receipt, and the report table.

use super::super::{Outcome, registry_settings};
use crate::bundle::reader::BundleReader;
use crate::cli::UnpackArgs;
use crate::copy::to_registry::{PushOptions, PushResult};
use crate::destination::Naming;
use crate::output;
use crate::progress::{Mode, Progress};
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
        },
        dry_run: args.dry_run,
    })
}

/// Pushes; returns the outcome and the scheme the registry was reached with.
pub(super) async fn push(
    args: &UnpackArgs,
    options: &Options,
    reader: &BundleReader,
    quiet: bool,
) -> anyhow::Result<(Outcome, &'static str)> {
    let host = options.host.as_str();
    let registry = options.connect(reader).await?;
    if options.dry_run {
        return Ok((
            dry_run(args, options, reader, &registry).await?,
            registry.scheme_name().await,
        ));
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
            &serde_json::json!({ "registry": host, "images": reports }),
        );
    } else {
        let rows: Vec<Vec<String>> = reports
            .iter()
            .map(|r| {
                let status = match &r.note {
                    Some(n) if r.ok() => format!("ok ({n})"),
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
    if failed > 0 {
        return Ok((Outcome::Failed, registry.scheme_name().await));
    }
    output::note(&format!("pushed {} images to `{host}`", reports.len()));
    Ok((Outcome::Success, registry.scheme_name().await))
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
