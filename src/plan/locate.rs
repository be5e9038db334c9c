//! Finding the manifest a request names: at a registry (a HEAD first when `--since`
//! bundles hold manifests, so an unchanged tag costs no GET), or in a local layout or
//! `docker save` tar, opened once per file however many images name it.

use super::{PlanError, PlanOptions};
use crate::location::{ImageRequest, Source, SourceError};
use crate::oci::{ImageRef, RawManifest};
use crate::oci_layout::{LocalKind, OciLayout};
use crate::registry::{Access, Registries};
use std::collections::HashMap;
use std::path::Path;

/// Where an image's manifests are read, and its top manifest.
pub(super) struct Located {
    /// Where to read the rest.
    pub source: Source,
    /// The image as its source names it (repository to read from).
    pub image_ref: ImageRef,
    /// The manifest the reference resolved to.
    pub top: RawManifest,
    /// What opening the source made for the user to know (a manifest built for a legacy
    /// `docker save` tar).
    pub notes: Vec<String>,
}

/// The error of `request` that reading its source caused.
pub(super) fn source_error(request: &str) -> impl Fn(SourceError) -> PlanError + '_ {
    move |source| PlanError::Source {
        image: request.to_owned(),
        source: Box::new(source),
    }
}

/// Parses a request, as written by the user.
pub(super) fn parse(request: &str) -> Result<ImageRequest, PlanError> {
    ImageRequest::parse(request).map_err(|e| PlanError::Input {
        image: request.to_owned(),
        reason: e.to_string(),
    })
}

/// Resolves a registry reference to its top manifest.
pub(super) async fn at_registry(
    request: &str,
    r: ImageRef,
    registries: &Registries,
    options: &PlanOptions,
) -> Result<Located, PlanError> {
    let fail = source_error(request);
    let registry = registries
        .get(&r.registry)
        .await
        .map_err(|e| fail(e.into()))?;
    registry
        .ready(&Access::Pull(r.repository.clone()))
        .await
        .map_err(|e| fail(e.into()))?;
    // HEAD first when manifests are at hand: registries count GETs against rate limits,
    // and an unchanged tag needs no GET at all.
    let known = match (&r.digest, options.known.is_empty()) {
        (Some(d), _) => options.known.get(d).cloned(),
        (None, false) => match registry
            .head_manifest(&r.repository, &r.manifest_reference())
            .await
        {
            Ok(Some(d)) => options.known.get(&d).cloned(),
            _ => None,
        },
        (None, true) => None,
    };
    let top = match known {
        Some(m) => m,
        None => registry
            .get_manifest(&r.repository, &r.manifest_reference())
            .await
            .map_err(|e| fail(e.into()))?,
    };
    Ok(Located {
        source: Source::Registry(registry),
        image_ref: r,
        top,
        notes: Vec::new(),
    })
}

/// Resolves a reference in a local layout or tar. `opened` keeps each file's layout, so a
/// tar is scanned once and what a legacy `docker save` tar yields is shared by its images.
pub(super) fn in_layout(
    request: &str,
    kind: LocalKind,
    path: &Path,
    tag: Option<&str>,
    opened: &mut HashMap<String, OciLayout>,
) -> Result<Located, PlanError> {
    let fail = source_error(request);
    let key = format!("{}:{}", kind.prefix(), path.display());
    let layout = match opened.get(&key) {
        Some(l) => l.clone(),
        None => {
            let l = OciLayout::open(kind, path).map_err(|e| fail(e.into()))?;
            opened.insert(key, l.clone());
            l
        }
    };
    let (image_ref, desc) = layout.resolve(tag).map_err(|e| fail(e.into()))?;
    let top = layout.manifest(&desc).map_err(|e| fail(e.into()))?;
    let notes = std::mem::take(&mut layout.made.write().unwrap_or_else(|e| e.into_inner()).notes);
    Ok(Located {
        source: Source::Layout(layout),
        image_ref,
        top,
        notes,
    })
}
