//! Far-side outputs: where `unpack` (and `deploy`) put a bundle's images. One module per
//! output, each with its own options struct, built once from the command line in
//! `commands/`, so nothing here sees a clap type:
//!
//! - [`registry`]: `--push`, bundle → registry (the push itself is [`crate::copy::to_registry`]).
//! - [`docker_save`]: `--docker-save`, bundle → docker-archive file(s).
//! - [`k3s`]: `--k3s`, bundle → docker-archive in k3s's images folder, `ctr` import, and
//!   `registries.yaml` after a push.
//! - [`docker_engine`]: `--docker`, bundle → docker-archive into `docker load`.
//! - [`targets`]: `-c config`, docker-archive → targets over SSH (or locally).
//! - [`files`]: `--files DIR`, the plain files a bundle carries → DIR, by title.
//! - [`client_configs`]: `--write-client-config`, the nodes' runtime configurations for
//!   where the images now are (after a push, or for `serve`).
//!
//! The tar sinks share two small files: [`archive_images`] (which images go into a tar,
//! checked) and [`tar_file`] (a tar written to a file). There is no common `Sink` trait:
//! the registry takes blobs one at a time, concurrently, while every tar sink takes one
//! sequential stream ([`crate::docker_archive::write`]) and differs only in where the
//! stream goes (a file, a program's stdin, a file then SSH); see README, "Design".

pub mod archive_images;
pub mod client_configs;
pub mod docker_engine;
pub mod docker_save;
pub mod files;
pub mod k3s;
pub mod registry;
pub mod tar_file;
pub mod targets;
