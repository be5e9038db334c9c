//! `outrider pack`: registry | OCI layout or archive | docker save tar → bundle.

use super::Outcome;
use super::select::{Resolved, resolve};
use crate::bundle::checksums::{self, FileSum};
use crate::cli::PackArgs;
use crate::copy::to_bundle::{Closing, Resume, Written, write_bundle};
use crate::output;
use crate::progress::{Mode, Progress};
use crate::trust::BundleSigner;

/// Runs `pack`.
pub async fn run(args: PackArgs, quiet: bool) -> anyhow::Result<Outcome> {
    check_output(&args).map_err(|e| anyhow::Error::new(super::UsageError(e)))?;
    // The key is opened (and its password asked) before anything is fetched.
    let signer = args
        .sign
        .as_deref()
        .map(BundleSigner::load_with_cosign_password)
        .transpose()
        .map_err(|e| super::UsageError(format!("--sign: {e:#}")))?
        .map(std::sync::Arc::new);
    let lineage = super::lineage::for_pack(&args, signer.as_deref())?;
    let Resolved {
        mut plan,
        volume_size,
        ..
    } = resolve(&args.select, true).await?;
    plan.provenance = lineage.as_ref().map(|l| Box::new(l.provenance.clone()));
    if !args.no_space_check {
        check_space(&plan, &args.output, volume_size).map_err(anyhow::Error::msg)?;
    }
    let progress = Progress::new(Mode::detect(quiet), "pack", plan.carried_bytes());
    progress.expect_items(plan.blobs.iter().filter(|b| b.external.is_none()).count() as u64);
    let started = std::time::Instant::now();
    let resume = if args.no_resume {
        Resume::Restart
    } else {
        Resume::On
    };
    let closing = Closing {
        signer: signer.clone(),
        sha256: !args.no_checksums,
    };
    // On Ctrl-C the copy future is dropped; the `.partial` file keeps its `.partial` name
    // and the journal says what is in it, so nothing looks like a bundle and a rerun resumes.
    let result = tokio::select! {
        r = write_bundle(&plan, &args.output, volume_size, args.jobs, &progress, closing, resume) => r,
        _ = tokio::signal::ctrl_c() => {
            progress.finish();
            return Err(super::Interrupted(format!("no bundle written{}", resume_hint(&args.output))).into());
        }
    };
    progress.finish();
    let Written {
        paths,
        sha256,
        index,
        resumed,
    } = result.map_err(|e| {
        anyhow::Error::new(e).context(format!(
            "packing into `{}`{}",
            args.output.display(),
            resume_hint(&args.output)
        ))
    })?;
    if let Some(line) = resumed {
        output::note(&line);
    }
    super::verify::refuse_unverified(&paths, &args.keyless)?;
    super::lineage::commit(lineage.as_ref())?;
    let files = summed(&paths, &sha256, !args.no_checksums).await?;
    // A tag whose index lost platforms arrives under another digest: say so now, while
    // `--all-platforms` can still keep the original.
    let tops: std::collections::HashMap<_, _> =
        plan.manifests.iter().map(|(m, _)| (&m.digest, m)).collect();
    for image in &index.images {
        let Some(entry) = index
            .manifest(&image.digest)
            .filter(|e| crate::bundle::partial_index::is_partial(e))
        else {
            continue;
        };
        let Some(top) = tops.get(&image.digest) else {
            continue;
        };
        if let Ok(Some(a)) = crate::bundle::partial_index::arrival(entry, top) {
            output::note(&format!(
                "`{}`: {} of its platforms carried, so at the far side the tag will point at {}, not {}; keep the original with --all-platforms",
                image.reference,
                entry.children.len(),
                a.digest,
                image.digest
            ));
        }
    }
    let stored: u64 = plan.carried_bytes();
    let external = plan.total_bytes() - stored;
    if args.select.json {
        output::document(
            "pack",
            &serde_json::json!({
                "bundle": paths,
                "images": super::inspect::image_summaries(&index, |d| {
                    tops.get(d)
                        .map(|m| (*m).clone())
                        .ok_or_else(|| format!("{d} is not carried"))
                }),
                "storedBytes": stored,
                "externalBytes": external,
                "files": &files,
                "changes": super::diff::since_changes(&args.select.since, &index)?,
            }),
        );
    } else {
        let rows: Vec<Vec<String>> = index
            .images
            .iter()
            .map(|i| {
                vec![
                    i.reference.clone(),
                    i.digest.short().to_owned(),
                    i.platforms
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                ]
            })
            .collect();
        output::table(&["IMAGE", "DIGEST", "PLATFORMS"], &rows);
        super::diff::print_since(&args.select.since, &index)?;
    }
    if let Some(signer) = &signer {
        output::note(&format!(
            "signed by {} (check with `--trusted-key` and its public key)",
            signer.fingerprint()
        ));
    }
    output::note(&format!(
        "wrote {}: {} images, {} blobs, {} carried, {} already at the far side, in {:.1}s",
        paths
            .iter()
            .map(|p| format!("`{}`", p.display()))
            .collect::<Vec<_>>()
            .join(", "),
        index.images.len(),
        index.blobs.len() + index.manifests.len(),
        output::bytes(stored),
        output::bytes(external),
        started.elapsed().as_secs_f64()
    ));
    if !args.no_checksums {
        let (list, left_out) = tokio::task::spawn_blocking({
            let files = files.clone();
            move || checksums::write_sums(&files)
        })
        .await?
        .map_err(|e| {
            anyhow::anyhow!(
                "the bundle is complete, but `{}` could not be written: {e}; write it with `sha256sum` yourself, or pass --no-checksums",
                checksums::sums_path(&args.output).display()
            )
        })?;
        if !left_out.is_empty() {
            output::note(&format!(
                "no line in `{}` for {}: the name holds a newline or backslash",
                list.display(),
                left_out.join(", ")
            ));
        }
        let dir = list
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        output::note(&format!(
            "checksums in `{}`: on the far side, `cd {} && sha256sum -c {}` checks the copy before outrider reads it",
            list.display(),
            dir.display(),
            checksums::SUMS_FILE
        ));
    }
    Ok(Outcome::Success)
}

/// Each file's size and, with `hash`, its sha256: the one the writer took on the way
/// (`taken`), else from a read-back pass; each printed on its own line.
async fn summed(
    paths: &[std::path::PathBuf],
    taken: &[Option<crate::oci::Digest>],
    hash: bool,
) -> anyhow::Result<Vec<FileSum>> {
    let paths = paths.to_vec();
    let taken = taken.to_vec();
    let read_back = hash && (taken.len() != paths.len() || taken.iter().any(Option::is_none));
    if read_back {
        let total: u64 = paths
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        // A read of the whole bundle is long enough at this size to need saying.
        if total >= 1 << 30 {
            output::note(&format!(
                "reading back {} to sum it for SHA256SUMS (--no-checksums skips this)",
                output::bytes(total)
            ));
        }
    }
    let files = tokio::task::spawn_blocking(move || {
        paths
            .iter()
            .enumerate()
            .map(|(i, p)| match taken.get(i).cloned().flatten() {
                Some(sha256) if hash => checksums::sum_taken(p, sha256),
                _ => checksums::sum_file(p, hash),
            })
            .collect::<std::io::Result<Vec<_>>>()
    })
    .await??;
    for f in &files {
        let sha = f
            .sha256
            .as_ref()
            .map(|d| format!(", sha256 {}", d.hex()))
            .unwrap_or_default();
        output::note(&format!(
            "`{}`: {} bytes ({}){sha}",
            f.path.display(),
            f.size,
            output::bytes(f.size)
        ));
    }
    Ok(files)
}

/// Refuses, before any blob is fetched, a bundle its file system cannot hold: what is
/// still to write (a resumed pack's `.partial` files already hold their part) against the
/// free space, and each file against a FAT32 per-file limit unless volumes keep under it.
fn check_space(
    plan: &crate::plan::Plan,
    output: &std::path::Path,
    volume_size: Option<u64>,
) -> Result<(), String> {
    let entries = plan.carried_entries();
    let whole = crate::space::bundle_bytes(plan.carried_bytes(), entries, volume_size);
    let on_disk = crate::space::partial_bytes(output);
    let dir = output
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let what = if on_disk > 0 {
        format!(
            "the rest of the bundle ({} already in its `.partial` files)",
            crate::output::bytes(on_disk)
        )
    } else {
        "the bundle".to_owned()
    };
    crate::space::check(&crate::space::Need {
        what: &what,
        dir,
        bytes: whole.saturating_sub(on_disk),
        largest: volume_size.map_or(whole, |v| v.min(whole)),
        space_hint: "free space, or write elsewhere",
        limit_hint: "split it with --volume-size fat32",
    })
}

/// When an unfinished pack left a journal beside `output`: how to go on from there.
fn resume_hint(output: &std::path::Path) -> String {
    let journal = crate::copy::journal::path_for(output);
    if journal.exists() {
        format!(
            " (what was written is kept as `.partial` with `{}`: the same command resumes it; --no-resume starts over)",
            journal.display()
        )
    } else {
        String::new()
    }
}

/// Refuses, before anything is fetched, an output that is a directory or that would
/// overwrite a file this pack reads (a `--since` bundle or any volume of its set, an
/// images file, the config).
fn check_output(args: &PackArgs) -> Result<(), String> {
    crate::clobber::refuse_directory("-o", &args.output, "name the bundle file to write")?;
    let mut inputs = crate::clobber::Inputs::default();
    for p in &args.select.since {
        inputs.add("--since", p);
    }
    for p in &args.select.images_file {
        inputs.add("--images-file", p);
    }
    for p in &args.select.already_transferred_file {
        inputs.add("--already-transferred-file", p);
    }
    if let Some(c) = &args.select.config {
        inputs.add("--config", c);
    }
    inputs.check("-o", &args.output)?;
    if !args.no_checksums {
        let sums = checksums::sums_path(&args.output);
        if args.output.file_name() == sums.file_name() {
            return Err(format!(
                "`{}` is the name of the checksum list pack writes beside the bundle; name the bundle otherwise (or pass --no-checksums)",
                args.output.display()
            ));
        }
        inputs.check("the checksum list beside -o", &sums)?;
        crate::clobber::refuse_directory(
            "the checksum list beside -o",
            &sums,
            "move it, or pass --no-checksums",
        )?;
    }
    if args.select.volume_size.is_some() {
        inputs.check_volumes("-o", &args.output)?;
    }
    Ok(())
}
