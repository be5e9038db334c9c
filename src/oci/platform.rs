//! `os/arch[/variant]` platforms and the rule for matching them against an index entry.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A platform as `--platform` and image indexes name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// CPU architecture in GOARCH spelling, e.g. `amd64`.
    pub architecture: String,
    /// CPU variant, e.g. `v8` for arm64, when one is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// A `--platform` value that is not `os/arch[/variant]`, or names no image platform.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// Not `os/arch[/variant]`.
    #[error("`{0}` is not a platform (expected os/arch[/variant], e.g. linux/arm64/v8)")]
    Syntax(String),
    /// `unknown/unknown`: BuildKit's attestation manifests, never an image to run.
    #[error(
        "`{0}` is not an image platform: an index lists BuildKit's attestation manifests (provenance, SBOMs) as unknown/unknown; choose the image's own platform, or carry every child with --all-platforms"
    )]
    Unknown(String),
}

impl Platform {
    /// The platform `docker pull` picks on this host: `linux/<GOARCH of this CPU>`.
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", None),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            other => (other, None),
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: variant.map(Into::into),
        }
    }

    /// Whether an index entry for `other` serves a request for `self`. A request without
    /// a variant takes any variant, and arm64's implied `v8` matches an absent one, as
    /// containerd's platform matcher does.
    pub fn matches(&self, other: &Platform) -> bool {
        if self.os != other.os || self.architecture != other.architecture {
            return false;
        }
        let norm = |v: &Option<String>| match (self.architecture.as_str(), v.as_deref()) {
            ("arm64", Some("v8")) | ("arm64", None) => None,
            (_, v) => v.map(str::to_owned),
        };
        match &self.variant {
            None => true,
            Some(_) => norm(&self.variant) == norm(&other.variant),
        }
    }

    /// Attestation manifests (buildkit provenance, SBOMs) are listed as `unknown/unknown`.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" && self.architecture == "unknown"
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let valid = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| valid(p)) {
            return Err(PlatformError::Syntax(s.to_owned()));
        }
        if parts[0].eq_ignore_ascii_case("unknown") && parts[1].eq_ignore_ascii_case("unknown") {
            return Err(PlatformError::Unknown(s.to_owned()));
        }
        Ok(Platform {
            os: parts[0].to_ascii_lowercase(),
            architecture: parts[1].to_ascii_lowercase(),
            variant: parts.get(2).map(|v| v.to_ascii_lowercase()),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_match() {
        assert_eq!(p("linux/arm64/v8").to_string(), "linux/arm64/v8");
        assert!("linux".parse::<Platform>().is_err());
        assert!(matches!(
            "unknown/unknown".parse::<Platform>(),
            Err(PlatformError::Unknown(_))
        ));
        assert!("linux/amd64/v1/x".parse::<Platform>().is_err());
        assert!(p("linux/arm64").matches(&p("linux/arm64/v8")));
        assert!(p("linux/arm64/v8").matches(&p("linux/arm64")));
        assert!(p("linux/arm").matches(&p("linux/arm/v7")));
        assert!(!p("linux/arm/v6").matches(&p("linux/arm/v7")));
        assert!(!p("linux/amd64").matches(&p("windows/amd64")));
    }
}
