//! A client for one registry over the OCI distribution API: manifests as raw bytes with
//! their digest checked, blobs as verified streams, pushes with mount and chunked
//! fallback. Authentication and retries happen inside [`Registry::send`], so every verb
//! gets them.
//!
//! Layers, each file importing only the ones below: the vocabulary (`http`, `stall`,
//! `storage`, `body`, `endpoint`, `access`), then `credentials`, `auth`, `transport`,
//! `error`; then `client` (the [`Registry`] and its `send`); then the files that add its
//! verbs and checks (`origin`, `read`, `push`, `listing`, `diagnose`, `harbor`) and `registries`
//! (the clients of a run). This file only declares and re-exports.

mod access;
pub mod auth;
mod body;
mod client;
pub mod credentials;
mod diagnose;
pub mod endpoint;
mod error;
mod harbor;
pub mod http;
mod limiter;
mod listing;
mod origin;
mod push;
mod read;
mod registries;
pub mod stall;
pub mod storage;
pub mod transport;
pub mod write_rules;

pub use access::Access;
pub use client::Registry;
pub use error::RegistryError;
pub use push::{BodyFactory, MountOutcome};
pub use registries::Registries;
