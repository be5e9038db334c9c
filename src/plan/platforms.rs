//! Choosing among an index's children by platform, and learning a single-platform
//! image's platform from its config.

use super::error::PlanError;
use super::options::PlatformChoice;
use crate::oci::Platform;
use crate::oci::manifest::IndexEntry;
use crate::sources::Source;
use bytes::Bytes;

/// Picks index children: all, or the first match per requested platform. Nested
/// indexes below the top (`top` false), the index a digest pin names (`pinned`), and an
/// index of artifacts (no child names a platform: nothing to choose by) are taken whole.
/// Attestation manifests (`unknown/unknown`) are never chosen for a platform.
pub(super) fn choose<'m>(
    choice: &PlatformChoice,
    request: &str,
    manifests: &'m [IndexEntry],
    top: bool,
    pinned: bool,
) -> Result<Vec<&'m IndexEntry>, PlanError> {
    let platformless = !manifests
        .iter()
        .any(|m| m.platform.as_ref().is_some_and(|p| !p.is_unknown()));
    let wanted = match choice {
        PlatformChoice::All => return Ok(manifests.iter().collect()),
        _ if !top || pinned || platformless => {
            return Ok(manifests.iter().collect());
        }
        PlatformChoice::Only(w) => w.as_slice(),
        PlatformChoice::Host(p) => std::slice::from_ref(p),
    };
    let mut chosen: Vec<&IndexEntry> = Vec::new();
    for want in wanted {
        if let Some(m) = manifests.iter().find(|m| {
            m.platform
                .as_ref()
                .is_some_and(|p| !p.is_unknown() && want.matches(p))
        }) && !chosen
            .iter()
            .any(|c| c.descriptor.digest == m.descriptor.digest)
        {
            chosen.push(m);
        }
    }
    if chosen.is_empty() {
        let available = manifests
            .iter()
            .filter_map(|m| m.platform.as_ref())
            .filter(|p| !p.is_unknown())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let wanted = wanted
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        return Err(PlanError::NoPlatform {
            image: request.into(),
            wanted,
            available,
        });
    }
    // Keep the index's own order, so a reduced index lists children as the original did.
    chosen.sort_by_key(|c| {
        manifests
            .iter()
            .position(|m| m.descriptor.digest == c.descriptor.digest)
    });
    Ok(chosen)
}

/// Reads a small config to learn an image manifest's platform; with its bytes, to keep.
pub(super) async fn config_platform(
    source: &dyn Source,
    repo: &str,
    config: &crate::oci::Descriptor,
) -> Option<(Platform, Bytes)> {
    use futures_util::StreamExt;
    if config.size > 1024 * 1024 {
        return None;
    }
    let (mut stream, _) = source.blob(repo, config, 0).await.ok()?;
    let mut bytes = Vec::new();
    let mut verifier = crate::oci::Verifier::new(&config.digest, config.size);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.ok()?;
        verifier.update(&chunk).ok()?;
        bytes.extend_from_slice(&chunk);
    }
    verifier.finish().ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let platform = Platform {
        os: value.get("os")?.as_str()?.to_owned(),
        architecture: value.get("architecture")?.as_str()?.to_owned(),
        variant: value
            .get("variant")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
    };
    Some((platform, bytes.into()))
}
