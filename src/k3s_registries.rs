//! k3s's `registries.yaml`: after `unpack --push --k3s`, every source registry of the
//! bundle is mirrored to the registry pushed to, so k3s nodes pull through it. An existing
//! file is merged (other mirrors and `configs` kept) and backed up beside it first.

use serde_json::{Value, json};
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

/// Writes or merges `path` so each of `sources` (e.g. `docker.io`) has `endpoint` (e.g.
/// `http://registry.site:5000`) first among its mirror endpoints, with a `rewrite` that
/// adds the path `path_for` gives that registry's images at the endpoint (a prefix, the
/// registry itself with `--registry-path`), and `ca_file` as the endpoint's
/// `configs.<host>.tls` CA when given. Returns the backup's path, if there was a file.
pub fn merge(
    path: &Path,
    sources: &[String],
    endpoint: &str,
    path_for: &dyn Fn(&str) -> Option<String>,
    ca_file: Option<&Path>,
) -> Result<Option<PathBuf>, MergeError> {
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
        match path_for(source) {
            Some(p) => {
                entry.insert("rewrite".into(), json!({ "^(.*)$": format!("{p}/$1") }));
            }
            // A rewrite of the form this writes, left by a run with a prefix or
            // --registry-path, would send k3s to a path this endpoint no longer holds.
            None => {
                let ours = entry
                    .get("rewrite")
                    .and_then(Value::as_object)
                    .is_some_and(|r| r.len() == 1 && r.contains_key("^(.*)$"));
                if ours {
                    entry.remove("rewrite");
                }
            }
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
    let backup = crate::atomic_file::back_up(path)?;
    if backup.is_none()
        && let Some(dir) = path.parent()
    {
        fs_err::create_dir_all(dir)?;
    }
    let yaml = serde_saphyr::to_string(&doc).map_err(|e| MergeError::Render {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    crate::atomic_file::write(path, yaml.as_bytes(), None)?;
    Ok(backup)
}
