//! Finding the manifest a request names: the request parsed and its source opened by
//! `location.rs`, the reference resolved by the source.

use super::error::PlanError;
use super::options::PlanOptions;
use crate::location::{ImageRequest, Sources};
use crate::oci::ImageRef;
use crate::sources::{Resolved, Source};
use std::sync::Arc;

/// Where an image's manifests are read, and what its reference resolved to.
pub(super) struct Located {
    /// Where to read the rest.
    pub source: Arc<dyn Source>,
    /// The image as its source names it, its top manifest, and notes.
    pub resolved: Resolved,
    /// The name the user gave it with `… as NAME`.
    pub name: Option<ImageRef>,
}

/// Parses `request`, opens its source and resolves its reference there.
/// `shown` is the request as errors name it (without credentials).
pub(super) async fn locate(
    request: &str,
    shown: &str,
    sources: &Sources<'_>,
    options: &PlanOptions,
) -> Result<Located, PlanError> {
    let parsed = ImageRequest::parse(request).map_err(|e| PlanError::Input {
        image: shown.to_owned(),
        reason: e.to_string(),
    })?;
    let fail = PlanError::reading(shown);
    let source = sources.open(&parsed.source).await.map_err(&fail)?;
    let reference = parsed.source.reference();
    let resolved = source
        .resolve(reference.as_deref(), &options.known)
        .await
        .map_err(&fail)?;
    Ok(Located {
        source,
        resolved,
        name: parsed.name,
    })
}
