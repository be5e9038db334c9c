//! The YAML config file, compatible with the original outrider's schema. This module
//! reads what `pack -c` needs (`images:`); the deploy fields are accepted and kept as
//! they are for the commands that use them. Unknown top-level fields are errors.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Images to carry.
    #[serde(default)]
    pub images: Vec<String>,
    /// Container runtime on the targets (`docker`, `containerd`, `k3s`).
    #[serde(default)]
    pub runtime: Option<serde_json::Value>,
    /// How targets are reached.
    #[serde(default)]
    pub transport: Option<serde_json::Value>,
    /// Hosts to deploy to.
    #[serde(default)]
    pub targets: Option<serde_json::Value>,
    /// Where the tar is written locally.
    #[serde(default)]
    pub output_tar: Option<serde_json::Value>,
    /// Where the tar is written on targets.
    #[serde(default)]
    pub remote_tar_path: Option<serde_json::Value>,
    /// Plugin to run after upload.
    #[serde(default)]
    pub post_instructions: Option<serde_json::Value>,
}

/// A config that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// I/O.
    #[error("reading config `{0}`: {1}")]
    Io(PathBuf, std::io::Error),
    /// YAML or schema error (the message carries line:column).
    #[error("config `{0}`: {1}")]
    Parse(PathBuf, String),
}

/// Reads and parses a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = fs_err::read_to_string(path).map_err(|e| ConfigError::Io(path.to_owned(), e))?;
    serde_saphyr::from_str(&text).map_err(|e| ConfigError::Parse(path.to_owned(), e.to_string()))
}
