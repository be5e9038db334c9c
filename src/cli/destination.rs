//! Arguments shared by `unpack` and `serve` that decide what the far side looks like
//! beyond the prefix: name mapping (`--map`, `--max-depth`, `--depth-separator`), and the
//! client configuration files written for the nodes (`--write-client-config`,
//! `--policy-key`). The rules live in [`crate::destination`] and
//! [`crate::client_configs`]; these only parse what users write.

use super::heading::{CLIENTS, NAMES};
use crate::client_configs::Kind;
use crate::destination::{Naming, NamingError, PathMap};
use clap::Args;
use std::path::PathBuf;

/// How far-side names are mapped beyond `--prefix` and `--registry-path`.
#[derive(Args, Debug, Clone, Default)]
pub struct NameMapArgs {
    /// Place images whose `REGISTRY/PATH` starts with SRC (whole components) under DST
    /// instead, the rest of the path kept (`docker.io/library=lib`: `docker.io/library/nginx`
    /// → `lib/nginx`, under --prefix); the longest SRC wins; repeatable.
    #[arg(long = "map", value_name = "SRC=DST", value_parser = parse_map, help_heading = NAMES)]
    pub maps: Vec<PathMap>,
    /// At most N path components per repository (GitLab, some Artifactory setups): the
    /// components from the N-th on are joined by --depth-separator (`a/b/c/d` at 2 →
    /// `a/b-c-d`).
    #[arg(long, value_name = "N", help_heading = NAMES)]
    pub max_depth: Option<usize>,
    /// What joins flattened components: `-`, `_`, `__` or `.`.
    #[arg(long, value_name = "SEP", default_value = "-", requires = "max_depth", help_heading = NAMES)]
    pub depth_separator: String,
}

impl NameMapArgs {
    /// `naming` with these maps and depth applied.
    pub fn apply(&self, naming: Naming) -> Result<Naming, NamingError> {
        let naming = naming.with_maps(self.maps.clone());
        match self.max_depth {
            Some(depth) => naming.with_max_depth(depth, &self.depth_separator),
            None => Ok(naming),
        }
    }
}

/// `SRC=DST`, checked as `--map` is.
fn parse_map(text: &str) -> Result<PathMap, String> {
    PathMap::parse(text).map_err(|e| e.to_string())
}

/// The client configuration files written for the nodes.
#[derive(Args, Debug, Clone, Default)]
pub struct ClientConfigArgs {
    /// Write a client configuration pointing the nodes' runtimes at the images' new
    /// places, for their original names: KIND is `registries-conf`, `policy`,
    /// `registries-d`, `containerd-hosts` (PATH a directory), `k3s-registries`,
    /// `k3s-embedded-registry`, `openshift-idms`, `openshift-itms` or `talos`. An
    /// existing file is merged where the format allows and kept beside as a backup;
    /// repeatable.
    #[arg(long = "write-client-config", value_name = "KIND=PATH", value_parser = parse_client_config, help_heading = CLIENTS)]
    pub write: Vec<(Kind, PathBuf)>,
    /// The public key path the nodes' `policy.json` names (default: the --cosign-key
    /// given), as the nodes see it.
    #[arg(long, value_name = "PATH", help_heading = CLIENTS)]
    pub policy_key: Vec<PathBuf>,
}

/// `KIND=PATH`.
fn parse_client_config(text: &str) -> Result<(Kind, PathBuf), String> {
    let (kind, path) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not KIND=PATH (e.g. `registries-conf=/etc/containers/registries.conf.d/outrider.conf`)"))?;
    let kind: Kind = kind.parse()?;
    if path.is_empty() {
        return Err(format!("`{text}` names no path"));
    }
    Ok((kind, PathBuf::from(path)))
}
