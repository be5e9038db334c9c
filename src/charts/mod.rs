//! Helm charts as things to carry, and the images found in what a site installs:
//!
//! - [`repository_index`]: a classic chart repository's `index.yaml`, and the one version
//!   a semver range resolves to;
//! - [`dependencies`]: the dependencies a chart declares and whether it packages them;
//! - [`helm_artifact`]: a chart `.tgz` as the OCI artifact Helm itself pushes (its config
//!   and content media types), so `helm pull oci://` works at the far side;
//! - [`package_folder`]: a chart folder packaged deterministically;
//! - [`package_images`]: the images a package's charts name (values, annotation);
//! - [`values_images`] and [`manifest_images`]: the images a chart's values or rendered
//!   Kubernetes manifests name, each with where it was found.
//!
//! Nothing here renders a template: images that only appear after rendering are found by
//! reading `helm template`'s output as manifests.

pub mod dependencies;
pub mod helm_artifact;
pub mod manifest_images;
pub mod package_folder;
pub mod package_images;
pub mod repository_index;
pub mod values_images;

/// An image named in a chart or a manifest.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FoundImage {
    /// The reference as found (`docker.io/bitnami/redis:7.2`, `nginx@sha256:…`).
    pub reference: String,
    /// Where: `values.yaml: master.image`, `install.yaml #3 Deployment/web container app`.
    pub found_at: String,
}

/// Why a chart or manifest cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// Not YAML, or not the shape expected.
    #[error("`{what}`: {reason}")]
    Invalid {
        /// The file or document.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// No version of a chart satisfies the range.
    #[error(
        "chart `{name}` has no version matching `{range}` in `{repository}` (it has {available})"
    )]
    NoVersion {
        /// Chart name.
        name: String,
        /// The range asked for.
        range: String,
        /// The repository.
        repository: String,
        /// Some versions it has.
        available: String,
    },
}
