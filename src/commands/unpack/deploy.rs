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
    let plan = crate::deploy::DeployPlan::from_config(&config.document, &config.base)
        .map_err(UsageError)?;
    let names: Vec<String> = images.iter().map(|i| i.name.clone()).collect();
    let temp = tempfile_dir()?;
    let tar = match config.document.get("output_tar").and_then(|v| v.as_str()) {
        Some(p) => PathBuf::from(p),
        None => temp.join("images.tar"),
    };
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
    let parallel = request
        .parallel
        .or_else(|| {
            config
                .document
                .get("parallel")
                .and_then(|v| v.as_u64())
                .map(|n| n as usize)
        })
        .unwrap_or(4);
    let progress = Progress::new(
        Mode::detect(quiet),
        "upload",
        size * plan.targets.len() as u64,
    );
    let reports = plan
        .run(&written, &sha256, &names, parallel, &progress)
        .await;
    progress.finish();
    let _ = std::fs::remove_dir_all(&temp);
    if request.json {
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
