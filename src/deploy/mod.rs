//! Deploying a docker-save tar to many targets: `-c config` = docker-archive → targets.
//! Per target: connect (host key checked), upload unless the same bytes are already there,
//! run the plugin's steps; targets run in parallel and one failing does not stop the others.
//! Every step is bounded by a timeout (see [`ssh`]), and a failed upload never leaves a
//! partial file under the final name (see [`upload`]).
//!
//! Layers, each file importing only the ones below: `command` (quoting), `target` and
//! `ssh_error` (what the config names, what can fail); `handler` (host keys) and `auth`
//! (login); `ssh` (sessions) and `plugins`; `upload`; `plan` (the run); `preflight`
//! (every target checked first). This file only declares and re-exports.

mod auth;
pub mod command;
mod handler;
mod plan;
pub mod plugins;
mod preflight;
pub mod ssh;
mod ssh_error;
mod target;
mod upload;

pub use plan::{DeployPlan, TargetReport};
pub use preflight::Checked;
