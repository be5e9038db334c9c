//! `outrider serve`: bundles served as a read-only OCI registry, as they lie. Every blob
//! is STORED at a known offset, so a request is answered by positioned reads from the zip
//! (parts of a split blob stitched across volumes): no extraction, no second copy.
//!
//! - [`catalog`]: which images are served, under which names, from which bundle.
//! - [`api`]: the distribution API routes.
//! - [`verified`]: blobs leave only as verified bytes, read as clients take them.
//! - [`manifests`]: manifests' verified bytes, kept in memory.
//! - [`connections`]: timeouts and a cap, so no client starves the others.
//! - [`access_log`]: a line per request.
//! - [`tls`]: certificates from files or a private CA.
//! - [`site_config`]: mirror settings for k3s and containerd.

pub mod access_log;
pub mod api;
pub mod catalog;
pub mod connections;
pub mod manifests;
pub mod pullable;
pub mod site_config;
pub mod tls;
pub mod verified;

use crate::bundle::reader::BundleReader;
use crate::cli::ServeArgs;
use crate::commands::{Outcome, UsageError};
use crate::output;
use crate::trust::TrustedKeys;
use anyhow::Context;
use catalog::Catalog;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long open requests may finish after a stop signal.
const GRACE: Duration = Duration::from_secs(10);

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
        crate::commands::note_seal(&reader, trusted, false);
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

/// The names a self-signed certificate is made for: the address listened on (unless it
/// is every address), loopback, this host's name, and the advertised host.
fn certificate_names(args: &ServeArgs, advertised: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut add = |n: String| {
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    };
    add(host_of(advertised).to_owned());
    if !args.listen.ip().is_unspecified() {
        add(args.listen.ip().to_string());
    }
    add("localhost".into());
    add("127.0.0.1".into());
    if let Some(h) = host_name() {
        add(h);
    }
    names
}

/// This host's name, as the kernel has it.
fn host_name() -> Option<String> {
    fs_err::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
}

/// `host` of `host:port` or `[v6]:port`.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// The `host:port` clients are told to use.
fn advertised(args: &ServeArgs, bound: std::net::SocketAddr) -> String {
    if let Some(a) = &args.advertise {
        return a.clone();
    }
    let port = bound.port();
    if bound.ip().is_unspecified() {
        let host = host_name().unwrap_or_else(|| "localhost".into());
        format!("{host}:{port}")
    } else {
        bound.to_string()
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<Outcome> {
    if args.tls_cert.is_some() != args.tls_key.is_some() {
        anyhow::bail!(UsageError(
            "--tls-cert and --tls-key go together: give both, or --tls-self-signed DIR".into()
        ));
    }
    let trusted = args.trust.load()?;
    let paths = args.bundles.clone();
    let prefix = args.prefix.clone();
    let registry_path = args.registry_path;
    let (lineage, list) = (args.lineage.clone(), args.list);
    let catalog = tokio::task::spawn_blocking(move || -> anyhow::Result<Catalog> {
        let bundles = open(&paths, &trusted)?;
        lineage.admit_all(&bundles, !list)?;
        for bundle in &bundles {
            crate::commands::note_unplaced(bundle);
        }
        // Two images on one served name would answer a client with the wrong one.
        Catalog::refuse_clashes(&bundles, prefix.as_deref(), registry_path).map_err(UsageError)?;
        Ok(Catalog::build(bundles, prefix.as_deref(), registry_path))
    })
    .await??;
    for line in &catalog.refused {
        output::problem(&format!("warning: {line}"));
    }
    if catalog.served == 0 {
        anyhow::bail!("no image in the bundles given can be served (see the warnings above)");
    }
    if args.list {
        pullable::list(&catalog, &advertised(&args, args.listen));
        return Ok(Outcome::Success);
    }
    // The certificate names hosts, not ports: made before the port is bound, so a client
    // that can connect finds the CA already written.
    let (tls, made) = match (&args.tls_cert, &args.tls_key, &args.tls_self_signed) {
        (Some(cert), Some(key), _) => (Some(tls::server_config(cert, key)?), None),
        (_, _, Some(dir)) => {
            let names = certificate_names(&args, &advertised(&args, args.listen));
            let files = tls::self_signed(dir, &names)
                .with_context(|| format!("making a certificate in `{}`", dir.display()))?;
            let ca = std::path::absolute(&files.ca).unwrap_or(files.ca.clone());
            (
                Some(tls::server_config(&files.cert, &files.key)?),
                Some((ca, names)),
            )
        }
        _ => (None, None),
    };
    // Bound before any configuration is written, so port 0 writes the port it got.
    let listener = std::net::TcpListener::bind(args.listen).map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {}: {e}; hint: another server may hold the port, choose another with --listen ADDRESS:PORT",
            args.listen
        )
    })?;
    let bound = listener.local_addr()?;
    let advertised = advertised(&args, bound);
    let ca = match made {
        Some((ca, names)) => {
            output::note(&format!(
                "TLS: a certificate for {} signed by the CA `{}`. Clients trust it with:\n  docker, podman, skopeo: copy it to /etc/docker/certs.d/{advertised}/ca.crt and /etc/containers/certs.d/{advertised}/ca.crt\n  containerd, k3s: --write-containerd-hosts / --write-k3s-registries name it for you\n  the whole system: copy it to /usr/local/share/ca-certificates/outrider.crt and run update-ca-certificates",
                names.join(", "),
                ca.display()
            ));
            Some(ca)
        }
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let endpoint = format!("{scheme}://{advertised}");
    let registries: Vec<String> = catalog.source_registries().into_iter().collect();
    if (args.write_k3s_registries.is_some() || args.write_containerd_hosts.is_some())
        && registries.iter().any(|r| r == "localhost")
    {
        output::note(
            "images read from files that named no registry are named `localhost/…`: the mirror configuration written names `localhost` for them",
        );
    }
    if let Some(path) = &args.write_k3s_registries {
        crate::k3s_registries::merge(path, &registries, &endpoint, &|_| None, ca.as_deref())
            .with_context(|| format!("writing `{}`", path.display()))?;
        output::note(&format!(
            "wrote `{}`: {} mirrored to {endpoint}",
            path.display(),
            registries.join(", ")
        ));
    }
    if let Some(dir) = &args.write_containerd_hosts {
        site_config::write_containerd_hosts(dir, &registries, &endpoint, ca.as_deref())
            .with_context(|| format!("writing hosts.toml files under `{}`", dir.display()))?;
        output::note(&format!(
            "wrote `{}/<registry>/hosts.toml` for {}: point containerd's config_path (or `ctr --hosts-dir`) there",
            dir.display(),
            registries.join(", ")
        ));
    }
    let images = catalog.served;
    let repositories = catalog.repositories.len();
    let bundles = catalog.bundles.len();
    pullable::announce(&catalog, &advertised);
    let files: usize = catalog.bundles.iter().map(|b| b.opened().len()).sum();
    let cap = connections::cap(connections::raise_descriptor_limit(), files as u64);
    let served = Arc::new(api::Served {
        catalog: Arc::new(catalog),
        verification: Arc::default(),
        manifests: manifests::Manifests::default(),
    });
    let app = connections::Capped::new(
        api::router(served)
            .layer(axum::middleware::from_fn(access_log::log))
            .into_make_service(),
        cap,
    );
    output::note(&format!(
        "serving {images} images in {repositories} repositories from {bundles} bundles at {endpoint} (read-only); stop with Ctrl-C"
    ));
    tracing::info!("at most {cap} connections at once");
    let io = |e: std::io::Error| anyhow::anyhow!("serving on {bound}: {e}");
    let handle = axum_server::Handle::new();
    tokio::spawn(stop_on_signal(handle.clone()));
    match tls {
        None => {
            let mut server = axum_server::from_tcp(listener)
                .map_err(io)?
                .handle(handle)
                .first_request_timeout(connections::HEADER_TIMEOUT)
                .acceptor(connections::Watching);
            connections::configure(server.http_builder());
            server.serve(app).await.map_err(io)?;
        }
        Some(config) => {
            let config = axum_server::tls_rustls::RustlsConfig::from_config(config);
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config)
                .handshake_timeout(connections::HEADER_TIMEOUT)
                .acceptor(connections::Watching);
            let mut server = axum_server::from_tcp(listener)
                .map_err(io)?
                .handle(handle)
                .first_request_timeout(connections::HEADER_TIMEOUT)
                .acceptor(acceptor);
            connections::configure(server.http_builder());
            server.serve(app).await.map_err(io)?;
        }
    }
    output::note("stopped");
    Ok(Outcome::Success)
}

/// Waits for SIGINT or SIGTERM, then lets open requests finish for [`GRACE`].
async fn stop_on_signal<A: axum_server::Address>(handle: axum_server::Handle<A>) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    output::note("stopping: open requests get 10 s to finish");
    handle.graceful_shutdown(Some(GRACE));
}
