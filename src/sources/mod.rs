//! Everything `pack` reads images from, one file per source behind one trait
//! ([`Source`], in [`source`]): a registry ([`registry`], over the client in
//! `crate::registry`), an OCI layout directory ([`oci_layout`]), an OCI archive
//! ([`oci_archive`]), a `docker save` tar ([`docker_archive`]) and a docker-charon payload
//! ([`charon`]), a Helm chart ([`chart`]) and a plain file ([`file`]), the last two
//! built as artifacts ([`built`]) and read over the web ([`web`]) when given by URL.
//! `location.rs` parses the user's text and opens one; nothing else
//! knows which kind a source is. Adding a source is one file here and one line in
//! `location.rs`.
//!
//! Below the sources: [`local_files`] (a directory's or a tar's files, read in place),
//! [`local_names`] (how REF picks and names a local image) and [`local_error`].

pub mod built;
pub mod charon;
pub mod chart;
pub mod docker_archive;
pub mod file;
pub mod local_error;
pub mod local_files;
pub mod local_names;
pub mod oci_archive;
pub mod oci_layout;
pub mod registry;
pub mod source;
pub mod web;

pub use source::{BlobStream, Held, Known, Resolved, Source, SourceError};
