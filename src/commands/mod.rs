//! One file per subcommand; the only users of `anyhow`. Each returns the process outcome.

pub mod deploy;
pub mod diff;
pub mod inspect;
pub mod lineage;
pub mod pack;
pub mod plan;
pub mod receipt;
pub mod report;
pub mod select;
pub mod serve;
pub mod shell;
pub mod unpack;
pub mod validate;
pub mod verify;
pub mod version;

use crate::cli::RegistryArgs;
use crate::registry::credentials::{Credential, ExplicitCredentials};
use crate::registry::http::TransportOptions;
use crate::secret::Secret;
use anyhow::{Context, bail};

/// How a command ended, mapped to the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything worked (exit 0).
    Success,
    /// Something failed; already reported (exit 1).
    Failed,
}

/// The user interrupted the command (Ctrl-C); exit 130, as a shell reports SIGINT. What
/// the command was writing is removed, so nothing left looks finished.
#[derive(Debug, thiserror::Error)]
#[error("interrupted; {0}")]
pub struct Interrupted(pub String);

/// A usage error (exit 2), defined with the command line (so argument types can return
/// it) and re-exported here for the commands.
pub use crate::cli::UsageError;

/// Says on stderr what a bundle's signature showed: always when `always` (`verify`),
/// otherwise only when there is something to say (the bundle is signed, or keys were
/// given), so an unsigned bundle nobody asked about costs no line.
pub fn note_seal(
    reader: &crate::bundle::reader::BundleReader,
    trusted: &crate::trust::TrustedKeys,
    always: bool,
) {
    if always || *reader.seal() != crate::trust::Seal::Unsigned || !trusted.is_empty() {
        crate::output::note(&format!(
            "`{}`: {}",
            reader.path().display(),
            reader.seal().describe()
        ));
    }
}

/// Says what an older bundle cannot tell: where its artifacts of shared manifests were
/// found, so they go with every image that shares them (as older outriders did).
pub fn note_unplaced(reader: &crate::bundle::reader::BundleReader) {
    let n = reader.index.unplaced_artifacts();
    if n > 0 {
        crate::output::note(&format!(
            "`{}` (format {}) does not say which repository its artifacts were found in: {n} of them describe a manifest several images share, and go with each of those images; pack again with this outrider to keep them where they were",
            reader.path().display(),
            reader.index.format_version
        ));
    }
}

/// Turns registry flags into transport options and explicit credentials. `default_auth`
/// names the registries `--username` applies to when `--auth-for` is not given.
pub fn registry_settings(
    args: &RegistryArgs,
    default_auth: &[String],
) -> anyhow::Result<(TransportOptions, ExplicitCredentials)> {
    let mut mirrors = Vec::new();
    for m in &args.mirror {
        let Some((from, to)) = m.split_once('=') else {
            bail!(UsageError(format!(
                "--mirror `{m}` must be REGISTRY=MIRROR, e.g. docker.io=mirror.local:5000"
            )));
        };
        mirrors.push((from.to_owned(), to.to_owned()));
    }
    let options = TransportOptions {
        plain_http: args.plain_http.clone(),
        skip_verify: args.insecure_skip_verify.clone(),
        ca_files: args.ca_file.clone(),
        client_cert: args.cert.clone().zip(args.key.clone()),
        mirrors,
        retries: args.retries,
        stall_timeout: std::time::Duration::from_secs(args.timeout),
        certs_d: TransportOptions::default_certs_d(),
        flags: per_host_flags(args),
    };
    let mut credentials = ExplicitCredentials {
        auth_file: args.auth.authfile.clone(),
        ..ExplicitCredentials::default()
    };
    let auth = &args.auth;
    if let Some(username) = &auth.username {
        let password = if auth.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        } else {
            match &auth.password {
                Some(p) => p.clone(),
                None => bail!(UsageError(
                    "--username needs a password: --password-stdin, or OUTRIDER_PASSWORD".into()
                )),
            }
        };
        let hosts = if auth.auth_for.is_empty() {
            default_auth.to_vec()
        } else {
            auth.auth_for.clone()
        };
        if hosts.is_empty() {
            bail!(UsageError("--username with images from several registries needs --auth-for HOST to say which one gets the credentials".into()));
        }
        for host in hosts {
            credentials.by_host.insert(
                host,
                Credential::Basic {
                    username: username.clone(),
                    password: Secret::new(password.clone()),
                },
            );
        }
    }
    Ok((options, credentials))
}

/// Every per-host flag of the command line, as (flag, host), for the warning about flags
/// that match no registry the run reaches.
fn per_host_flags(args: &RegistryArgs) -> Vec<(String, String)> {
    let named = |flag: &str, hosts: &[String]| {
        hosts
            .iter()
            .map(|h| (flag.to_owned(), h.clone()))
            .collect::<Vec<_>>()
    };
    let mirrored: Vec<String> = args
        .mirror
        .iter()
        .filter_map(|m| m.split_once('=').map(|(from, _)| from.to_owned()))
        .collect();
    [
        named("--plain-http", &args.plain_http),
        named("--insecure-skip-verify", &args.insecure_skip_verify),
        named("--auth-for", &args.auth.auth_for),
        named("--mirror", &mirrored),
    ]
    .concat()
}

/// Applies a config's `registries:` (per-registry credentials, plain HTTP, skip-verify, CA,
/// mirror) on top of the command line's settings; the command line wins for credentials.
pub fn apply_config_registries(
    config: &crate::config::Config,
    options: &mut TransportOptions,
    credentials: &mut ExplicitCredentials,
) -> anyhow::Result<()> {
    let base = config.base.as_path();
    let Some(map) = config
        .document
        .get("registries")
        .and_then(|r| r.as_object())
    else {
        return Ok(());
    };
    for (host, settings) in map {
        let flag = |k: &str| {
            settings
                .get(k)
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false)
        };
        if flag("plain_http") {
            options.plain_http.push(host.clone());
        }
        if flag("insecure_skip_verify") {
            options.skip_verify.push(host.clone());
        }
        if let Some(ca) = settings.get("ca_file").and_then(|v| v.as_str()) {
            options.ca_files.push(base.join(ca));
        }
        if let Some(mirror) = settings.get("mirror").and_then(|v| v.as_str()) {
            options.mirrors.push((host.clone(), mirror.to_owned()));
        }
        if let Some(username) = settings.get("username").and_then(|v| v.as_str())
            && !credentials.by_host.contains_key(host)
        {
            let password = match (
                settings.get("password").and_then(|v| v.as_str()),
                settings.get("password_env").and_then(|v| v.as_str()),
            ) {
                (Some(p), _) => p.to_owned(),
                (None, Some(var)) => std::env::var(var).map_err(|_| {
                    UsageError(format!(
                        "registries.{host}.password_env names `{var}`, which is not set"
                    ))
                })?,
                (None, None) => bail!(UsageError(format!(
                    "registries.{host} has a username but no password or password_env"
                ))),
            };
            credentials.by_host.insert(
                host.clone(),
                Credential::Basic {
                    username: username.to_owned(),
                    password: Secret::new(password),
                },
            );
        }
    }
    Ok(())
}
