//! `--write-client-config KIND=PATH` (`unpack --push`, `serve`): each client
//! configuration [`crate::client_configs`] renders from one list of routes, written
//! beside any file already there (kept as a backup, see [`crate::atomic_file::back_up`]),
//! or with `--dry-run` printed instead. Files that merge (policy.json, k3s's
//! registries.yaml) are read first; a per-registry format that cannot say the names is
//! refused with the reason before anything is written.

use crate::client_configs::{self, ClientConfigError, Kind, Routes, SignaturePolicy};
use crate::output;
use std::path::{Path, PathBuf};

/// A configuration that could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The format cannot say these routes, or an existing file cannot be merged.
    #[error("{kind} `{}`: {source}", path.display())]
    Render {
        /// The kind.
        kind: &'static str,
        /// Where it was to go.
        path: PathBuf,
        /// Why.
        source: ClientConfigError,
    },
    /// A policy.json was asked for without a key to require.
    #[error(
        "policy `{}`: no key to require; hint: give --cosign-key, or --policy-key with the public key's path on the nodes",
        path.display()
    )]
    NoKey {
        /// Where it was to go.
        path: PathBuf,
    },
    /// k3s's registries.yaml could not be merged.
    #[error(transparent)]
    K3s(#[from] crate::k3s_registries::MergeError),
    /// Reading, backing up or writing a file failed.
    #[error("`{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Where and how the configurations are written.
pub struct Settings<'a> {
    /// The routes the files send the nodes along.
    pub routes: &'a Routes,
    /// The keys a policy.json requires.
    pub signatures: &'a SignaturePolicy,
    /// A CA the nodes must trust for the mirror (k3s's `configs.<host>.tls`).
    pub ca: Option<&'a Path>,
    /// Print instead of writing.
    pub dry_run: bool,
    /// With `dry_run`: print on stderr (stdout holds a JSON document).
    pub to_stderr: bool,
}

/// Renders every requested file without writing any: what a run asks before it pushes,
/// so a format that cannot say the names is refused before any byte moves.
pub fn check(requests: &[(Kind, PathBuf)], settings: &Settings<'_>) -> Result<(), Error> {
    for (kind, path) in requests {
        render(*kind, path, settings)?;
    }
    Ok(())
}

/// Renders every requested file first (so a refusal writes nothing), then writes or
/// prints them.
pub fn write(requests: &[(Kind, PathBuf)], settings: &Settings<'_>) -> Result<(), Error> {
    let mut files: Vec<(Kind, PathBuf, String)> = Vec::new();
    for (kind, path) in requests {
        for (file, text) in render(*kind, path, settings)? {
            files.push((*kind, file, text));
        }
    }
    for (kind, path, text) in files {
        if settings.dry_run {
            let shown = format!("# {} → {}\n{text}", kind.name(), path.display());
            match settings.to_stderr {
                true => output::note(&shown),
                false => output::line(&shown),
            }
            continue;
        }
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let backup = crate::atomic_file::back_up(&path).map_err(io)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs_err::create_dir_all(dir).map_err(io)?;
        }
        crate::atomic_file::write(&path, text.as_bytes(), None).map_err(io)?;
        output::note(&format!(
            "wrote {} `{}`{}",
            kind.name(),
            path.display(),
            backup
                .map(|b| format!(" (the old file kept as `{}`)", b.display()))
                .unwrap_or_default()
        ));
    }
    Ok(())
}

/// The files of one request: path → text (a directory of files for containerd).
fn render(kind: Kind, path: &Path, s: &Settings<'_>) -> Result<Vec<(PathBuf, String)>, Error> {
    let routes = s.routes;
    let failed = |source| Error::Render {
        kind: kind.name(),
        path: path.to_owned(),
        source,
    };
    let one = |text: String| Ok(vec![(path.to_owned(), text)]);
    match kind {
        Kind::RegistriesConf => one(client_configs::registries_conf(routes)),
        Kind::Policy => {
            if s.signatures.key_paths.is_empty() {
                return Err(Error::NoKey {
                    path: path.to_owned(),
                });
            }
            let existing = match fs_err::read_to_string(path) {
                Ok(text) => Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => {
                    return Err(Error::Io {
                        path: path.to_owned(),
                        source,
                    });
                }
            };
            one(
                client_configs::policy_json(existing.as_deref(), routes, s.signatures)
                    .map_err(failed)?,
            )
        }
        Kind::RegistriesD => one(client_configs::registries_d(routes).map_err(failed)?),
        Kind::ContainerdHosts => {
            let mut files = Vec::new();
            for (registry, text) in client_configs::hosts_toml(routes).map_err(failed)? {
                // Registry names were checked when the bundle was read; one that is not a
                // plain path component is still never joined.
                let mut parts = Path::new(&registry).components();
                if !matches!(
                    (parts.next(), parts.next()),
                    (Some(std::path::Component::Normal(_)), None)
                ) {
                    return Err(Error::Io {
                        path: path.to_owned(),
                        source: std::io::Error::other(format!(
                            "registry `{registry}` cannot name a folder"
                        )),
                    });
                }
                files.push((path.join(&registry).join("hosts.toml"), text));
            }
            Ok(files)
        }
        Kind::K3sRegistries => {
            let rewrites = routes.k3s_rewrites();
            let sources: Vec<String> = rewrites.keys().cloned().collect();
            let text = crate::k3s_registries::merged(
                path,
                &sources,
                &routes.registry.url(),
                &|r| rewrites.get(r).cloned().unwrap_or_default(),
                s.ca,
            )?;
            one(text)
        }
        Kind::K3sEmbeddedRegistry => one(client_configs::K3S_EMBEDDED_REGISTRY.to_owned()),
        Kind::OpenshiftIdms => {
            one(client_configs::digest_mirror_set(routes, "outrider").map_err(failed)?)
        }
        Kind::OpenshiftItms => {
            one(client_configs::tag_mirror_set(routes, "outrider").map_err(failed)?)
        }
        Kind::Talos => one(client_configs::machine_config_patch(routes).map_err(failed)?),
    }
}
