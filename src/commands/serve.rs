//! `outrider serve`: bundles → HTTP (a read-only OCI registry). This file turns the
//! command line into what `serve` needs, once: the bundles opened and cataloged, and
//! [`serve::Options`](crate::serve::Options) for the listener, TLS and the mirror files.

use super::{Outcome, UsageError};
use crate::bundle::reader::BundleReader;
use crate::cli::ServeArgs;
use crate::destination::Naming;
use crate::output;
use crate::serve::catalog::Catalog;
use crate::serve::{Options, Tls};
use crate::trust::TrustedKeys;
use anyhow::Context;
use std::collections::HashSet;
use std::path::PathBuf;

/// Runs `serve` until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<Outcome> {
    let options = options(&args)?;
    let trusted = args.trust.load()?;
    let keyless = args.keyless.load().map_err(|e| UsageError(e.0))?;
    let paths = args.bundles.clone();
    let naming = args
        .names
        .apply(Naming::new(args.prefix.as_deref(), args.registry_path))
        .map_err(|e| UsageError(e.to_string()))?;
    let (lineage, list) = (args.lineage.clone(), args.list);
    let catalog = tokio::task::spawn_blocking(move || -> anyhow::Result<Catalog> {
        let mut bundles = open(&paths, &trusted)?;
        // A bundle older than one applied here is refused (a rollback); --list only looks.
        lineage.admit_all(&bundles, !list)?;
        for bundle in &mut bundles {
            super::note_unplaced(bundle);
            // Images whose keyless signatures fail are not served.
            for line in crate::trust::keyless::images::retain_verified(bundle, keyless.as_ref()) {
                line.map_or_else(
                    |e| output::problem(&format!("warning: {e}")),
                    |l| output::note(&l),
                );
            }
        }
        // Two images on one served name would answer a client with the wrong one.
        Catalog::refuse_clashes(&bundles, &naming).map_err(UsageError)?;
        Ok(Catalog::build(bundles, &naming))
    })
    .await??;
    crate::serve::run(catalog, options).await?;
    Ok(Outcome::Success)
}

/// The server's options from the command line.
fn options(args: &ServeArgs) -> anyhow::Result<Options> {
    let tls = match (&args.tls_cert, &args.tls_key, &args.tls_self_signed) {
        (Some(cert), Some(key), _) => Tls::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        (None, None, Some(dir)) => Tls::SelfSigned(dir.clone()),
        (None, None, None) => Tls::Off,
        _ => anyhow::bail!(UsageError(
            "--tls-cert and --tls-key go together: give both, or --tls-self-signed DIR".into()
        )),
    };
    Ok(Options {
        listen: args.listen,
        advertise: args.advertise.clone(),
        tls,
        write_k3s_registries: args.write_k3s_registries.clone(),
        write_containerd_hosts: args.write_containerd_hosts.clone(),
        client_configs: args.client_configs.write.clone(),
        signatures: crate::client_configs::SignaturePolicy {
            key_paths: args.client_configs.policy_key.clone(),
        },
        list: args.list,
    })
}

/// Opens the bundles (each volume set once), with a line per missing volume.
/// With `trusted` keys, a bundle not signed by one of them stops the server from starting.
fn open(paths: &[PathBuf], trusted: &TrustedKeys) -> anyhow::Result<Vec<BundleReader>> {
    let mut readers = Vec::new();
    let mut sets = HashSet::new();
    for path in paths {
        let reader = BundleReader::open(path, trusted)
            .with_context(|| format!("opening `{}`", path.display()))?;
        if let Some(v) = &reader.index.volume
            && !sets.insert(v.bundle.clone())
        {
            continue;
        }
        super::note_seal(&reader, trusted, false);
        for (n, expected) in reader.missing_volumes() {
            output::problem(&format!(
                "warning: volume {n} of `{}` is missing (looked for `{}`); images with content in it are not served",
                path.display(),
                expected.display()
            ));
        }
        readers.push(reader);
    }
    Ok(readers)
}
