//! k3s's `registries.yaml`: after `unpack --push --k3s`, every source registry of the
//! bundle is mirrored to the registry pushed to, so k3s nodes pull through it. An existing
//! file is merged (other mirrors and `configs` kept) and backed up beside it first.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The registries file could not be read, merged or written.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The file there is not YAML.
    #[error("`{}` is not valid YAML: {detail}", path.display())]
    NotYaml {
        /// The file.
        path: PathBuf,
        /// The parser's words.
        detail: String,
    },
    /// The file is not a mapping.
    #[error("`{}` is not a YAML mapping", path.display())]
    NotMapping {
        /// The file.
        path: PathBuf,
    },
    /// A section of the file (`mirrors`, `configs`) is not a mapping.
    #[error("`{}`: `{section}` is not a mapping", path.display())]
    SectionNotMapping {
        /// The file.
        path: PathBuf,
        /// The section.
        section: &'static str,
    },
    /// The merged document could not be rendered.
    #[error("rendering `{}`: {detail}", path.display())]
    Render {
        /// The file.
        path: PathBuf,
        /// The renderer's words.
        detail: String,
    },
    /// Backing up or writing the file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A registry's `rewrite` table: regular expression over the repository path →
/// replacement (empty: no rewrite).
pub type Rewrites = BTreeMap<String, String>;

/// The rewrite that puts every repository of a registry under `path`.
pub fn under(path: &str) -> Rewrites {
    Rewrites::from([("^(.*)$".to_owned(), format!("{path}/$1"))])
}

/// Whether `rewrite` is one this file writes: every key anchored at both ends.
fn ours(rewrite: &serde_json::Map<String, Value>) -> bool {
    !rewrite.is_empty()
        && rewrite
            .keys()
            .all(|k| k.starts_with('^') && k.ends_with('$'))
}

/// Writes or merges `path` so each of `sources` (e.g. `docker.io`) has `endpoint` (e.g.
/// `http://registry.site:5000`) first among its mirror endpoints, with the `rewrite`
/// table `rewrites` gives that registry (a prefix, the registry itself with
/// `--registry-path`, or one anchored rewrite per repository for names mapped one by
/// one), and `ca_file` as the endpoint's `configs.<host>.tls` CA when given. Returns the
/// backup's path, if there was a file.
pub fn merge(
    path: &Path,
    sources: &[String],
    endpoint: &str,
    rewrites: &dyn Fn(&str) -> Rewrites,
    ca_file: Option<&Path>,
) -> Result<Option<PathBuf>, MergeError> {
    let yaml = merged(path, sources, endpoint, rewrites, ca_file)?;
    let backup = crate::atomic_file::back_up(path)?;
    if backup.is_none()
        && let Some(dir) = path.parent()
    {
        fs_err::create_dir_all(dir)?;
    }
    crate::atomic_file::write(path, yaml.as_bytes(), None)?;
    Ok(backup)
}

/// The text [`merge`] would write to `path`.
pub fn merged(
    path: &Path,
    sources: &[String],
    endpoint: &str,
    rewrites: &dyn Fn(&str) -> Rewrites,
    ca_file: Option<&Path>,
) -> Result<String, MergeError> {
    let mut doc: Value = match fs_err::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => {
            serde_saphyr::from_str(&text).map_err(|e| MergeError::NotYaml {
                path: path.to_owned(),
                detail: e.to_string(),
            })?
        }
        _ => json!({}),
    };
    if !doc.is_object() {
        return Err(MergeError::NotMapping {
            path: path.to_owned(),
        });
    }
    let mirrors = doc
        .as_object_mut()
        .map(|d| d.entry("mirrors").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut);
    let Some(mirrors) = mirrors else {
        return Err(MergeError::SectionNotMapping {
            path: path.to_owned(),
            section: "mirrors",
        });
    };
    for source in sources {
        let entry = mirrors.entry(source.clone()).or_insert_with(|| json!({}));
        let Some(entry) = entry.as_object_mut() else {
            continue;
        };
        let mut endpoints: Vec<Value> = entry
            .get("endpoint")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        endpoints.retain(|e| e.as_str() != Some(endpoint));
        endpoints.insert(0, json!(endpoint));
        entry.insert("endpoint".into(), Value::Array(endpoints));
        let table = rewrites(source);
        if table.is_empty() {
            // A rewrite of the form this writes, left by a run with a prefix or
            // --registry-path, would send k3s to a path this endpoint no longer holds.
            if entry
                .get("rewrite")
                .and_then(Value::as_object)
                .is_some_and(ours)
            {
                entry.remove("rewrite");
            }
        } else {
            entry.insert("rewrite".into(), json!(table));
        }
    }
    if let Some(ca) = ca_file {
        let host = endpoint
            .split_once("://")
            .map_or(endpoint, |(_, rest)| rest)
            .trim_end_matches('/');
        let configs = doc
            .as_object_mut()
            .map(|d| d.entry("configs").or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut);
        let Some(configs) = configs else {
            return Err(MergeError::SectionNotMapping {
                path: path.to_owned(),
                section: "configs",
            });
        };
        let entry = configs.entry(host.to_owned()).or_insert_with(|| json!({}));
        if let Some(entry) = entry.as_object_mut() {
            let tls = entry.entry("tls").or_insert_with(|| json!({}));
            if let Some(tls) = tls.as_object_mut() {
                tls.insert("ca_file".into(), json!(ca.display().to_string()));
            }
        }
    }
    serde_saphyr::to_string(&doc).map_err(|e| MergeError::Render {
        path: path.to_owned(),
        detail: e.to_string(),
    })
}
