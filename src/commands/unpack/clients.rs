//! `unpack --push --write-client-config`: the routes the push made (from what it
//! placed, or for a dry run from the names it would use) and the client configurations
//! written from them by [`crate::sinks::client_configs`].

use crate::bundle::reader::BundleReader;
use crate::cli::UnpackArgs;
use crate::client_configs::{MirrorRegistry, Route, Routes, SignaturePolicy};
use crate::destination::{Naming, Origin};
use crate::receipt::Receipt;
use crate::sinks::client_configs::{Settings, write as write_configs};

/// The routes to `host`: what `placed` records, or for a dry run (nothing placed) every
/// image of the bundle under `naming`.
pub(super) fn routes(
    args: &UnpackArgs,
    host: &str,
    scheme: &str,
    naming: &Naming,
    reader: &BundleReader,
    placed: Option<&Receipt>,
) -> Routes {
    let registry = MirrorRegistry {
        host: host.to_owned(),
        plain_http: scheme == "http",
        skip_verify: args.registry.insecure_skip_verify.iter().any(|h| h == host),
    };
    match placed {
        Some(receipt) => Routes::from_receipt(receipt, registry),
        None => {
            let routes: Vec<Route> = reader
                .index
                .images
                .iter()
                .map(|image| {
                    let origin = Origin::of(image);
                    Route {
                        source: format!("{}/{}", origin.registry, origin.repository),
                        mirror: format!("{host}/{}", naming.repository(image)),
                    }
                })
                .collect();
            Routes::new(registry, routes)
        }
    }
}

/// Refuses, before the push, a `--write-client-config` file its format cannot say for
/// these names (a usage error): rendered from the names the push will use.
pub(super) fn check(
    args: &UnpackArgs,
    host: &str,
    naming: &Naming,
    reader: &BundleReader,
) -> anyhow::Result<()> {
    if args.client_configs.write.is_empty() {
        return Ok(());
    }
    let routes = routes(args, host, "https", naming, reader, None);
    let signatures = signatures(args);
    crate::sinks::client_configs::check(
        &args.client_configs.write,
        &Settings {
            routes: &routes,
            signatures: &signatures,
            ca: None,
            dry_run: true,
            to_stderr: args.json,
        },
    )
    .map_err(|e| super::super::UsageError(e.to_string()))?;
    Ok(())
}

/// The keys a policy.json requires: `--policy-key`, else the `--cosign-key` paths made
/// absolute (the nodes read the key where the policy names it).
fn signatures(args: &UnpackArgs) -> SignaturePolicy {
    let configs = &args.client_configs;
    let key_paths = match configs.policy_key.is_empty() {
        true => args
            .cosign
            .cosign_keys
            .iter()
            .map(|k| std::path::absolute(k).unwrap_or_else(|_| k.clone()))
            .collect(),
        false => configs.policy_key.clone(),
    };
    SignaturePolicy { key_paths }
}

/// Writes (or with `--dry-run` prints) every `--write-client-config` file.
pub(super) fn write(args: &UnpackArgs, routes: &Routes) -> anyhow::Result<()> {
    let configs = &args.client_configs;
    if configs.write.is_empty() {
        return Ok(());
    }
    let signatures = signatures(args);
    write_configs(
        &configs.write,
        &Settings {
            routes,
            signatures: &signatures,
            ca: None,
            dry_run: args.dry_run,
            to_stderr: args.json,
        },
    )?;
    Ok(())
}
