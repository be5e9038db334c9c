//! `-c config` (`unpack -c`, `deploy`): docker-archive → targets. The tar for the config's
//! targets is written once (the config's `output_tar`, else a temporary file) and sent to
//! every target by [`crate::deploy`] (the SSH or local transport, then the config's
//! `post_instructions` plugin). Every target is asked first (host key, login, room, the
//! plugin's command), so one that cannot be served stops the run before anything is read.

use super::tar_file::{self, WriteFailed};
use crate::blob_store::BlobStore;
use crate::docker_archive::ArchiveImage;
use crate::output;
use crate::progress::{Mode, Progress};
use std::path::PathBuf;

/// What `-c config` asks for, decided once from the command line and the config.
#[derive(Clone, Debug)]
pub struct Options {
    /// Print the plan only.
    pub dry_run: bool,
    /// Targets worked on at once (asked, else the config's `parallel`, else 4).
    pub parallel: usize,
    /// The per-target report as JSON on stdout.
    pub json: bool,
    /// Check the room for the local tar.
    pub space_check: bool,
    /// Where the tar is written (the config's `output_tar`); else a temporary file.
    pub output_tar: Option<PathBuf>,
}

impl Options {
    /// `parallel` as asked, else the config's, else 4.
    pub fn parallel_of(config: &crate::config::Config, parallel: Option<usize>) -> usize {
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

    /// The config's `output_tar`, when it names one.
    pub fn output_tar_of(config: &crate::config::Config) -> Option<PathBuf> {
        config
            .document
            .get("output_tar")
            .and_then(|v| v.as_str())
            .map(PathBuf::from)
    }
}

/// The deploy could not go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config's deploy section is invalid.
    #[error("{0}")]
    Config(String),
    /// The tar's file system is too small (both numbers and the fix).
    #[error("{0}")]
    Space(String),
    /// The temporary folder, or reading back the tar, failed (fs-err names the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The tar could not be written.
    #[error(transparent)]
    Write(#[from] WriteFailed),
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
        parallel: usize,
        checks: bool,
    ) -> Result<Prepared, Error> {
        let plan = crate::deploy::DeployPlan::from_config(&config.document, &config.base)
            .map_err(Error::Config)?;
        let checked = if checks {
            plan.check_targets(parallel).await
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
    /// a deploy prints), says the run stopped, and returns true.
    pub fn stop(&self, failures: &[Option<String>], json: bool) -> bool {
        let failed = failures.iter().filter(|f| f.is_some()).count();
        if failed == 0 {
            return false;
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
        true
    }
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

/// Writes the tar and deploys it to every target of `prepared`, reporting per target;
/// returns whether every target succeeded (a failure is already reported).
pub async fn deploy(
    options: &Options,
    prepared: &Prepared,
    store: &BlobStore<'_>,
    images: &[ArchiveImage],
    quiet: bool,
) -> Result<bool, Error> {
    let plan = &prepared.plan;
    let names: Vec<String> = images.iter().map(|i| i.name.clone()).collect();
    // The tar's size is known from the manifests: every target's room is compared now,
    // before it is written.
    let estimate = crate::space::tar_bytes(images);
    let failures = prepared.failures(Some(estimate));
    if prepared.stop(&failures, options.json) {
        return Ok(false);
    }
    let temp = tempfile_dir()?;
    let tar = match &options.output_tar {
        Some(p) => p.clone(),
        None => temp.join("images.tar"),
    };
    if options.space_check {
        let dir = tar_file::parent(&tar);
        if let Err(e) = crate::space::check(&crate::space::Need {
            what: "the tar for the targets",
            dir: &dir,
            bytes: estimate,
            largest: estimate,
            space_hint: "free space, or set `output_tar` (or TMPDIR) to a larger file system",
            limit_hint: "set `output_tar` to another file system",
        }) {
            let _ = std::fs::remove_dir_all(&temp);
            return Err(Error::Space(e));
        }
    }
    // A tar the config names is kept, so it is fsynced; the private temporary one is read
    // back at once and removed, and no crash can leave it looking finished to anyone.
    let durable = options.output_tar.is_some();
    let (written, sum) =
        tokio::task::block_in_place(|| tar_file::write_summed(&tar, durable, store, images))?;
    let size = sum.bytes;
    if options.dry_run {
        for line in plan.describe(&format!("{size} bytes"), &names) {
            output::line(&line);
        }
        let _ = std::fs::remove_dir_all(&temp);
        return Ok(true);
    }
    let progress = Progress::new(
        Mode::detect(quiet),
        "upload",
        size * plan.targets.len() as u64,
    );
    let reports = plan
        .run(
            &written,
            sum,
            &names,
            options.parallel,
            &progress,
            &failures,
        )
        .await;
    progress.finish();
    let _ = std::fs::remove_dir_all(&temp);
    render(&reports, options.json);
    let failed = reports.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        output::problem(&format!(
            "error: {failed} of {} targets failed",
            reports.len()
        ));
        return Ok(false);
    }
    Ok(true)
}

/// A private temporary folder for the tar, removed by the caller.
fn tempfile_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("outrider-{}", std::process::id()));
    fs_err::create_dir_all(&dir)?;
    Ok(dir)
}
