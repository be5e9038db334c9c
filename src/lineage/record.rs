//! The lineage and packing fields of the bundle index (`lineage`, `packedWith`), as serde
//! types. They live here, below the index that holds them, so the far side's checks
//! (this module's `state`) and the index share one definition. Specified in
//! bundle-format.md ("Lineage"); change both together.

use crate::oci::Digest;
use serde::{Deserialize, Serialize};

/// What a bundle was built against and where it stands in its series. The whole object is
/// inside `outrider.json`, so a bundle's signature covers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lineage {
    /// The series this bundle belongs to (`pack --series`, by default the signing key's
    /// fingerprint); absent for an unsigned bundle packed without `--series`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Its place in the series, from 1; present exactly when `series` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// When it was packed, UTC, RFC 3339 to the second (`2026-12-06T07:00:00Z`).
    pub created: String,
    /// After this time (UTC, RFC 3339) the far side refuses it (`pack --expires`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The `--since` bundles and receipts it was built against, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<Parent>,
}

/// One bundle or receipt a bundle was packed against (`pack --since`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parent {
    /// `bundle` or `receipt`.
    pub kind: ParentKind,
    /// Its file name as given (no directory).
    pub name: String,
    /// For a receipt, the sha256 of the file; for a bundle, its identity: the sha256 of its
    /// `outrider.json` entry, or for a volume set its `volume.bundle`.
    pub digest: Digest,
    /// The parent bundle's series, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// The parent bundle's sequence in that series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
}

/// What a parent is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParentKind {
    /// An earlier bundle.
    Bundle,
    /// A receipt of what the destination held.
    Receipt,
}

/// The options that shaped a bundle, recorded for the approver's report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackedWith {
    /// `--platform` values as given (empty: the default, this host's, or `allPlatforms`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
    /// `--all-platforms`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_platforms: bool,
    /// `false` with `--no-referrers`.
    pub referrers: bool,
    /// `--referrers-type` values (empty: every type).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub referrers_types: Vec<String>,
}

/// The lineage and options a pack records in its index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    /// The `lineage` field.
    pub lineage: Lineage,
    /// The `packedWith` field.
    pub packed_with: PackedWith,
}
