//! `unpack -c config`: the tar for the config's targets, and the deploy over SSH.

use super::super::{Outcome, UsageError};
use crate::blob_store::BlobStore;
use crate::copy::to_archive::{self, Compress};
use crate::docker_archive::ArchiveImage;
use crate::output;
use crate::progress::{Mode, Progress};
use std::path::PathBuf;

/// What `-c config` asks for.
pub struct DeployRequest<'a> {
    /// The config, loaded once by the command.
    pub config: &'a crate::config::Config,
    /// Print the plan only.
    pub dry_run: bool,
    /// Targets at once (default: the config's `parallel`, else 4).
    pub parallel: Option<usize>,
    /// JSON on stdout.
    pub json: bool,
    /// The deploy plan, built and checked against every target before anything was read.
    pub prepared: &'a Prepared,
    /// Check the room for the local tar (not with `--no-space-check`).
    pub space_check: bool,
}

/// The deploy plan (its key's passphrase asked once), and what every target answered
/// to the checks made before the registry or the bundle is read.
pub struct Prepared {
    /// The plan.
    pub plan: crate::deploy::DeployPlan,
    /// One result per target, in order.
    pub checked: Vec<crate::deploy::Checked>,
}

impl Prepared {
    /// Builds the plan from `config` and, with `checks`, checks every target (`parallel`
    /// at a time); without, every target counts as ready and meets its faults in the deploy.
    pub async fn check(
        config: &crate::config::Config,
        parallel: Option<usize>,
        checks: bool,
    ) -> anyhow::Result<Prepared> {
        let plan = crate::deploy::DeployPlan::from_config(&config.document, &config.base)
            .map_err(UsageError)?;
        let checked = if checks {
            plan.check_targets(parallel_of(config, parallel)).await
        } else {
            plan.targets
                .iter()
                .map(|t| crate::deploy::Checked {
                    target: t.name.clone(),
                    failure: None,
                    room: None,
                })
                .collect()
        };
        Ok(Prepared { plan, checked })
    }

    /// Per target, why it cannot be deployed to: a failed check, or (with the tar's
    /// size) too little room in the remote tar's folder.
    pub fn failures(&self, tar_bytes: Option<u64>) -> Vec<Option<String>> {
        self.checked
            .iter()
            .map(|c| {
                c.failure
                    .clone()
                    .or_else(|| tar_bytes.and_then(|b| c.room_for(b)))
            })
            .collect()
    }

    /// When a target failed: reports every target (one line each, in the table or JSON
    /// a deploy prints) and says the run stopped.
    pub fn stop(&self, failures: &[Option<String>], json: bool) -> Option<Outcome> {
        let failed = failures.iter().filter(|f| f.is_some()).count();
        if failed == 0 {
            return None;
        }
        let reports: Vec<crate::deploy::TargetReport> = self
            .checked
            .iter()
            .zip(failures)
            .map(|(c, f)| crate::deploy::TargetReport {
                target: c.target.clone(),
                bytes: 0,
                seconds: 0.0,
                result: f
                    .clone()
                    .unwrap_or_else(|| "not started: ready, but other targets are not".into()),
                ok: false,
            })
            .collect();
        render(&reports, json);
        output::problem(&format!(
            "error: {failed} of {} targets failed the checks made before any image is read; nothing was pulled, written or uploaded (--no-target-checks lets each target fail on its own)",
            failures.len()
        ));
        Some(Outcome::Failed)
    }
}

/// `parallel` as asked, else the config's, else 4.
fn parallel_of(config: &crate::config::Config, parallel: Option<usize>) -> usize {
    parallel
        .or_else(|| {
            config
                .document
                .get("parallel")
                .and_then(|v| v.as_u64())
                .map(|n| n as usize)
        })
        .unwrap_or(4)
}

/// The per-target table, or the JSON document.
fn render(reports: &[crate::deploy::TargetReport], json: bool) {
    if json {
        output::document("deploy", &serde_json::json!({ "targets": reports }));
    } else {
        let rows: Vec<Vec<String>> = reports
            .iter()
            .map(|r| {
                vec![
                    r.target.clone(),
                    output::bytes(r.bytes),
                    format!("{:.1}s", r.seconds),
                    r.result.clone(),
                ]
            })
            .collect();
        output::table(&["TARGET", "UPLOADED", "TIME", "RESULT"], &rows);
    }
}

/// `-c config`: writes the tar (the config's `output_tar`, else a temporary file) and
/// deploys it to every target.
pub async fn deploy(
    request: &DeployRequest<'_>,
    store: &BlobStore<'_>,
    images: &[ArchiveImage],
    quiet: bool,
) -> anyhow::Result<Outcome> {
    let config = request.config;
    let prepared = request.prepared;
    let plan = &prepared.plan;
    let names: Vec<String> = images.iter().map(|i| i.name.clone()).collect();
    // The tar's size is known from the manifests: every target's room is compared now,
    // before it is written.
    let estimate = crate::space::tar_bytes(images);
    let failures = prepared.failures(Some(estimate));
    if let Some(stopped) = prepared.stop(&failures, request.json) {
        return Ok(stopped);
    }
    let temp = tempfile_dir()?;
    let tar = match config.document.get("output_tar").and_then(|v| v.as_str()) {
        Some(p) => PathBuf::from(p),
        None => temp.join("images.tar"),
    };
    if request.space_check {
        let dir = tar
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        if let Err(e) = crate::space::check(&crate::space::Need {
            what: "the tar for the targets",
            dir,
            bytes: estimate,
            largest: estimate,
            space_hint: "free space, or set `output_tar` (or TMPDIR) to a larger file system",
            limit_hint: "set `output_tar` to another file system",
        }) {
            let _ = std::fs::remove_dir_all(&temp);
            anyhow::bail!(e);
        }
    }
    let written =
        tokio::task::block_in_place(|| to_archive::write_file(&tar, Compress::None, store, images))
            .map_err(anyhow::Error::msg)?;
    let sha256 = tokio::task::block_in_place(|| -> anyhow::Result<String> {
        let (digest, _) = crate::oci::Digest::of_reader(fs_err::File::open(&written)?)?;
        Ok(digest.hex().to_owned())
    })?;
    let size = fs_err::metadata(&written)?.len();
    if request.dry_run {
        for line in plan.describe(&format!("{size} bytes"), &names) {
            output::line(&line);
        }
        let _ = std::fs::remove_dir_all(&temp);
        return Ok(Outcome::Success);
    }
    let parallel = parallel_of(config, request.parallel);
    let progress = Progress::new(
        Mode::detect(quiet),
        "upload",
        size * plan.targets.len() as u64,
    );
    let reports = plan
        .run(&written, &sha256, &names, parallel, &progress, &failures)
        .await;
    progress.finish();
    let _ = std::fs::remove_dir_all(&temp);
    render(&reports, request.json);
    let failed = reports.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        output::problem(&format!(
            "error: {failed} of {} targets failed",
            reports.len()
        ));
        return Ok(Outcome::Failed);
    }
    Ok(Outcome::Success)
}

/// A private temporary directory for the tar, removed by the caller.
pub(super) fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("outrider-{}", std::process::id()));
    fs_err::create_dir_all(&dir)?;
    Ok(dir)
}
