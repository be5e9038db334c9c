//! The outputs `unpack` was asked for, as each sink's options, built once from the command
//! line (and the config of `-c`); the checks made on them before any work (no directory
//! where a file goes, no output over an input, room for the tars); and the tars written,
//! in the order the sinks are named.

use super::super::UsageError;
use crate::blob_store::BlobStore;
use crate::bundle::reader::BundleReader;
use crate::cli::{CompressArg, UnpackArgs};
use crate::copy::to_archive::Compress;
use crate::docker_archive::ArchiveImage;
use crate::output;
use crate::sinks::{docker_engine, docker_save, k3s, targets};
use std::path::Path;

/// The tar sinks asked for: each one's options, or `None`.
pub(super) struct Outputs {
    /// `--docker-save`.
    pub docker_save: Option<docker_save::Options>,
    /// `--k3s`.
    pub k3s: Option<k3s::Options>,
    /// `--docker`.
    pub docker: Option<docker_engine::Options>,
    /// `-c config`.
    pub targets: Option<targets::Options>,
}

impl Outputs {
    /// The options of every tar sink asked for; `config` is the config of `-c`, loaded.
    pub fn from_args(
        args: &UnpackArgs,
        config: Option<&crate::config::Config>,
    ) -> Result<Outputs, UsageError> {
        let k3s = match args.k3s {
            false => None,
            true => {
                let ctr = match &args.k3s_ctr {
                    Some(cmd) => {
                        let words: Vec<String> =
                            cmd.split_whitespace().map(str::to_owned).collect();
                        if words.is_empty() {
                            return Err(UsageError("--k3s-ctr is empty".into()));
                        }
                        Some(words)
                    }
                    None => None,
                };
                Some(k3s::Options {
                    images_dir: args.k3s_images_dir.clone(),
                    ctr,
                    compress: compression(args).unwrap_or(Compress::Zstd),
                    registries: args.k3s_registries.clone(),
                })
            }
        };
        let targets = match (&args.config, config) {
            (Some(_), Some(config)) => Some(targets::Options {
                dry_run: args.dry_run,
                parallel: targets::Options::parallel_of(config, args.parallel),
                json: args.json,
                space_check: !args.no_space_check,
                output_tar: targets::Options::output_tar_of(config),
            }),
            _ => None,
        };
        Ok(Outputs {
            docker_save: args
                .docker_save
                .clone()
                .map(|path| docker_save::Options::new(path, args.per_image, compression(args))),
            k3s,
            docker: args.docker.then(|| docker_engine::Options {
                docker: args.docker_cmd.clone(),
            }),
            targets,
        })
    }

    /// Whether any output is a tar (and so the images must be checked for one).
    pub fn any_tar(&self) -> bool {
        self.docker_save.is_some()
            || self.k3s.is_some()
            || self.docker.is_some()
            || self.targets.is_some()
    }

    /// Refuses, before any work, an output that is an existing directory where a file is
    /// written (or a file where a directory is), or that would overwrite an input.
    pub fn check(
        &self,
        args: &UnpackArgs,
        reader: &BundleReader,
        bases: &[BundleReader],
    ) -> Result<(), String> {
        let mut inputs = crate::clobber::Inputs::default();
        for p in args.bundle.iter().chain(reader.opened()) {
            inputs.add("the bundle", p);
        }
        for b in bases {
            for p in b.opened() {
                inputs.add("--base", p);
            }
        }
        if let Some(docker_save) = &self.docker_save {
            docker_save.check_output(&inputs)?;
        }
        if let Some(k3s) = &self.k3s {
            inputs.check("--k3s", &k3s.output(reader.path()))?;
        }
        if let Some(receipt) = &args.receipt {
            inputs.check("--receipt", receipt)?;
        }
        if let Some(tar) = self.targets.as_ref().and_then(|t| t.output_tar.as_deref()) {
            crate::clobber::refuse_directory("output_tar", tar, "name a file")?;
            inputs.check("output_tar", tar)?;
        }
        // Per-image tars are named from the images; check them all before writing any.
        if let Some(docker_save) = &self.docker_save {
            docker_save.check_per_image_outputs(&inputs, &reader.index.images)?;
        }
        Ok(())
    }

    /// Refuses, before a tar is written, tars their file system cannot hold
    /// (`--docker-save`, `--k3s`): their size is known from the manifests.
    pub fn check_space(&self, bundle: &Path, images: &[ArchiveImage]) -> Result<(), String> {
        if let Some(docker_save) = &self.docker_save {
            docker_save.check_space(images)?;
        }
        if let Some(k3s) = &self.k3s {
            k3s.check_space(bundle, images)?;
        }
        Ok(())
    }

    /// Writes the tars asked for (`--docker-save`, `--k3s`) and loads `--docker`.
    pub fn write(
        &self,
        store: &BlobStore<'_>,
        images: &[ArchiveImage],
        reader: &BundleReader,
    ) -> anyhow::Result<()> {
        if let Some(docker_save) = &self.docker_save {
            docker_save.write(store, images, &reader.index.images)?;
        }
        if let Some(k3s) = &self.k3s {
            k3s.write(reader.path(), store, images)?;
        }
        if let Some(docker) = &self.docker {
            let loaded = docker.load(store, images)?;
            for l in &loaded {
                output::line(&format!("loaded {l}"));
            }
            output::note(&format!("docker load: {} images", loaded.len()));
        }
        Ok(())
    }
}

/// `--compress` as the sinks' own value.
fn compression(args: &UnpackArgs) -> Option<Compress> {
    args.compress.map(|c| match c {
        CompressArg::None => Compress::None,
        CompressArg::Zstd => Compress::Zstd,
        CompressArg::Gzip => Compress::Gzip,
    })
}
