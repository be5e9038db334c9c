//! The YAML config file, compatible with the original outrider's schema (`images`,
//! `runtime`, `transport`, `targets`, `output_tar`, `remote_tar_path`,
//! `post_instructions`), plus what the bundle era needs (`bundle`, `registry`,
//! `platforms`, `parallel`). [`validate`] reports every error at once with its field path
//! and line:column; nothing is required at the top level, because each command checks what
//! it needs (`pack -c` needs `images`, a deploy needs `targets`).

mod checker;
mod location;
mod problem;
mod schema;
mod sections;
mod validate;

pub use problem::Problem;
pub use validate::validate;

use serde_json::Value;
use std::path::{Path, PathBuf};

/// A config that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// I/O.
    #[error("reading config `{0}`: {1}")]
    Io(PathBuf, std::io::Error),
    /// Schema or syntax errors, all of them.
    #[error("config `{}` is invalid:\n{}", .0.display(), .1.iter().map(|p| format!("  {}:{}:{}: {}: {}", .0.display(), p.line, p.column, p.path, p.message)).collect::<Vec<_>>().join("\n"))]
    Invalid(PathBuf, Vec<Problem>),
}

/// A valid config, as the commands use it.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Images to carry.
    pub images: Vec<String>,
    /// Charts to carry (`charts:`), as `pack` requests (`chart:…`, `oci://…`).
    pub charts: Vec<String>,
    /// Files to carry (`files:`), as `pack` requests (`file:PATH`, a URL).
    pub files: Vec<String>,
    /// The parsed document (validated), for the fields other commands read.
    pub document: Value,
    /// The directory the file was read from: relative paths in it resolve against this.
    pub base: PathBuf,
}

/// An entry of `charts:` or `files:` as the request `pack` takes: `chart:` or `file:`
/// added unless written (or a URL for a file, `oci://` for a chart); a relative local
/// path resolved against the config's folder `base`. `… as NAME` is kept.
pub fn carried_request(entry: &str, chart: bool, base: &Path) -> String {
    let (source, name) = match entry.rsplit_once(" as ") {
        Some((s, n)) => (s.trim(), Some(n.trim())),
        None => (entry.trim(), None),
    };
    let prefix = if chart { "chart:" } else { "file:" };
    let is_url = source.starts_with("https://") || source.starts_with("http://");
    let request = if source.starts_with(prefix) || source.starts_with("oci://") {
        source.to_owned()
    } else if is_url {
        if chart {
            format!("{prefix}{source}")
        } else {
            source.to_owned()
        }
    } else {
        let path = Path::new(source);
        let path = if path.is_relative() {
            base.join(path)
        } else {
            path.to_owned()
        };
        format!("{prefix}{}", path.display())
    };
    match name {
        Some(n) => format!("{request} as {n}"),
        None => request,
    }
}

/// Reads, validates and returns a config; every problem is reported at once.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = fs_err::read_to_string(path).map_err(|e| ConfigError::Io(path.to_owned(), e))?;
    let (document, problems) = validate(&text, path.parent().unwrap_or(Path::new(".")));
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(path.to_owned(), problems));
    }
    let images = document
        .get("images")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let base = path.parent().unwrap_or(Path::new("."));
    let carried = |key: &str| -> Vec<String> {
        document
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|s| carried_request(s, key == "charts", base))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (charts, files) = (carried("charts"), carried("files"));
    Ok(Config {
        images,
        charts,
        files,
        document,
        base: path.parent().unwrap_or(Path::new(".")).to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::carried_request;
    use std::path::Path;

    #[test]
    fn charts_and_files_become_requests() {
        let base = Path::new("/site");
        assert_eq!(
            carried_request("https://charts.example/app:^1", true, base),
            "chart:https://charts.example/app:^1"
        );
        assert_eq!(
            carried_request("oci://reg.example/charts/app:1.0.0", true, base),
            "oci://reg.example/charts/app:1.0.0"
        );
        assert_eq!(
            carried_request("charts/app", true, base),
            "chart:/site/charts/app"
        );
        assert_eq!(
            carried_request("chart:/abs/app-1.0.0.tgz", true, base),
            "chart:/abs/app-1.0.0.tgz"
        );
        assert_eq!(
            carried_request("https://get.example/k3s#sha256=ab", false, base),
            "https://get.example/k3s#sha256=ab"
        );
        assert_eq!(
            carried_request("tools/x.sh as files/x:1", false, base),
            "file:/site/tools/x.sh as files/x:1"
        );
    }
}
