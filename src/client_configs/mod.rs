//! Files that tell a site's container runtimes where the carried images now live: for each
//! image pushed (or served), the repository it came from and the repository that now holds
//! it. Every writer here turns that one list of [`Route`]s into one runtime's format, so
//! podman, CRI-O, containerd, k3s, OpenShift and Talos all pull the *original* names and
//! are sent to the same places.
//!
//! The writers are pure (text in, text out); writing the files, with a backup of any file
//! already there, is the caller's. What the formats cannot say is refused here with the
//! reason: a per-registry format (containerd's `hosts.toml`, Talos) can only move a whole
//! registry under one path, so names flattened or rewritten one by one are named instead.

mod containerd;
mod embedded_registry;
mod k3s;
mod kind;
mod openshift;
mod policy;
mod registries_conf;
mod talos;

pub use containerd::hosts_toml;
pub use embedded_registry::K3S_EMBEDDED_REGISTRY;
pub use kind::{KINDS, Kind};
pub use openshift::{digest_mirror_set, tag_mirror_set};
pub use policy::{SignaturePolicy, policy_json, registries_d};
pub use registries_conf::registries_conf;
pub use talos::machine_config_patch;

use std::collections::{BTreeMap, BTreeSet};

/// Why a client configuration cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    /// A per-registry format was asked for names moved one by one.
    #[error(
        "{format} can only move a whole registry under one path, but `{registry}` images were placed under different paths ({examples}); use a format that maps each repository (registries.conf, ImageDigestMirrorSet, k3s registries.yaml)"
    )]
    Uneven {
        /// The format asked for.
        format: &'static str,
        /// The source registry.
        registry: String,
        /// Two routes that disagree.
        examples: String,
    },
    /// An existing file cannot be merged into.
    #[error("`{path}` cannot be merged into: {reason}")]
    Existing {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A document failed to render.
    #[error("rendering {what}: {reason}")]
    Render {
        /// The document.
        what: &'static str,
        /// The serializer's message.
        reason: String,
    },
}

/// One repository's move: `docker.io/library/nginx` now lives at
/// `registry.site:5000/mirror/library/nginx`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    /// `REGISTRY/REPOSITORY` as the images are named at their source (what nodes pull).
    pub source: String,
    /// `HOST[:PORT]/REPOSITORY` where the images now are.
    pub mirror: String,
}

impl Route {
    /// The source registry (`docker.io`).
    pub fn source_registry(&self) -> &str {
        self.source.split_once('/').map_or(&self.source, |(r, _)| r)
    }

    /// The repository path at the source (`library/nginx`).
    pub fn source_path(&self) -> &str {
        self.source.split_once('/').map_or("", |(_, p)| p)
    }

    /// The repository path at the mirror (`mirror/library/nginx`).
    pub fn mirror_path(&self) -> &str {
        self.mirror.split_once('/').map_or("", |(_, p)| p)
    }

    /// The path the whole source registry moved under, when this route is such a move
    /// (`mirror` for `library/nginx` → `mirror/library/nginx`; empty for no move), else
    /// `None` (a flattened or rewritten name).
    fn moved_under(&self) -> Option<&str> {
        let (mirror, source) = (self.mirror_path(), self.source_path());
        if mirror == source {
            return Some("");
        }
        mirror
            .strip_suffix(source)
            .and_then(|p| p.strip_suffix('/'))
            .filter(|p| !p.is_empty())
    }
}

/// The registry the images were placed in, as the nodes reach it.
#[derive(Clone, Debug, Default)]
pub struct MirrorRegistry {
    /// `HOST[:PORT]`.
    pub host: String,
    /// Reached over plain HTTP.
    pub plain_http: bool,
    /// Its certificate is not verified.
    pub skip_verify: bool,
}

impl MirrorRegistry {
    /// `http://HOST[:PORT]` or `https://HOST[:PORT]`.
    pub fn url(&self) -> String {
        let scheme = if self.plain_http { "http" } else { "https" };
        format!("{scheme}://{}", self.host)
    }

    /// Whether clients must be told to accept it without verified TLS.
    pub fn insecure(&self) -> bool {
        self.plain_http || self.skip_verify
    }
}

/// Every route to one mirror registry, sorted and without repeats.
#[derive(Clone, Debug)]
pub struct Routes {
    /// Where the images are.
    pub registry: MirrorRegistry,
    /// The moves, sorted.
    pub routes: BTreeSet<Route>,
}

impl Routes {
    /// Routes to `registry`.
    pub fn new(registry: MirrorRegistry, routes: impl IntoIterator<Item = Route>) -> Routes {
        Routes {
            registry,
            routes: routes.into_iter().collect(),
        }
    }

    /// The routes a receipt records: each repository with the repositories its images
    /// came from, at the receipt's registry.
    pub fn from_receipt(receipt: &crate::receipt::Receipt, registry: MirrorRegistry) -> Routes {
        let host = receipt.registry.trim_end_matches('/');
        let routes = receipt.repositories.iter().flat_map(|(repo, content)| {
            content.sources.iter().map(move |source| Route {
                source: source.clone(),
                mirror: format!("{host}/{repo}"),
            })
        });
        Routes::new(registry, routes.collect::<Vec<_>>())
    }

    /// The source registries, sorted.
    pub fn source_registries(&self) -> BTreeSet<&str> {
        self.routes.iter().map(Route::source_registry).collect()
    }

    /// Per source registry, the path its repositories moved under at the mirror (empty for
    /// none), for formats that can only say so per registry; refused when one registry's
    /// images were placed under different paths.
    pub fn per_registry(
        &self,
        format: &'static str,
    ) -> Result<BTreeMap<String, String>, ClientConfigError> {
        let mut found: BTreeMap<String, (String, &Route)> = BTreeMap::new();
        for route in &self.routes {
            let registry = route.source_registry().to_owned();
            let uneven = |other: &Route| ClientConfigError::Uneven {
                format,
                registry: registry.clone(),
                examples: format!(
                    "`{}` → `{}`, `{}` → `{}`",
                    other.source, other.mirror, route.source, route.mirror
                ),
            };
            let Some(under) = route.moved_under() else {
                return Err(uneven(route));
            };
            match found.get(&registry) {
                Some((seen, other)) if seen != under => return Err(uneven(other)),
                Some(_) => {}
                None => {
                    found.insert(registry.clone(), (under.to_owned(), route));
                }
            }
        }
        Ok(found.into_iter().map(|(r, (p, _))| (r, p)).collect())
    }
}

/// The banner each generated file starts with (as a comment in formats that have them).
pub const BANNER: &str = "Written by outrider from the images it placed; a later run rewrites it.";

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(pairs: &[(&str, &str)]) -> Routes {
        Routes::new(
            MirrorRegistry {
                host: "site:5000".into(),
                plain_http: true,
                skip_verify: false,
            },
            pairs.iter().map(|(s, m)| Route {
                source: (*s).into(),
                mirror: (*m).into(),
            }),
        )
    }

    #[test]
    fn a_registry_moved_under_one_path_is_said_per_registry() {
        let r = routes(&[
            (
                "docker.io/library/nginx",
                "site:5000/mirror/docker.io/library/nginx",
            ),
            (
                "docker.io/library/redis",
                "site:5000/mirror/docker.io/library/redis",
            ),
            ("quay.io/org/app", "site:5000/org/app"),
        ]);
        let per = r.per_registry("test").expect("even");
        assert_eq!(per["docker.io"], "mirror/docker.io");
        assert_eq!(per["quay.io"], "");
    }

    #[test]
    fn names_moved_one_by_one_are_refused_per_registry() {
        let r = routes(&[
            ("docker.io/library/nginx", "site:5000/mirror/library/nginx"),
            ("docker.io/library/redis", "site:5000/other/library/redis"),
        ]);
        let e = r.per_registry("Talos").expect_err("uneven").to_string();
        assert!(
            e.contains("Talos") && e.contains("docker.io/library/nginx"),
            "{e}"
        );
        let flat = routes(&[("docker.io/a/b/c", "site:5000/a/b-c")]);
        assert!(flat.per_registry("hosts.toml").is_err());
    }
}
