//! What lineage refuses (a rollback, an expired bundle) and what it cannot read, as one
//! error type for the module.

use std::path::PathBuf;

/// What lineage refuses, and why.
#[derive(Debug, thiserror::Error)]
pub enum LineageError {
    /// An older (or another equal) sequence than one applied.
    #[error(
        "`{bundle}` is sequence {sequence} of series `{series}`; sequence {applied} was applied on {when} (`{applied_bundle}`): refusing a rollback; --allow-rollback to apply it anyway"
    )]
    Rollback {
        /// The bundle refused.
        bundle: String,
        /// Its sequence.
        sequence: u64,
        /// Its series.
        series: String,
        /// The highest sequence applied.
        applied: u64,
        /// The bundle that was.
        applied_bundle: String,
        /// When.
        when: String,
    },
    /// Past its `expires`.
    #[error(
        "`{bundle}` expired on {expires}: refusing an expired bundle; --allow-expired to apply it anyway"
    )]
    Expired {
        /// The bundle refused.
        bundle: String,
        /// Its expiry.
        expires: String,
    },
    /// An index whose `lineage` no packer writes.
    #[error("the bundle's `lineage` {0}: refusing it")]
    Malformed(String),
    /// A wrong option value.
    #[error("{0}")]
    Usage(String),
    /// Not `YYYY-MM-DDTHH:MM:SSZ`.
    #[error("`{0}` is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)")]
    Time(String),
    /// Not a duration.
    #[error("`{0}` is not a duration: a number and s, m, h, d or w (`30d`)")]
    Duration(String),
    /// A state or counter file that cannot be read.
    #[error("`{path}`: {1}; fix or remove it", path = .0.display())]
    State(PathBuf, String),
    /// A `--since` bundle that cannot be read.
    #[error("--since `{path}`: {1}", path = .0.display())]
    Parent(PathBuf, String),
    /// File I/O.
    #[error("`{path}`: {1}", path = .0.display())]
    Io(PathBuf, std::io::Error),
}
