//! `unpack --docker`: bundle → docker-archive streamed into `docker load` (no file
//! between), after making sure the engine can read the layers' compression.

use crate::blob_store::BlobStore;
use crate::copy::to_archive;
use crate::docker_archive::ArchiveImage;

/// How `--docker` reaches the engine, decided once from the command line.
#[derive(Clone, Debug)]
pub struct Options {
    /// The docker client to run (`DOCKER_HOST` is passed through to it).
    pub docker: String,
}

/// Loading into the engine failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine is too old for the zstd layers some images use.
    #[error(
        "the Docker engine ({version}) cannot load zstd-compressed layers, which {} use; hint: Docker 23 or newer loads them, or use --docker-save and podman/containerd",
        images.join(", ")
    )]
    NoZstd {
        /// The engine's version, or `version unknown`.
        version: String,
        /// The images with zstd layers.
        images: Vec<String>,
    },
    /// `docker load` failed (the message names the command and what it printed).
    #[error("{0}")]
    Load(String),
}

impl Options {
    /// Loads `images` with `<docker> load`; returns the names it reports loaded.
    pub fn load(
        &self,
        store: &BlobStore<'_>,
        images: &[ArchiveImage],
    ) -> Result<Vec<String>, Error> {
        self.check_zstd(images)?;
        let stdout =
            to_archive::pipe(&self.docker, &["load"], store, images).map_err(Error::Load)?;
        Ok(stdout
            .lines()
            .filter_map(|l| {
                l.strip_prefix("Loaded image: ")
                    .or_else(|| l.strip_prefix("Loaded image ID: "))
            })
            .map(|s| crate::output::sanitize(s.trim()))
            .collect())
    }

    /// Docker before 23 cannot load zstd-compressed layers: say so instead of failing
    /// obscurely.
    fn check_zstd(&self, images: &[ArchiveImage]) -> Result<(), Error> {
        let zstd: Vec<String> = images
            .iter()
            .filter(|i| i.layers.iter().any(|l| l.media_type.contains("zstd")))
            .map(|i| i.name.clone())
            .collect();
        if zstd.is_empty() {
            return Ok(());
        }
        let out = std::process::Command::new(&self.docker)
            .args(["version", "--format", "{{.Server.Version}}"])
            .output();
        let version = out
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if major < 23 {
            return Err(Error::NoZstd {
                version: if version.is_empty() {
                    "version unknown".to_owned()
                } else {
                    version
                },
                images: zstd,
            });
        }
        Ok(())
    }
}
