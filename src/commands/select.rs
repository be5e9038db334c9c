//! What `pack` and `plan` share: gathering images (arguments, files, config), choosing
//! platforms, learning what the far side holds, and resolving everything to a plan.

use super::UsageError;
use super::registry_settings;
use crate::bundle::reader::BundleReader;
use crate::cli::Selection;
use crate::far_side::FarSide;
use crate::location::ImageRequest;
use crate::oci::{Digest, Platform, RawManifest};
use crate::output;
use crate::plan::{Plan, PlanOptions, PlatformChoice, plan};
use crate::receipt::Receipt;
use crate::registry::Registries;
use crate::trust::TrustedKeys;
use anyhow::bail;
use std::collections::HashMap;

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

/// A resolved selection.
pub struct Resolved {
    /// Everything to carry, with what the far side holds marked external.
    pub plan: Plan,
    /// `--volume-size`, parsed.
    pub volume_size: Option<u64>,
    /// The config given with `-c`, loaded once.
    pub config: Option<crate::config::Config>,
}

/// Gathers and resolves a selection. `fetch_configs`: read small configs to learn the
/// platforms of single-platform images (pack does; plan reads manifests only).
pub async fn resolve(select: &Selection, fetch_configs: bool) -> anyhow::Result<Resolved> {
    let mut images = select.images.clone();
    let mut config_platforms: Vec<String> = Vec::new();
    let mut loaded_config = None;
    for file in &select.images_file {
        images.extend(read_images_file(file)?);
    }
    if let Some(config) = &select.config {
        let loaded = crate::config::load(config).map_err(|e| UsageError(e.to_string()))?;
        images.extend(loaded.images.iter().cloned());
        images.extend(loaded.charts.iter().cloned());
        images.extend(loaded.files.iter().cloned());
        config_platforms = loaded
            .document
            .get("platforms")
            .and_then(|p| p.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        loaded_config = Some(loaded);
    }
    let mut seen = std::collections::HashSet::new();
    images.retain(|i| seen.insert(i.clone()));
    super::images::check_pins(&images, select.found.allow_unpinned).map_err(UsageError)?;
    if images.is_empty() {
        bail!(UsageError(
            "nothing to pack: name images, charts or files, or use -f FILE or -c CONFIG".into()
        ));
    }
    let mut registries_used = Vec::new();
    for image in &images {
        let parsed = ImageRequest::parse(image).map_err(|e| UsageError(e.to_string()))?;
        if let Some(host) = parsed.source.registry_host()
            && !registries_used.iter().any(|r| r == host)
        {
            registries_used.push(host.to_owned());
        }
    }
    let default_auth = if registries_used.len() == 1 {
        registries_used.clone()
    } else {
        Vec::new()
    };
    let (mut options, mut credentials) = registry_settings(&select.registry, &default_auth)?;
    if let Some(config) = &loaded_config {
        super::apply_config_registries(config, &mut options, &mut credentials)?;
    }
    let choice = if select.all_platforms {
        PlatformChoice::All
    } else if select.platforms.is_empty() && !config_platforms.is_empty() {
        let parsed: Result<Vec<Platform>, _> = config_platforms.iter().map(|p| p.parse()).collect();
        PlatformChoice::Only(parsed.map_err(|e| UsageError(e.to_string()))?)
    } else if select.platforms.is_empty() {
        let host = Platform::host();
        output::note(&format!(
            "platform: {host} (this host's; choose others with --platform or --all-platforms)"
        ));
        PlatformChoice::Host(host)
    } else {
        let parsed: Result<Vec<Platform>, _> = select.platforms.iter().map(|p| p.parse()).collect();
        PlatformChoice::Only(parsed.map_err(|e| UsageError(e.to_string()))?)
    };
    let volume_size = select
        .volume_size
        .as_deref()
        .map(crate::size::parse)
        .transpose()
        .map_err(UsageError)?;
    let registries = Registries::new(options, credentials);
    let charts = crate::location::Sources::new(&registries);
    let dependencies = super::images::chart_dependencies(&images, &charts).await?;
    images.extend(dependencies);
    let found = &select.found;
    if found.with_images || !found.search.images_from_manifests.is_empty() {
        let named =
            super::images::found_images(&images, &found.search, found.with_images, &charts).await?;
        for f in named {
            if !images.contains(&f.reference) {
                output::note(&format!("image {} (found in {})", f.reference, f.found_at));
                images.push(f.reference);
            }
        }
    }
    // The charts read for their dependencies and images are read again by the plan.
    drop(charts);
    let (far, known) = far_side(select, &choice, &registries).await?;
    let options = PlanOptions {
        fetch_configs,
        known,
        referrers: (!select.no_referrers).then(|| crate::plan::ReferrerChoice {
            types: select.referrers_types.clone(),
        }),
    };
    let (mut plan, errors) = plan(&images, &choice, &registries, &options).await;
    if !errors.is_empty() {
        report_plan_errors(&errors);
        bail!(
            "{} of {} images could not be resolved",
            errors.len(),
            images.len()
        );
    }
    for note in &plan.notes {
        crate::output::note(note);
    }
    plan.skip(&far);
    // Two images on one far-side name: refused before any byte moves.
    plan.registry_path = select.registry_path;
    let naming = crate::destination::Naming::new(None, select.registry_path);
    crate::destination::check(&plan.images, &naming).map_err(UsageError)?;
    Ok(Resolved {
        plan,
        volume_size,
        config: loaded_config,
    })
}

/// One line per image error, except that a registry-wide failure is one line for all
/// the images it stopped, followed by their names.
fn report_plan_errors(errors: &[crate::plan::PlanError]) {
    let mut shared: Vec<(&std::sync::Arc<crate::registry::RegistryError>, Vec<&str>)> = Vec::new();
    for e in errors {
        match e.registry_failure() {
            Some(cause) => match shared
                .iter_mut()
                .find(|(c, _)| std::sync::Arc::ptr_eq(c, cause))
            {
                Some((_, images)) => images.push(e.image()),
                None => shared.push((cause, vec![e.image()])),
            },
            None => output::report_error(&anyhow::Error::new(e.to_string_error())),
        }
    }
    for (cause, images) in shared {
        output::report_error(&anyhow::Error::new(cause.to_string_error()));
        output::problem(&format!("  images it stopped: {}", images.join(", ")));
    }
}

/// What the far side holds: `--since` receipts and bundles, `--already-transferred` images
/// (resolved to their manifests with the same platform choice; no blob is read).
async fn far_side(
    args: &Selection,
    choice: &PlatformChoice,
    registries: &Registries,
) -> anyhow::Result<(FarSide, HashMap<Digest, RawManifest>)> {
    let mut far = FarSide::default();
    let mut known = HashMap::new();
    for path in &args.since {
        let mut magic = [0u8; 2];
        let is_zip = std::io::Read::read_exact(&mut fs_err::File::open(path)?, &mut magic).is_ok()
            && &magic == b"PK";
        if is_zip {
            // An earlier bundle of this side's own, read for what it carried: its
            // signature is the far side's concern.
            let bundle = BundleReader::open(path, &TrustedKeys::none())?;
            known.extend(
                FarSide::manifests_of(&bundle)
                    .into_iter()
                    .map(|m| (m.digest.clone(), m)),
            );
            far.add_bundle(&bundle);
        } else {
            far.add_receipt(&Receipt::load(path)?);
        }
    }
    let mut done = args.already_transferred.clone();
    for file in &args.already_transferred_file {
        done.extend(read_images_file(file)?);
    }
    if !done.is_empty() {
        let (done_plan, errors) = plan(&done, choice, registries, &PlanOptions::default()).await;
        if let Some(e) = errors.into_iter().next() {
            bail!("resolving --already-transferred: {e}");
        }
        for image in &done_plan.images {
            far.add_manifests(&done_plan.manifests, &image.digest, &image.repository);
        }
    }
    Ok((far, known))
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
