//! `outrider images`, and what `pack --with-images` / `--images-from-manifests` add: the
//! images a site's charts and Kubernetes manifests name, each with where it was found,
//! so they can be reviewed before a pack. A chart is opened through its source like any
//! other (`chart:…`, `oci://…`), its package read and its values and annotation searched
//! (`crate::charts::package_images`); manifests are searched container by container
//! (`crate::charts::manifest_images`). Nothing is rendered.

use super::{Outcome, UsageError, registry_settings};
use crate::charts::package_images::{Overrides, in_package};
use crate::charts::{FoundImage, helm_artifact, manifest_images};
use crate::cli::ImagesArgs;
use crate::cli::found::SearchArgs;
use crate::location::{ImageSource, Sources};
use crate::oci::ParsedManifest;
use crate::output;
use crate::registry::Registries;
use anyhow::Context as _;
use futures_util::StreamExt;

/// Refuses a file URL without a `#sha256=` pin unless `--allow-unpinned`.
pub fn check_pins(requests: &[String], allow_unpinned: bool) -> Result<(), String> {
    if allow_unpinned {
        return Ok(());
    }
    let unpinned: Vec<&str> = requests
        .iter()
        .map(|r| r.rsplit_once(" as ").map_or(r.as_str(), |(s, _)| s.trim()))
        .filter(|r| crate::sources::file::is_url(r) && !crate::sources::file::is_pinned(r))
        .collect();
    if unpinned.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{}: a file by URL needs its checksum: append `#sha256=HEX` (or give --allow-unpinned to carry whatever the server sends)",
        unpinned.join(", ")
    ))
}

/// Whether a request names a chart.
fn is_chart(request: &str) -> bool {
    let source = request
        .rsplit_once(" as ")
        .map_or(request, |(s, _)| s.trim());
    source.starts_with("chart:") || source.starts_with("oci://")
}

/// The package of the chart `request` names, read through its source.
async fn package_of(request: &str, sources: &Sources<'_>) -> anyhow::Result<Option<Vec<u8>>> {
    let parsed = crate::location::ImageRequest::parse(request)?;
    let source = sources.open(&parsed.source).await?;
    let resolved = source
        .resolve(parsed.source.reference().as_deref(), &Default::default())
        .await?;
    let ParsedManifest::Image { config, layers } = resolved.top.parse()? else {
        return Ok(None);
    };
    if config.media_type != helm_artifact::CONFIG_MEDIA_TYPE {
        return Ok(None);
    }
    let Some(layer) = layers
        .iter()
        .find(|l| l.media_type == helm_artifact::CONTENT_MEDIA_TYPE)
    else {
        return Ok(None);
    };
    if layer.size > crate::sources::chart::MAX_PACKAGE_BYTES {
        anyhow::bail!(
            "`{request}`: its package is {} bytes, too large for a chart",
            layer.size
        );
    }
    let repo = match &parsed.source {
        ImageSource::Registry(r) => r.repository.clone(),
        _ => resolved.name.repository.clone(),
    };
    let (mut stream, _) = source.blob(&repo, layer, 0).await?;
    let mut body = Vec::new();
    let mut check = crate::oci::Verifier::new(&layer.digest, layer.size);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        check.update(&chunk)?;
        body.extend_from_slice(&chunk);
    }
    check.finish()?;
    Ok(Some(body))
}

/// How deep chart dependencies are followed (a chart, its dependency, theirs…).
pub const MAX_DEPENDENCY_DEPTH: usize = 5;

/// The charts that the charts among `requests` declare in `Chart.yaml` without packaging
/// them, and theirs in turn, as `pack` requests (not already requested); a loop or a
/// chain deeper than [`MAX_DEPENDENCY_DEPTH`] is refused. Dependencies outrider cannot
/// reach without Helm's configuration (`file://`, `@alias`, an OCI range) are said.
pub async fn chart_dependencies(
    requests: &[String],
    sources: &Sources<'_>,
) -> anyhow::Result<Vec<String>> {
    let mut added: Vec<String> = Vec::new();
    let mut queue: Vec<(String, Vec<String>)> = requests
        .iter()
        .filter(|r| is_chart(r))
        .map(|r| (r.clone(), Vec::new()))
        .collect();
    while let Some((request, path)) = queue.pop() {
        // Messages never carry a password a chart URL holds.
        let hide = crate::secret::without_userinfo;
        let shown = hide(&request);
        let Some(package) = package_of(&request, sources)
            .await
            .with_context(|| format!("reading chart `{shown}` for its dependencies"))?
        else {
            continue;
        };
        for dep in crate::charts::dependencies::declared(&package, &request)? {
            if dep.packaged {
                continue;
            }
            let Some(next) = dep.request() else {
                output::note(&hide(&format!(
                    "`{shown}` depends on chart `{}` {} from `{}`, which is not packaged in it and not reachable as written: carry it by name",
                    dep.name, dep.version, dep.repository
                )));
                continue;
            };
            if next == request || path.contains(&next) {
                let mut chain = path.clone();
                chain.extend([request.clone(), next.clone()]);
                anyhow::bail!("chart dependencies loop: {}", hide(&chain.join(" → ")));
            }
            if path.len() + 1 >= MAX_DEPENDENCY_DEPTH {
                anyhow::bail!(
                    "chart dependencies deeper than {MAX_DEPENDENCY_DEPTH}: {}",
                    hide(&format!("{} → {request} → {next}", path.join(" → ")))
                );
            }
            if requests.contains(&next) || added.contains(&next) {
                continue;
            }
            output::note(&hide(&format!("chart {next} (a dependency of {request})")));
            added.push(next.clone());
            let mut below = path.clone();
            below.push(request.clone());
            queue.push((next, below));
        }
    }
    Ok(added)
}

/// Every image the charts among `requests` and the manifests `found` names hold, in the
/// order found, each reference once (where it was first found). `sources` is shared with
/// [`chart_dependencies`], so a chart is fetched once for both.
pub async fn found_images(
    requests: &[String],
    found: &SearchArgs,
    with_charts: bool,
    sources: &Sources<'_>,
) -> anyhow::Result<Vec<FoundImage>> {
    let mut overrides = Overrides {
        files: Vec::new(),
        set: found.set.clone(),
    };
    for file in &found.values {
        let text = fs_err::read_to_string(file)?;
        overrides.files.push(
            serde_saphyr::from_str(&text)
                .map_err(|e| UsageError(format!("--values `{}`: {e}", file.display())))?,
        );
    }
    let mut all = Vec::new();
    if with_charts {
        for request in requests.iter().filter(|r| is_chart(r)) {
            // Where an image was found names the chart, never a password its URL holds.
            let shown = crate::secret::without_userinfo(request);
            let package = package_of(request, sources)
                .await
                .with_context(|| format!("reading chart `{shown}` for its images"))?;
            if let Some(package) = package {
                all.extend(in_package(&package, &shown, &overrides)?);
            }
        }
    }
    for file in &found.images_from_manifests {
        let (text, name) = if file.as_os_str() == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
            (text, "-".to_owned())
        } else {
            (fs_err::read_to_string(file)?, file.display().to_string())
        };
        all.extend(manifest_images::in_manifests(&text, &name)?);
    }
    let mut seen = std::collections::HashSet::new();
    all.retain(|f| seen.insert(f.reference.clone()));
    Ok(all)
}

/// Runs `images`.
pub async fn run(args: ImagesArgs) -> anyhow::Result<Outcome> {
    if args.charts.is_empty() && args.search.images_from_manifests.is_empty() {
        anyhow::bail!(UsageError(
            "name charts (`chart:…`, `oci://…`) or give --images-from-manifests FILE".into()
        ));
    }
    if let Some(other) = args.charts.iter().find(|c| !is_chart(c)) {
        anyhow::bail!(UsageError(format!(
            "`{other}` is not a chart: write `chart:https://REPO/NAME[:VERSION]`, `chart:FILE.tgz`, `chart:DIR` or `oci://…`"
        )));
    }
    // As for `pack`: with one host to read from, `--username` is for it.
    let mut hosts: Vec<String> = Vec::new();
    for chart in &args.charts {
        let parsed = crate::location::ImageRequest::parse(chart)?;
        if let Some(h) = parsed.source.registry_host()
            && !hosts.iter().any(|x| x == h)
        {
            hosts.push(h.to_owned());
        }
    }
    if hosts.len() > 1 {
        hosts.clear();
    }
    let (options, credentials) = registry_settings(&args.registry, &hosts)?;
    let registries = Registries::new(options, credentials);
    let found = found_images(&args.charts, &args.search, true, &Sources::new(&registries)).await?;
    if args.json {
        output::document(
            "images",
            &serde_json::json!({
                "images": found.iter().map(|f| serde_json::json!({
                    "reference": f.reference,
                    "foundAt": f.found_at,
                })).collect::<Vec<_>>(),
            }),
        );
    } else {
        let rows: Vec<Vec<String>> = found
            .iter()
            .map(|f| vec![f.reference.clone(), f.found_at.clone()])
            .collect();
        output::table(&["IMAGE", "FOUND AT"], &rows);
    }
    Ok(Outcome::Success)
}
