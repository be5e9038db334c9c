//! Why an image could not be planned: one error per image, so the others go on.

use crate::sources::SourceError;

/// Why an image could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Reading manifests failed.
    #[error("`{image}`: {source}")]
    Source {
        /// The image as the user wrote it.
        image: String,
        /// The cause.
        source: Box<SourceError>,
    },
    /// No child of the index matches the platforms asked for.
    #[error(
        "`{image}` has no manifest for {wanted} (it has: {available}); hint: choose with --platform, or take all with --all-platforms"
    )]
    NoPlatform {
        /// The image.
        image: String,
        /// Platforms asked for.
        wanted: String,
        /// Platforms the index offers.
        available: String,
    },
    /// A manifest that cannot be parsed or carried.
    #[error("`{image}`: {source}")]
    Manifest {
        /// The image.
        image: String,
        /// The cause.
        source: crate::oci::ManifestError,
    },
    /// Unreadable OCI layout or unresolvable reference.
    #[error("`{image}`: {reason}")]
    Input {
        /// The image.
        image: String,
        /// The cause.
        reason: String,
    },
}

impl PlanError {
    /// The error of `request` that reading its source caused.
    pub fn reading(request: &str) -> impl Fn(SourceError) -> PlanError + '_ {
        move |source| PlanError::Source {
            image: request.to_owned(),
            source: Box::new(source),
        }
    }

    /// The source-wide failure behind this error (a registry unreachable, untrusted,
    /// credentials rejected), shared with every other image from that source: report it
    /// once.
    pub fn registry_failure(&self) -> Option<&std::sync::Arc<crate::registry::RegistryError>> {
        match self {
            PlanError::Source { source, .. } => source.shared_failure(),
            _ => None,
        }
    }

    /// The image as the user wrote it.
    pub fn image(&self) -> &str {
        match self {
            PlanError::Source { image, .. }
            | PlanError::NoPlatform { image, .. }
            | PlanError::Manifest { image, .. }
            | PlanError::Input { image, .. } => image,
        }
    }
}
