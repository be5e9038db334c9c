//! `outrider unpack`: bundle → registry (`--push`), bundle → docker-archive
//! (`--docker-save`, `--k3s`, `--docker`).

use super::{Outcome, UsageError, registry_settings};
use crate::blob_store::BlobStore;
use crate::bundle::reader::BundleReader;
use crate::cli::UnpackArgs;
use crate::copy::to_archive::{self, Compress};
use crate::copy::to_registry::{PushOptions, PushResult, push_bundle};
use crate::docker_archive::ArchiveImage;
use crate::oci::{ImageRef, Platform};
use crate::output;
use crate::progress::{Mode, Progress};
use crate::registry::Registries;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// Runs `unpack`.
pub async fn run(mut args: UnpackArgs, quiet: bool) -> anyhow::Result<Outcome> {
    // With -c, the config (loaded once, here) supplies `bundle` and `registry` when the
    // arguments are not given.
    let config = args
        .config
        .as_deref()
        .map(crate::config::load)
        .transpose()
        .map_err(|e| UsageError(e.to_string()))?;
    if let Some(config) = &config {
        if args.bundle.is_empty()
            && let Some(b) = config.document.get("bundle").and_then(|v| v.as_str())
        {
            args.bundle.push(config.base.join(b));
        }
        if args.push.is_none() {
            args.push = config
                .document
                .get("registry")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
        }
    }
    if let Some(host) = &args.push {
        crate::cli::parse_registry(host).map_err(UsageError)?;
    }
    if args.bundle.is_empty() {
        bail!(UsageError(
            "no bundle given (name one, or set `bundle:` in the config given with -c)".into()
        ));
    }
    let mut reader = BundleReader::open_set(&args.bundle, true)?;
    if !reader.missing_volumes().is_empty() {
        let missing: Vec<String> = reader
            .missing_volumes()
            .iter()
            .map(|(n, p)| format!("volume {n} (`{}`)", p.display()))
            .collect();
        let blocked: Vec<&str> = reader
            .index
            .images
            .iter()
            .filter(|i| {
                to_archive::needed(&reader.index, i)
                    .iter()
                    .any(|d| reader.index.carries(&d.digest) && !reader.has(&d.digest))
            })
            .map(|i| i.reference.as_str())
            .collect();
        output::problem(&format!(
            "missing: {}; images blocked by them: {}",
            missing.join(", "),
            if blocked.is_empty() {
                "none".to_owned()
            } else {
                blocked.join(", ")
            }
        ));
    }
    select_images(&mut reader, &args.images)?;
    let bases = args
        .base
        .iter()
        .map(|b| BundleReader::open(b))
        .collect::<Result<Vec<_>, _>>()?;
    check_outputs(&args, &reader, &bases, config.as_ref())
        .map_err(|e| anyhow::Error::new(UsageError(e)))?;
    let mut outcome = Outcome::Success;
    if args.docker_save.is_some() || args.k3s || args.docker || args.config.is_some() {
        let platform = match &args.platform {
            Some(p) => p
                .parse::<Platform>()
                .map_err(|e| UsageError(e.to_string()))?,
            None => Platform::host(),
        };
        let mut store = BlobStore::new(&reader, &bases);
        if let Some(host) = &args.from_registry {
            let (options, credentials) =
                registry_settings(&args.registry, std::slice::from_ref(host))?;
            let registry = Registries::new(options, credentials)
                .get(host)
                .await
                .with_context(|| format!("connecting to `{host}`"))?;
            store = store.with_registry(registry);
            find_in_registry(&mut store, &reader, args.prefix.as_deref()).await;
        }
        // Checking the manifests may read configs from `--from-registry`, which blocks.
        let images = tokio::task::block_in_place(|| archive_images(&store, &reader, &platform))?;
        tokio::task::block_in_place(|| write_archives(&args, &store, &images, &reader))?;
        if let Some(config) = &config {
            let request = DeployRequest {
                config,
                dry_run: args.dry_run,
                parallel: args.parallel,
                json: args.json,
            };
            outcome = deploy(&request, &store, &images, quiet).await?;
        }
    }
    if let Some(host) = &args.push {
        let scheme;
        (outcome, scheme) = push(&args, host, &reader, config.as_ref(), quiet).await?;
        if args.k3s {
            // k3s asks for images by name, so mirror the registry each name carries.
            let mut sources: Vec<String> = reader
                .index
                .images
                .iter()
                .filter_map(|i| i.reference.parse::<ImageRef>().ok())
                .map(|r| r.registry)
                .collect();
            sources.sort();
            sources.dedup();
            let backup = crate::k3s_registries::merge(
                &args.k3s_registries,
                &sources,
                &format!("{scheme}://{host}"),
                args.prefix.as_deref(),
            )
            .with_context(|| {
                format!(
                    "writing k3s registries file `{}`",
                    args.k3s_registries.display()
                )
            })?;
            output::note(&format!(
                "`{}`: {} mirrored to {scheme}://{host}{}",
                args.k3s_registries.display(),
                sources.join(", "),
                backup
                    .map(|b| format!(" (old file kept as `{}`)", b.display()))
                    .unwrap_or_default()
            ));
        }
    }
    Ok(outcome)
}

/// Refuses, before any work, an output that is an existing directory where a file is
/// written (or a file where a directory is), or that would overwrite an input.
fn check_outputs(
    args: &UnpackArgs,
    reader: &BundleReader,
    bases: &[BundleReader],
    config: Option<&crate::config::Config>,
) -> Result<(), String> {
    let mut inputs = crate::clobber::Inputs::default();
    for p in args.bundle.iter().chain(reader.opened()) {
        inputs.add("the bundle", p);
    }
    for b in bases {
        for p in b.opened() {
            inputs.add("--base", p);
        }
    }
    if let Some(path) = &args.docker_save {
        if args.per_image {
            if path.exists() && !path.is_dir() {
                return Err(format!(
                    "--docker-save `{}` is a file; with --per-image it names a directory",
                    path.display()
                ));
            }
        } else {
            crate::clobber::refuse_directory(
                "--docker-save",
                path,
                "name a file, or add --per-image for one tar per image in it",
            )?;
            inputs.check("--docker-save", path)?;
        }
    }
    if args.k3s {
        inputs.check("--k3s", &k3s_output(args, reader))?;
    }
    if let Some(receipt) = &args.receipt {
        inputs.check("--receipt", receipt)?;
    }
    if let Some(tar) = config
        .and_then(|c| c.document.get("output_tar"))
        .and_then(|v| v.as_str())
    {
        let tar = Path::new(tar);
        crate::clobber::refuse_directory("output_tar", tar, "name a file")?;
        inputs.check("output_tar", tar)?;
    }
    // Per-image tars are named from the images; check them all before writing any.
    if let (Some(dir), true) = (&args.docker_save, args.per_image) {
        for (_, path) in per_image_paths(args, dir, &reader.index.images) {
            inputs.check("--docker-save --per-image", &path)?;
        }
    }
    Ok(())
}

/// The file `--k3s` writes: the bundle's name with the tar suffix, in the images directory.
fn k3s_output(args: &UnpackArgs, reader: &BundleReader) -> PathBuf {
    let compress = args.compress.unwrap_or(Compress::Zstd);
    let stem = reader
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "outrider".into());
    let stem = stem.trim_end_matches(".zip").trim_end_matches(".bundle");
    args.k3s_images_dir
        .join(format!("{stem}{}", compress.suffix()))
}

/// One distinct file per image for `--per-image`: the image's name with every character
/// but letters, digits, `.` and `-` turned into `_`; names that would clash (`c/x_y:1` and
/// `c/x/y:1`) get the image's short digest, then a counter, so no image overwrites another.
fn per_image_paths<'i>(
    args: &UnpackArgs,
    dir: &Path,
    images: &'i [crate::bundle::index::ImageEntry],
) -> Vec<(&'i crate::bundle::index::ImageEntry, PathBuf)> {
    let compress = args.compress.unwrap_or(Compress::None);
    let mut taken = std::collections::HashSet::new();
    images
        .iter()
        .map(|image| {
            let (name, _) = to_archive::archive_name(image);
            let file: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let mut candidate = file.clone();
            let mut n = 1;
            while !taken.insert(candidate.clone()) {
                candidate = if n == 1 {
                    format!("{file}-{}", image.digest.short())
                } else {
                    format!("{file}-{}-{n}", image.digest.short())
                };
                n += 1;
            }
            (image, dir.join(format!("{candidate}{}", compress.suffix())))
        })
        .collect()
}

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
        use sha2::Digest as _;
        use std::io::Read;
        let mut hasher = sha2::Sha256::new();
        let mut file = fs_err::File::open(&written)?;
        let mut buf = vec![0; 1 << 20];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(hex::encode(hasher.finalize()))
    })?;
    let size = fs_err::metadata(&written)?.len();
    if request.dry_run {
        for line in plan.describe(size, &names) {
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
        output::json(&reports);
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
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("outrider-{}", std::process::id()));
    fs_err::create_dir_all(&dir)?;
    Ok(dir)
}

/// Keeps only the images named with `--image`; an unknown name is a usage error.
fn select_images(reader: &mut BundleReader, wanted: &[String]) -> anyhow::Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let normal = |s: &str| {
        s.parse::<ImageRef>()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| s.to_owned())
    };
    for w in wanted {
        let n = normal(w);
        if !reader
            .index
            .images
            .iter()
            .any(|i| i.reference == n || i.requested == *w)
        {
            let has: Vec<&str> = reader
                .index
                .images
                .iter()
                .map(|i| i.reference.as_str())
                .collect();
            bail!(UsageError(format!(
                "image `{w}` is not in `{}` (it has: {})",
                reader.path().display(),
                has.join(", ")
            )));
        }
    }
    reader.index.images.retain(|i| {
        wanted
            .iter()
            .any(|w| i.reference == normal(w) || i.requested == *w)
    });
    Ok(())
}

/// Finds, in the `--from-registry` registry, what no bundle stores.
async fn find_in_registry(store: &mut BlobStore<'_>, reader: &BundleReader, prefix: Option<&str>) {
    let index = &reader.index;
    for image in &index.images {
        let own = crate::copy::to_registry::destination_repository(image, prefix);
        for desc in to_archive::needed(index, image) {
            if store.has(&desc.digest) {
                continue;
            }
            let manifest = index.manifest(&desc.digest);
            let hint = manifest
                .and_then(|m| m.destination_repository.clone())
                .or_else(|| {
                    index
                        .blob(&desc.digest)
                        .and_then(|b| b.destination_repository.clone())
                });
            let repos: Vec<String> = hint
                .into_iter()
                .chain(std::iter::once(own.clone()))
                .collect();
            store
                .find_remote(&desc.digest, manifest.is_some(), &repos)
                .await;
        }
    }
}

pub(crate) fn archive_images(
    store: &BlobStore<'_>,
    reader: &BundleReader,
    platform: &Platform,
) -> anyhow::Result<Vec<ArchiveImage>> {
    // First, everything every image needs must be stored here or in a --base bundle.
    let missing: std::collections::BTreeSet<String> = reader
        .index
        .images
        .iter()
        .flat_map(|i| to_archive::needed(&reader.index, i))
        .filter(|d| !store.has(&d.digest))
        .map(|d| d.digest.to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} blobs and manifests are external to `{}` and in no --base bundle or --from-registry registry; nothing written:\n{}\nhint: add the earlier bundles with --base, or read them from a registry with --from-registry",
            missing.len(),
            reader.path().display(),
            missing.into_iter().collect::<Vec<_>>().join("\n")
        );
    }
    let mut images = Vec::new();
    let mut errors = Vec::new();
    // The manifests decide: an image whose manifests disagree with the index is refused.
    let mut checked = crate::bundle::agreement::Checked::default();
    for image in &reader.index.images {
        let faults = checked.image_faults(&reader.index, image, store);
        if !faults.is_empty() {
            errors.push(format!(
                "`{}`: the bundle's index disagrees with its manifests: {}",
                output::sanitize(&image.reference),
                faults.join("; ")
            ));
            continue;
        }
        match to_archive::archive_image(store, &reader.index, image, platform) {
            Ok((a, notes)) => {
                for n in notes {
                    output::note(&n);
                }
                images.push(a);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} of {} images cannot go into a tar; nothing written:\n{}",
            errors.len(),
            reader.index.images.len(),
            errors.join("\n")
        );
    }
    Ok(images)
}

fn write_archives(
    args: &UnpackArgs,
    store: &BlobStore<'_>,
    images: &[ArchiveImage],
    reader: &BundleReader,
) -> anyhow::Result<()> {
    if let Some(path) = &args.docker_save {
        if args.per_image {
            let compress = args.compress.unwrap_or(Compress::None);
            fs_err::create_dir_all(path)?;
            // `images` follows the bundle's image order, as `per_image_paths` does.
            let paths = per_image_paths(args, path, &reader.index.images);
            for (image, (_, out)) in images.iter().zip(paths) {
                let written =
                    to_archive::write_file(&out, compress, store, std::slice::from_ref(image))
                        .map_err(anyhow::Error::msg)?;
                report_written(&written, 1);
            }
        } else {
            let compress = args.compress.unwrap_or_else(|| Compress::from_name(path));
            let written = to_archive::write_file(path, compress, store, images)
                .map_err(anyhow::Error::msg)?;
            report_written(&written, images.len());
        }
    }
    if args.k3s {
        let compress = args.compress.unwrap_or(Compress::Zstd);
        let out = k3s_output(args, reader);
        fs_err::create_dir_all(&args.k3s_images_dir)
            .with_context(|| format!("k3s images directory `{}`", args.k3s_images_dir.display()))?;
        // A fresh file with a fresh mtime: k3s's .cache.json skips files whose size and
        // mtime it has seen before.
        let written = to_archive::write_file(&out, compress, store, images).map_err(anyhow::Error::msg).with_context(|| "hint: k3s's images directory must be writable (run as root, or --k3s-images-dir)")?;
        report_written(&written, images.len());
        k3s_import(args, store, images)?;
    }
    if args.docker {
        check_docker_zstd(&args.docker_cmd, images)?;
        let loaded =
            to_archive::docker_load(&args.docker_cmd, store, images).map_err(anyhow::Error::msg)?;
        for l in &loaded {
            output::line(&format!("loaded {l}"));
        }
        output::note(&format!("docker load: {} images", loaded.len()));
    }
    Ok(())
}

fn report_written(path: &std::path::Path, images: usize) {
    let size = fs_err::metadata(path).map(|m| m.len()).unwrap_or(0);
    output::note(&format!(
        "wrote `{}`: {images} images, {}",
        path.display(),
        output::bytes(size)
    ));
}

/// Imports now when asked (`--k3s-ctr`) or when k3s runs (its containerd socket exists):
/// a plain tar streamed into `ctr -n k8s.io images import -` (ctr before 1.7 cannot read
/// zstd itself). The file in the images directory stays for k3s's next start.
fn k3s_import(
    args: &UnpackArgs,
    store: &BlobStore<'_>,
    images: &[ArchiveImage],
) -> anyhow::Result<()> {
    let words: Vec<String> = match &args.k3s_ctr {
        Some(cmd) => cmd.split_whitespace().map(str::to_owned).collect(),
        None if std::path::Path::new("/run/k3s/containerd/containerd.sock").exists() => {
            vec!["k3s".into(), "ctr".into()]
        }
        None => {
            output::note("k3s is not running here; it imports the file when it starts");
            return Ok(());
        }
    };
    let Some((program, rest)) = words.split_first() else {
        bail!(UsageError("--k3s-ctr is empty".into()))
    };
    let mut argv: Vec<&str> = rest.iter().map(String::as_str).collect();
    argv.extend(["-n", "k8s.io", "images", "import", "-"]);
    let stdout = to_archive::pipe(program, &argv, store, images).map_err(anyhow::Error::msg)?;
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        output::line(&format!("imported: {}", output::sanitize(line.trim())));
    }
    Ok(())
}

/// Docker before 23 cannot load zstd-compressed layers: say so instead of failing obscurely.
fn check_docker_zstd(docker: &str, images: &[ArchiveImage]) -> anyhow::Result<()> {
    let zstd: Vec<&str> = images
        .iter()
        .filter(|i| i.layers.iter().any(|l| l.media_type.contains("zstd")))
        .map(|i| i.name.as_str())
        .collect();
    if zstd.is_empty() {
        return Ok(());
    }
    let out = std::process::Command::new(docker)
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    let version = out
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 23 {
        bail!(
            "the Docker engine ({}) cannot load zstd-compressed layers, which {} use; hint: Docker 23 or newer loads them, or use --docker-save and podman/containerd",
            if version.is_empty() {
                "version unknown".to_owned()
            } else {
                version
            },
            zstd.join(", ")
        );
    }
    Ok(())
}

/// Pushes; returns the outcome and the scheme the registry was reached with.
async fn push(
    args: &UnpackArgs,
    host: &str,
    reader: &BundleReader,
    config: Option<&crate::config::Config>,
    quiet: bool,
) -> anyhow::Result<(Outcome, &'static str)> {
    let (mut options, mut credentials) = registry_settings(&args.registry, &[host.to_owned()])?;
    if let Some(config) = config {
        super::apply_config_registries(config, &mut options, &mut credentials)?;
    }
    let registries = Registries::new(options, credentials);
    let registry = registries
        .get(host)
        .await
        .with_context(|| format!("connecting to `{host}`"))?;
    let total = reader.index.blobs.iter().map(|b| b.size).sum();
    let progress = Progress::new(Mode::detect(quiet), "push", total);
    let push_options = PushOptions {
        prefix: args.prefix.clone(),
        jobs: args.jobs,
        chunk_threshold: args.chunk_threshold,
        chunk_size: args.chunk_size,
        strict: args.strict,
    };
    let result = push_bundle(reader, &registry, &push_options, &progress).await;
    progress.finish();
    let PushResult { reports, receipt } = result?;
    if let Some(path) = &args.receipt {
        let merged = receipt
            .merge_into_file(path)
            .with_context(|| format!("writing receipt `{}`", path.display()))?;
        output::note(&format!(
            "receipt `{}`: {} repositories at `{}`",
            path.display(),
            merged.repositories.len(),
            merged.registry
        ));
    }
    if args.json {
        output::json(&reports);
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
                    status,
                ]
            })
            .collect();
        output::table(&["SOURCE", "DESTINATION", "DIGEST", "STATUS"], &rows);
    }
    let failed = reports.iter().filter(|r| !r.ok()).count();
    if failed > 0 {
        output::problem(&format!(
            "error: {failed} of {} images were not pushed",
            reports.len()
        ));
        return Ok((Outcome::Failed, registry.scheme_name().await));
    }
    output::note(&format!("pushed {} images to `{host}`", reports.len()));
    Ok((Outcome::Success, registry.scheme_name().await))
}
