//! What the user chose for a plan: platforms, artifacts, what may be read; and how many
//! questions go to a source at once.

use crate::oci::Platform;
use crate::sources::Known;

/// Which platforms to take from an index.
#[derive(Clone, Debug)]
pub enum PlatformChoice {
    /// Every child, keeping the index byte-exact.
    All,
    /// These platforms (the first matching child for each), as the user named them: a
    /// single-platform image of none of them is an error.
    Only(Vec<Platform>),
    /// This host's platform, the default: chosen from indexes like `Only`, while a
    /// single-platform image is taken whatever its platform, as `docker pull` does.
    Host(Platform),
}

/// Which artifacts `pack` carries.
#[derive(Clone, Debug, Default)]
pub struct ReferrerChoice {
    /// Keep only these artifact types (`--referrers-type`); empty keeps every type.
    pub types: Vec<String>,
}

impl ReferrerChoice {
    /// Whether artifacts of `artifact_type` are carried.
    pub fn wants(&self, artifact_type: &str) -> bool {
        self.types.is_empty() || self.types.iter().any(|t| t == artifact_type)
    }
}

/// How a plan may read.
#[derive(Default)]
pub struct PlanOptions {
    /// Read small configs of single-platform images to learn their platform (a blob GET
    /// each); `outrider plan` reads manifests only.
    pub fetch_configs: bool,
    /// Manifests already at hand (from `--since` bundles), by digest: a tag whose HEAD
    /// answers one of these digests, and a child with one, are not fetched again.
    pub known: Known,
    /// Carry the signatures, attestations, SBOMs and other referrers of every manifest
    /// carried (from sources that keep them), keeping these; `None` carries images only.
    pub referrers: Option<ReferrerChoice>,
}

/// Images resolved at once, and children or artifact subjects of one image fetched at
/// once: each is a few round trips, so this many keep a registry busy while a remote one
/// answers, and stay well under the requests a registry client sends at once.
pub const AT_ONCE: usize = 8;
