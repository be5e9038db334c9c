//! `outrider serve`: bundles served as a read-only OCI registry, as they lie. Every blob
//! is STORED at a known offset, so a request is answered by positioned reads from the zip
//! (parts of a split blob stitched across volumes): no extraction, no second copy.
//! The command line becomes [`Options`] in `commands::serve`, which also opens the bundles
//! and builds the [`Catalog`]; nothing here knows a flag.
//!
//! - [`catalog`]: which images are served, under which names, from which bundle.
//! - [`api`]: the distribution API routes.
//! - [`chart_repository`]: `/charts/index.yaml` and the packages, for `helm repo add`.
//! - [`verified`]: blobs leave only as verified bytes, read as clients take them.
//! - [`manifests`]: manifests' verified bytes, kept in memory.
//! - [`connections`]: timeouts and a cap, so no client starves the others.
//! - [`access_log`]: a line per request.
//! - [`tls`]: certificates from files or a private CA.
//! - [`site_config`]: mirror settings for k3s and containerd.

pub mod access_log;
pub mod api;
pub mod catalog;
pub mod chart_repository;
pub mod connections;
pub mod manifests;
pub mod pullable;
pub mod site_config;
pub mod tls;
pub mod verified;

use crate::output;
use anyhow::Context;
use catalog::Catalog;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How `serve` listens and what it writes beside: built once by `commands::serve` from the
/// command line, so nothing here knows its flags. The bundles themselves arrive opened and
/// cataloged ([`Catalog`]).
#[derive(Clone, Debug)]
pub struct Options {
    /// Address and port to listen on (port 0: any free port).
    pub listen: std::net::SocketAddr,
    /// `host:port` clients reach this server at, when not the listen address.
    pub advertise: Option<String>,
    /// Plain HTTP, or HTTPS with which certificate.
    pub tls: Tls,
    /// A k3s `registries.yaml` to write or merge, mirroring every source registry here.
    pub write_k3s_registries: Option<PathBuf>,
    /// A folder for containerd's `<registry>/hosts.toml` files, mirroring them here.
    pub write_containerd_hosts: Option<PathBuf>,
    /// `--write-client-config KIND=PATH`: more configurations, from the served names.
    pub client_configs: Vec<(crate::client_configs::Kind, PathBuf)>,
    /// The keys a written policy.json requires.
    pub signatures: crate::client_configs::SignaturePolicy,
    /// Print every pullable name and stop, without serving (`--list`).
    pub list: bool,
}

/// Where the server's certificate comes from.
#[derive(Clone, Debug)]
pub enum Tls {
    /// Plain HTTP.
    Off,
    /// A PEM certificate chain and its private key, from files.
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// Its private key.
        key: PathBuf,
    },
    /// A certificate signed by a private CA kept in this folder (made on first use).
    SelfSigned(PathBuf),
}

/// How long open requests may finish after a stop signal.
const GRACE: Duration = Duration::from_secs(10);

/// The names a self-signed certificate is made for: the address listened on (unless it
/// is every address), loopback, this host's name, and the advertised host.
fn certificate_names(options: &Options, advertised: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut add = |n: String| {
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    };
    add(host_of(advertised).to_owned());
    if !options.listen.ip().is_unspecified() {
        add(options.listen.ip().to_string());
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
fn advertised(options: &Options, bound: std::net::SocketAddr) -> String {
    if let Some(a) = &options.advertise {
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

/// Serves `catalog` until SIGINT or SIGTERM.
pub async fn run(catalog: Catalog, options: Options) -> anyhow::Result<()> {
    for line in &catalog.refused {
        output::problem(&format!("warning: {line}"));
    }
    if catalog.served == 0 {
        anyhow::bail!("no image in the bundles given can be served (see the warnings above)");
    }
    if options.list {
        pullable::list(&catalog, &advertised(&options, options.listen));
        return Ok(());
    }
    // The certificate names hosts, not ports: made before the port is bound, so a client
    // that can connect finds the CA already written.
    let (tls, made) = match &options.tls {
        Tls::Files { cert, key } => (Some(tls::server_config(cert, key)?), None),
        Tls::SelfSigned(dir) => {
            let names = certificate_names(&options, &advertised(&options, options.listen));
            let files = tls::self_signed(dir, &names)
                .with_context(|| format!("making a certificate in `{}`", dir.display()))?;
            let ca = std::path::absolute(&files.ca).unwrap_or(files.ca.clone());
            (
                Some(tls::server_config(&files.cert, &files.key)?),
                Some((ca, names)),
            )
        }
        Tls::Off => (None, None),
    };
    // Bound before any configuration is written, so port 0 writes the port it got.
    let listener = std::net::TcpListener::bind(options.listen).map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {}: {e}; hint: another server may hold the port, choose another with --listen ADDRESS:PORT",
            options.listen
        )
    })?;
    let bound = listener.local_addr()?;
    let advertised = advertised(&options, bound);
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
    if (options.write_k3s_registries.is_some() || options.write_containerd_hosts.is_some())
        && registries.iter().any(|r| r == "localhost")
    {
        output::note(
            "images read from files that named no registry are named `localhost/…`: the mirror configuration written names `localhost` for them",
        );
    }
    if let Some(path) = &options.write_k3s_registries {
        crate::k3s_registries::merge(
            path,
            &registries,
            &endpoint,
            &|_| crate::k3s_registries::Rewrites::new(),
            ca.as_deref(),
        )
        .with_context(|| format!("writing `{}`", path.display()))?;
        output::note(&format!(
            "wrote `{}`: {} mirrored to {endpoint}",
            path.display(),
            registries.join(", ")
        ));
    }
    if let Some(dir) = &options.write_containerd_hosts {
        site_config::write_containerd_hosts(dir, &registries, &endpoint, ca.as_deref())
            .with_context(|| format!("writing hosts.toml files under `{}`", dir.display()))?;
        output::note(&format!(
            "wrote `{}/<registry>/hosts.toml` for {}: point containerd's config_path (or `ctr --hosts-dir`) there",
            dir.display(),
            registries.join(", ")
        ));
    }
    if !options.client_configs.is_empty() {
        let routes = crate::client_configs::Routes::new(
            crate::client_configs::MirrorRegistry {
                host: advertised.clone(),
                plain_http: tls.is_none(),
                skip_verify: false,
            },
            catalog
                .routes
                .iter()
                .flat_map(|(source, served)| {
                    served.iter().map(|repo| crate::client_configs::Route {
                        source: source.clone(),
                        mirror: format!("{advertised}/{repo}"),
                    })
                })
                .collect::<Vec<_>>(),
        );
        crate::sinks::client_configs::write(
            &options.client_configs,
            &crate::sinks::client_configs::Settings {
                routes: &routes,
                signatures: &options.signatures,
                ca: ca.as_deref(),
                dry_run: false,
                to_stderr: false,
            },
        )?;
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
    let (charts, chart_count) =
        tokio::task::block_in_place(|| chart_repository::router(served.clone()));
    if chart_count > 0 {
        output::note(&format!(
            "{chart_count} Helm charts also served as a chart repository at {endpoint}/charts (`helm repo add site {endpoint}/charts`)"
        ));
    }
    let app = connections::Capped::new(
        api::router(served)
            .merge(charts)
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
    Ok(())
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
