//! `outrider pack`: registry | oci-layout → bundle.

use super::{Outcome, UsageError, registry_settings};
use crate::bundle::reader::BundleReader;
use crate::cli::PackArgs;
use crate::copy::to_bundle::write_bundle;
use crate::far_side::FarSide;
use crate::location::ImageSource;
use crate::oci::Platform;
use crate::output;
use crate::plan::{PlatformChoice, plan};
use crate::progress::{Mode, Progress};
use crate::receipt::Receipt;
use crate::registry::Registries;
use anyhow::{Context, bail};

/// Reads an images file: one reference per line, `#` comments, blank lines ignored
/// (k3s release `*-images.txt` files are exactly this).
pub fn read_images_file(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text = fs_err::read_to_string(path)?;
    Ok(text
        .lines()
        .map(|l| l.split_once('#').map_or(l, |(before, _)| before).trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Runs `pack`.
pub async fn run(args: PackArgs, quiet: bool) -> anyhow::Result<Outcome> {
    let mut images = args.images.clone();
    for file in &args.images_file {
        images.extend(read_images_file(file)?);
    }
    if let Some(config) = &args.config {
        images.extend(
            crate::config::load(config)
                .map_err(|e| UsageError(e.to_string()))?
                .images,
        );
    }
    let mut seen = std::collections::HashSet::new();
    images.retain(|i| seen.insert(i.clone()));
    if images.is_empty() {
        bail!(UsageError(
            "no images to pack: name them, or use -f FILE or -c CONFIG".into()
        ));
    }
    let mut registries_used = Vec::new();
    for image in &images {
        match ImageSource::parse(image).map_err(|e| UsageError(e.to_string()))? {
            ImageSource::Registry(r) if !registries_used.contains(&r.registry) => {
                registries_used.push(r.registry.clone())
            }
            _ => {}
        }
    }
    let default_auth = if registries_used.len() == 1 {
        registries_used.clone()
    } else {
        Vec::new()
    };
    let (options, credentials) = registry_settings(&args.registry, &default_auth)?;
    let choice = if args.all_platforms {
        PlatformChoice::All
    } else if args.platforms.is_empty() {
        let host = Platform::host();
        output::note(&format!(
            "platform: {host} (this host's; choose others with --platform or --all-platforms)"
        ));
        PlatformChoice::Only(vec![host])
    } else {
        let parsed: Result<Vec<Platform>, _> = args.platforms.iter().map(|p| p.parse()).collect();
        PlatformChoice::Only(parsed.map_err(|e| UsageError(e.to_string()))?)
    };
    let volume_size = args
        .volume_size
        .as_deref()
        .map(crate::size::parse)
        .transpose()
        .map_err(UsageError)?;
    let registries = Registries::new(options, credentials);
    let far = far_side(&args, &choice, &registries).await?;
    let (mut plan, errors) = plan(&images, &choice, &registries).await;
    if !errors.is_empty() {
        for e in &errors {
            output::report_error(&anyhow::Error::new(e.to_string_error()));
        }
        bail!(
            "{} of {} images could not be resolved; no bundle written",
            errors.len(),
            images.len()
        );
    }
    plan.skip(&far);
    let progress = Progress::new(Mode::detect(quiet), "pack", plan.carried_bytes());
    let started = std::time::Instant::now();
    // On Ctrl-C the copy future is dropped, and with it the writer, which removes its
    // `.partial` file: an interrupted pack leaves nothing that looks like a bundle.
    let result = tokio::select! {
        r = write_bundle(&plan, &args.output, volume_size, args.jobs, &progress) => r,
        _ = tokio::signal::ctrl_c() => {
            progress.finish();
            bail!("interrupted; no bundle written");
        }
    };
    progress.finish();
    let (paths, index) =
        result.with_context(|| format!("packing into `{}`", args.output.display()))?;
    let stored: u64 = plan.carried_bytes();
    let external = plan.total_bytes() - stored;
    if args.json {
        output::json(&index.images);
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
    Ok(Outcome::Success)
}

/// What the far side holds: `--since` receipts and bundles, `--already-transferred` images
/// (resolved to their manifests with the same platform choice; no blob is read).
async fn far_side(
    args: &PackArgs,
    choice: &PlatformChoice,
    registries: &Registries,
) -> anyhow::Result<FarSide> {
    let mut far = FarSide::default();
    for path in &args.since {
        let mut magic = [0u8; 2];
        let is_zip = std::io::Read::read_exact(&mut fs_err::File::open(path)?, &mut magic).is_ok()
            && &magic == b"PK";
        if is_zip {
            far.add_bundle(&BundleReader::open(path)?);
        } else {
            far.add_receipt(&Receipt::load(path)?);
        }
    }
    let mut done = args.already_transferred.clone();
    for file in &args.already_transferred_file {
        done.extend(read_images_file(file)?);
    }
    if !done.is_empty() {
        let (known, errors) = plan(&done, choice, registries).await;
        if let Some(e) = errors.into_iter().next() {
            bail!("resolving --already-transferred: {e}");
        }
        for image in &known.images {
            far.add_manifests(&known.manifests, &image.digest, &image.repository);
        }
    }
    Ok(far)
}

trait StringError {
    fn to_string_error(&self) -> PlainError;
}

impl<E: std::fmt::Display> StringError for E {
    fn to_string_error(&self) -> PlainError {
        PlainError(self.to_string())
    }
}

/// An error already rendered to text.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlainError(String);
