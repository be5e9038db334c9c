//! The copy routines: they own concurrency and verification; locations stay simple.
//! `pack` is source → bundle ([`to_bundle`]); `unpack --push` is bundle → registry
//! ([`to_registry`]); the tars are bundle → docker-archive ([`to_archive`]). What is
//! specific to each far-side output (its options, checks and reports) is its sink's, in
//! `crate::sinks`.

mod blob_fetch;
mod blob_upload;
pub mod bundle_layout;
pub mod journal;
mod landing_order;
mod pack_error;
mod push_external;
pub mod push_plan;
pub mod push_preview;
pub mod push_referrers;
pub mod to_archive;
pub mod to_bundle;
pub mod to_registry;

/// Default number of blobs moved at once.
pub const DEFAULT_JOBS: usize = 4;
