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
    /// The parsed document (validated), for the fields other commands read.
    pub document: Value,
    /// The directory the file was read from: relative paths in it resolve against this.
    pub base: PathBuf,
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
    Ok(Config {
        images,
        document,
        base: path.parent().unwrap_or(Path::new(".")).to_owned(),
    })
}
