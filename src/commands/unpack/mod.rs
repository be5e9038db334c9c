//! `outrider unpack`: bundle → registry (`--push`), bundle → docker-archive
//! (`--docker-save`, `--k3s`, `--docker`), docker-archive → targets (`-c`). This folder
//! opens the bundle, turns the arguments into each sink's options (`outputs`,
//! `push`), checks them, chooses the sinks and reports; each sink owns its module in
//! [`crate::sinks`].

mod clients;
mod outputs;
mod push;
mod signatures;

use super::{Outcome, UsageError, registry_settings};
use crate::blob_store::BlobStore;
use crate::bundle::reader::BundleReader;
use crate::cli::UnpackArgs;
use crate::copy::to_archive;
use crate::destination::{self, Naming};
use crate::oci::{ImageRef, Platform};
use crate::output;
use crate::registry::Registries;
use crate::sinks::archive_images::{archive_images, find_in_registry};
use crate::sinks::targets::{self, Prepared};
use crate::trust::TrustedKeys;
use anyhow::{Context, bail};
use outputs::Outputs;

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
    // Which option a bad push location is named by.
    let mut push_option = "--push".to_owned();
    if let Some(config) = &config {
        if args.bundle.is_empty()
            && let Some(b) = config.document.get("bundle").and_then(|v| v.as_str())
        {
            args.bundle.push(config.base.join(b));
        }
        // `map`, `max_depth`, `depth_separator`: the push's names, unless given here.
        let doc = &config.document;
        if args.names.maps.is_empty()
            && let Some(list) = doc.get("map").and_then(|v| v.as_array())
        {
            for item in list.iter().filter_map(|v| v.as_str()) {
                let map = crate::destination::PathMap::parse(item)
                    .map_err(|e| UsageError(format!("`map` in the config: {e}")))?;
                args.names.maps.push(map);
            }
        }
        if args.names.max_depth.is_none() {
            args.names.max_depth = doc
                .get("max_depth")
                .and_then(|v| v.as_u64())
                .map(|n| n as usize);
            if let Some(sep) = doc.get("depth_separator").and_then(|v| v.as_str()) {
                args.names.depth_separator = sep.to_owned();
            }
        }
        if let (None, Some(d)) = (&args.lineage.state_dir, config.document.get("state_dir")) {
            args.lineage.state_dir = d.as_str().map(|d| config.base.join(d));
        }
        if args.push.is_none() {
            push_option = format!(
                "`registry` in `{}`",
                args.config
                    .as_deref()
                    .unwrap_or(std::path::Path::new(""))
                    .display()
            );
            args.push = config
                .document
                .get("registry")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
        }
    }
    if let Some(text) = &args.push {
        let target = crate::cli::parse_push_target(text)
            .map_err(|e| UsageError(format!("{push_option}: {e}")))?;
        // A path written after the host is the prefix; `http://` is --plain-http.
        if let Some(path) = &target.prefix {
            if args.prefix.as_ref().is_some_and(|p| p != path) {
                bail!(UsageError(format!(
                    "--push names the path `{path}` and --prefix `{}`; give it once",
                    args.prefix.as_deref().unwrap_or_default()
                )));
            }
            args.prefix = Some(path.clone());
        }
        if target.plain_http {
            args.registry.plain_http.push(target.host.clone());
        }
        args.push = Some(target.host);
    }
    if args.dry_run && args.push.is_none() && args.config.is_none() {
        bail!(UsageError(
            "--dry-run goes with --push (what the registry lacks) or -c (the plan per target)"
                .into()
        ));
    }
    if args.dry_run && (args.docker_save.is_some() || args.k3s || args.docker) {
        bail!(UsageError(
            "--dry-run previews --push and -c only; --docker-save, --k3s and --docker would still write".into()
        ));
    }
    if !args.client_configs.write.is_empty() && args.push.is_none() {
        bail!(UsageError(
            "--write-client-config goes with --push (the configurations point at the registry pushed to); `serve --write-client-config` points at a bundle server".into()
        ));
    }
    if args.bundle.is_empty() {
        bail!(UsageError(
            "no bundle given (name one, or set `bundle:` in the config given with -c)".into()
        ));
    }
    let outputs = Outputs::from_args(&args, config.as_ref())?;
    // With -c, every target is asked first (host key, login, room, the plugin's command):
    // one that cannot be served stops the run before the bundle or a registry is read.
    let prepared = match (&config, &outputs.targets) {
        (Some(config), Some(options)) => {
            let prepared = Prepared::check(config, options.parallel, !args.no_target_checks)
                .await
                .map_err(|e| UsageError(e.to_string()))?;
            if prepared.stop(&prepared.failures(None), args.json) {
                return Ok(Outcome::Failed);
            }
            Some(prepared)
        }
        _ => None,
    };
    let trusted = args.trust.load()?;
    let cosign_keys = args.cosign.load()?;
    let mut reader = BundleReader::open_set(&args.bundle, true, &trusted)?;
    super::note_seal(&reader, &trusted, false);
    args.lineage.admit(&reader, !args.dry_run)?;
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
    let naming = naming(&args, &reader)?;
    super::note_unplaced(&reader);
    refuse_clashes(&args, &reader, &naming)?;
    if let Some(host) = &args.push {
        clients::check(&args, host, &naming, &reader)?;
    }
    // Base bundles only lend blob bytes, each checked against the digest this bundle's
    // (checked) index names, so their own signatures are not required.
    let bases = args
        .base
        .iter()
        .map(|b| BundleReader::open(b, &TrustedKeys::none()))
        .collect::<Result<Vec<_>, _>>()?;
    let unsigned = match &cosign_keys {
        Some(keys) => {
            let failed =
                signatures::unsigned(&BlobStore::new(&reader, &bases), &reader, keys, args.strict)?;
            reader.index.images.retain(|i| !failed.contains(&i.digest));
            failed.len()
        }
        None => 0,
    } + signatures::keyless(
        &mut reader,
        &bases,
        args.keyless.load().map_err(|e| UsageError(e.0))?.as_ref(),
        args.strict,
    )?;
    outputs
        .check(&args, &reader, &bases)
        .map_err(|e| anyhow::Error::new(UsageError(e)))?;
    let mut outcome = Outcome::Success;
    if let Some(dir) = &args.files {
        let store = BlobStore::new(&reader, &bases);
        let written =
            tokio::task::block_in_place(|| crate::sinks::files::write(&store, &reader, dir))?;
        // With --push or -c, their document is the one JSON object printed.
        let json_here = args.json && args.push.is_none() && args.config.is_none();
        report_files(&written, json_here, args.json);
    }
    if outputs.any_tar() {
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
            if let Some(image) = reader.index.images.first() {
                let repo = naming.repository(image);
                registry.ready(&crate::registry::Access::Pull(repo)).await?;
            }
            store = store.with_registry(registry);
            find_in_registry(&mut store, &reader, &naming).await;
        }
        // Checking the manifests may read configs from `--from-registry`, which blocks.
        let images = tokio::task::block_in_place(|| archive_images(&store, &reader, &platform))?;
        if !args.no_space_check {
            outputs
                .check_space(reader.path(), &images)
                .map_err(anyhow::Error::msg)?;
        }
        tokio::task::block_in_place(|| outputs.write(&store, &images, &reader))?;
        if let (Some(options), Some(prepared)) = (&outputs.targets, &prepared)
            && !targets::deploy(options, prepared, &store, &images, quiet).await?
        {
            outcome = Outcome::Failed;
        }
    }
    if let Some(host) = &args.push {
        let options = push::options(&args, host, &naming, config.as_ref())?;
        let pushed = push::push(&args, &options, &reader, quiet).await?;
        outcome = pushed.outcome;
        let routes = clients::routes(
            &args,
            host,
            pushed.scheme,
            &naming,
            &reader,
            pushed.receipt.as_ref(),
        );
        if let Some(k3s) = &outputs.k3s {
            let references: Vec<&str> = reader
                .index
                .images
                .iter()
                .map(|i| i.reference.as_str())
                .collect();
            let rewrites = routes.k3s_rewrites();
            k3s.mirror(
                &references,
                &format!("{}://{host}", pushed.scheme),
                &|registry| match naming.path_for(registry) {
                    _ if !naming.is_per_registry() => {
                        rewrites.get(registry).cloned().unwrap_or_default()
                    }
                    Some(p) => crate::k3s_registries::under(&p),
                    None => Default::default(),
                },
            )?;
        }
        clients::write(&args, &routes)?;
    }
    if unsigned > 0 {
        output::problem(&format!(
            "error: {unsigned} images were left out for want of a valid cosign signature (named above)"
        ));
        outcome = Outcome::Failed;
    }
    Ok(outcome)
}

/// What `--files` wrote: a table, or (with --json) an `unpack` document of `files`;
/// nothing on stdout when another output prints the JSON (`quiet`).
fn report_files(written: &[crate::sinks::files::Written], json: bool, quiet: bool) {
    if json {
        output::document("unpack", &serde_json::json!({ "files": written }));
        return;
    }
    if quiet {
        output::note(&format!("--files: {} files in place", written.len()));
        return;
    }
    if written.is_empty() {
        output::note("--files: the bundle carries no plain files");
        return;
    }
    let rows: Vec<Vec<String>> = written
        .iter()
        .map(|w| {
            vec![
                w.path.display().to_string(),
                w.digest.short().to_owned(),
                if w.already_there {
                    "already there".into()
                } else {
                    "written".into()
                },
            ]
        })
        .collect();
    output::table(&["FILE", "DIGEST", "STATE"], &rows);
}

/// The far-side naming: `--prefix`, the registry kept in the path when asked here or
/// when the bundle was packed so, then `--map` and `--max-depth`.
fn naming(args: &UnpackArgs, reader: &BundleReader) -> Result<Naming, UsageError> {
    let registry_path = args.registry_path || reader.index.registry_path;
    if registry_path && !args.registry_path && args.push.is_some() {
        output::note(
            "the bundle was packed with --registry-path: each image is pushed under its source registry's name",
        );
    }
    args.names
        .apply(Naming::new(args.prefix.as_deref(), registry_path))
        .map_err(|e| UsageError(e.to_string()))
}

/// Refuses, before anything is written, images that would land on one name with different
/// digests: at the registry (`--push`), or in a tar (named by full reference).
fn refuse_clashes(args: &UnpackArgs, reader: &BundleReader, naming: &Naming) -> anyhow::Result<()> {
    let mut checks = Vec::new();
    if args.push.is_some() {
        checks.push(naming.clone());
    }
    if args.docker_save.is_some() || args.k3s || args.docker || args.config.is_some() {
        // Tars name each image by its full reference: the registry is always in it.
        checks.push(Naming::new(None, true));
    }
    for naming in &checks {
        destination::check(&reader.index.images, naming).map_err(UsageError)?;
    }
    Ok(())
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
