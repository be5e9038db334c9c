//! `outrider deploy -c config.yaml`: the original outrider's one-phase command, for targets
//! the online host can reach: the config's images → a temporary bundle → exactly what
//! `unpack BUNDLE -c config.yaml` does.

use super::Outcome;
use super::select::{Resolved, resolve};
use crate::blob_store::BlobStore;
use crate::bundle::reader::BundleReader;
use crate::cli::{DeployArgs, Selection};
use crate::copy::to_bundle::{Closing, Resume, write_bundle};
use crate::oci::Platform;
use crate::progress::{Mode, Progress};
use crate::sinks::archive_images::archive_images;
use crate::sinks::targets::{self, Prepared};
use crate::trust::TrustedKeys;

/// Runs `deploy`.
pub async fn run(args: DeployArgs, quiet: bool) -> anyhow::Result<Outcome> {
    let select = Selection {
        images: Vec::new(),
        images_file: Vec::new(),
        config: Some(args.config.clone()),
        found: Default::default(),
        platforms: args.platforms.clone(),
        all_platforms: false,
        // Deploy loads tars into nodes, and tars never hold artifacts.
        no_referrers: true,
        referrers_types: Vec::new(),
        since: Vec::new(),
        already_transferred: Vec::new(),
        already_transferred_file: Vec::new(),
        // Tars name each image by its full reference, registry included: two images clash
        // only when that whole name is one.
        registry_path: true,
        volume_size: None,
        json: args.json,
        registry: args.registry.clone(),
    };
    // Every target is asked first (host key, login, room, the plugin's command): one that
    // cannot be served stops the run before any registry is asked for anything.
    let early = crate::config::load(&args.config).map_err(|e| super::UsageError(e.to_string()))?;
    let options = targets::Options {
        dry_run: args.dry_run,
        parallel: targets::Options::parallel_of(&early, args.parallel),
        json: args.json,
        space_check: !args.no_space_check,
        output_tar: targets::Options::output_tar_of(&early),
    };
    let prepared = Prepared::check(&early, options.parallel, !args.no_target_checks)
        .await
        .map_err(|e| super::UsageError(e.to_string()))?;
    if prepared.stop(&prepared.failures(None), args.json) {
        return Ok(Outcome::Failed);
    }
    // A dry run reads manifests only: it says what would happen without moving a blob.
    // The config's `parallel` and `output_tar` were read into `options` from `early`.
    let Resolved { plan, .. } = resolve(&select, !args.dry_run).await?;
    // The blobs' total stands for the tar's size until it is written.
    let failures = prepared.failures(Some(plan.total_bytes()));
    if prepared.stop(&failures, args.json) {
        return Ok(Outcome::Failed);
    }
    if args.dry_run {
        return dry_run(&plan, &prepared.plan, args.json);
    }
    let temp = std::env::temp_dir().join(format!("outrider-deploy-{}", std::process::id()));
    // The temporary bundle and the tar made from it lie side by side until the end.
    let entries = plan.carried_entries();
    let need = crate::space::Need {
        what: "the temporary bundle and tar",
        dir: &std::env::temp_dir(),
        bytes: crate::space::bundle_bytes(plan.carried_bytes(), entries, None)
            + plan.total_bytes()
            + crate::space::BUNDLE_FIXED,
        largest: 0,
        space_hint: "free space, or point TMPDIR at a larger file system",
        limit_hint: "",
    };
    if !args.no_space_check {
        crate::space::check(&need).map_err(anyhow::Error::msg)?;
    }
    fs_err::create_dir_all(&temp)?;
    let result = async {
        let bundle = temp.join("deploy.zip");
        let progress = Progress::new(Mode::detect(quiet), "pull", plan.carried_bytes());
        // A temporary bundle, removed with its folder: nothing to resume.
        write_bundle(
            &plan,
            &bundle,
            None,
            args.jobs,
            &progress,
            Closing {
                signer: None,
                sha256: false,
            },
            Resume::Off,
        )
        .await?;
        progress.finish();
        // The bundle was written a moment ago by this process: there is nothing to trust.
        let reader = BundleReader::open(&bundle, &TrustedKeys::none())?;
        let store = BlobStore::new(&reader, &[]);
        // manifest.json names one platform: the first asked for, else this host's.
        let platform = match plan.images.iter().flat_map(|i| i.platforms.iter()).next() {
            Some(p)
                if !args.platforms.is_empty()
                    || plan.images.iter().all(|i| i.platforms.len() <= 1) =>
            {
                p.clone()
            }
            _ => Platform::host(),
        };
        // Checking the manifests may read configs from `--from-registry`, which blocks.
        let images = tokio::task::block_in_place(|| archive_images(&store, &reader, &platform))?;
        Ok(
            match targets::deploy(&options, &prepared, &store, &images, quiet).await? {
                true => Outcome::Success,
                false => Outcome::Failed,
            },
        )
    }
    .await;
    let _ = std::fs::remove_dir_all(&temp);
    result
}

/// `deploy --dry-run`: the plan per target from the images' manifests alone. The tar's
/// size is known only once written, so the blobs' total stands for it.
fn dry_run(
    plan: &crate::plan::Plan,
    deploy: &crate::deploy::DeployPlan,
    json: bool,
) -> anyhow::Result<Outcome> {
    let names: Vec<String> = plan.images.iter().map(|i| i.reference.clone()).collect();
    let bytes = plan.total_bytes();
    let lines = deploy.describe(&format!("about {}", crate::output::bytes(bytes)), &names);
    if json {
        crate::output::document(
            "deploy",
            &serde_json::json!({
                "dryRun": true,
                "images": names,
                "approximateBytes": bytes,
                "plan": lines,
            }),
        );
    } else {
        for line in lines {
            crate::output::line(&line);
        }
    }
    Ok(Outcome::Success)
}
