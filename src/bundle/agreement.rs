//! The manifests decide, not the index. `outrider.json` summarises each manifest (its
//! blobs, its children, whether an index is carried whole, platforms) so that readers need
//! not parse every manifest; this module checks that summary against the manifests'
//! verified bytes, and each platform label against the image's config. An image any of
//! whose checks fails is stopped by every command, and `verify` reports the same faults,
//! so what `verify` passes is exactly what `unpack` acts on.
//!
//! After an image passes, walking the index's summary ([`BundleIndex::closure`]) and
//! walking the manifests give the same manifests and blobs, at the same sizes.

use super::index::{BundleIndex, ImageEntry, ManifestEntry};
use super::reader::BundleReader;
use super::referrers;
pub use super::verified_bytes::Bytes;
use super::verified_bytes::MAX_CONFIG_BYTES;
use crate::oci::{Descriptor, Digest, ParsedManifest, Platform, RawManifest, media_type};
use std::collections::{BTreeSet, HashMap};

/// Remembers each manifest's verdict, so a manifest shared by many images is read and
/// checked once: the checks stay linear in entries.
#[derive(Default)]
pub struct Checked {
    verdicts: HashMap<Digest, Option<String>>,
    /// Verdicts on artifact relations, by (subject, artifact).
    relations: HashMap<(Digest, Digest), Option<String>>,
}

impl Checked {
    /// Records that `digest`'s fault was already reported (its bytes are damaged, say), so
    /// that no image reads or reports it again.
    pub fn already_reported(&mut self, digest: &Digest) {
        self.verdicts.insert(digest.clone(), None);
    }

    /// Faults of one image, each a line naming the manifest or field: every manifest of
    /// its closure and of its artifacts' whose bytes are at hand against the index, every
    /// artifact's relation against its manifest, every platform label against its config,
    /// and the image entry against its manifests. Empty when the image may be acted on.
    pub fn image_faults(
        &mut self,
        index: &BundleIndex,
        image: &ImageEntry,
        bytes: &dyn Bytes,
    ) -> Vec<String> {
        let closure = index.closure(&image.digest);
        let artifacts = index.artifacts_of(&closure.manifests, &image.origin());
        let mut faults: Vec<String> = Vec::new();
        let artifact_manifests = artifacts
            .iter()
            .flat_map(|r| index.closure(&r.digest).manifests);
        for d in closure.manifests.iter().cloned().chain(artifact_manifests) {
            let verdict = self
                .verdicts
                .entry(d.clone())
                .or_insert_with(|| manifest_fault(index, &d, bytes));
            if let Some(f) = verdict
                && !faults.contains(f)
            {
                faults.push(f.clone());
            }
        }
        for r in artifacts {
            let verdict = self
                .relations
                .entry((r.subject.clone(), r.digest.clone()))
                .or_insert_with(|| referrers::fault(r, bytes));
            if let Some(f) = verdict {
                faults.push(f.clone());
            }
        }
        if faults.is_empty()
            && let Some(f) = platforms_fault(index, image, &closure.manifests)
        {
            faults.push(f);
        }
        faults
    }
}

/// Checks a manifest the bundle does not carry, fetched where it is held (the push's
/// destination), against the index's summary of it: the same rule as for carried ones, so
/// the summary of an external manifest is never acted on unchecked. Its config is not read.
pub fn check_fetched(index: &BundleIndex, raw: &RawManifest) -> Result<(), String> {
    struct NotAtHand;
    impl Bytes for NotAtHand {
        fn manifest(&self, _: &Digest) -> Option<Result<RawManifest, String>> {
            None
        }
        fn small_blob(&self, _: &Descriptor) -> Option<Result<Vec<u8>, String>> {
            None
        }
    }
    let entry = index
        .manifest(&raw.digest)
        .ok_or_else(|| format!("manifest {} is not listed", raw.digest))?;
    check_manifest(index, entry, raw, &NotAtHand)
        .map_err(|e| format!("manifest {}: {e}", raw.digest))
}

/// One line for an image stopped by `faults`, with the fix when the faults do not already
/// name one (damaged bytes say "copy the bundle again"; a disagreement means the index
/// was not written by this manifest set).
pub fn refusal(faults: &[String]) -> String {
    let text = faults.join("; ");
    if text.contains("hint:") {
        format!("refused: {text}")
    } else {
        format!(
            "refused: the bundle's index disagrees with its manifests: {text}; hint: run `outrider verify` on the bundle, and pack it again"
        )
    }
}

/// The first disagreement between manifest `digest`'s bytes (when at hand) and the index.
fn manifest_fault(index: &BundleIndex, digest: &Digest, bytes: &dyn Bytes) -> Option<String> {
    let entry = index.manifest(digest)?;
    let raw = match bytes.manifest(digest)? {
        Ok(raw) => raw,
        Err(e) => return Some(format!("manifest {digest}: {e}")),
    };
    check_manifest(index, entry, &raw, bytes)
        .err()
        .map(|e| format!("manifest {digest}: {e}"))
}

fn check_manifest(
    index: &BundleIndex,
    entry: &ManifestEntry,
    raw: &RawManifest,
    bytes: &dyn Bytes,
) -> Result<(), String> {
    if raw.media_type != entry.media_type {
        return Err(format!(
            "the index says media type `{}`, the manifest says `{}`",
            crate::output::sanitize(&entry.media_type),
            crate::output::sanitize(&raw.media_type)
        ));
    }
    if raw.bytes.len() as u64 != entry.size {
        return Err(format!(
            "the index says {} bytes, the manifest has {}",
            entry.size,
            raw.bytes.len()
        ));
    }
    match raw.parse().map_err(|e| e.to_string())? {
        ParsedManifest::Image { config, layers } => {
            let named: Vec<&Descriptor> = std::iter::once(&config).chain(&layers).collect();
            if named.iter().map(|d| &d.digest).ne(entry.blobs.iter()) {
                return Err(format!(
                    "the index lists {} blobs, the manifest names {} others (config and layers must match in order)",
                    entry.blobs.len(),
                    named.len()
                ));
            }
            for d in &named {
                let listed = index.blob(&d.digest).map_or(0, |b| b.size);
                if listed != d.size {
                    return Err(format!(
                        "blob {} is {} bytes in the manifest, {listed} in the index",
                        d.digest, d.size
                    ));
                }
            }
            check_config_platform(entry, &config, bytes)
        }
        ParsedManifest::Index { manifests } => {
            // `children` must be the carried entries of the index, in the index's order.
            let mut rest = manifests.iter();
            for child in &entry.children {
                let Some(e) = rest.by_ref().find(|e| &e.descriptor.digest == child) else {
                    return Err(format!(
                        "the index lists child {child}, which the manifest does not name (or not in that order)"
                    ));
                };
                let c = index
                    .manifest(child)
                    .ok_or_else(|| format!("child {child} is not listed"))?;
                if c.size != e.descriptor.size {
                    return Err(format!(
                        "child {child} is {} bytes in the manifest, {} in the index",
                        e.descriptor.size, c.size
                    ));
                }
                if !e.descriptor.media_type.is_empty() && c.media_type != e.descriptor.media_type {
                    return Err(format!(
                        "child {child} has media type `{}` in the manifest, `{}` in the index",
                        crate::output::sanitize(&e.descriptor.media_type),
                        crate::output::sanitize(&c.media_type)
                    ));
                }
                if let Some(p) = &e.platform
                    && c.platform.as_ref() != Some(p)
                {
                    return Err(format!(
                        "child {child} is {p} in the manifest, {} in the index",
                        c.platform
                            .as_ref()
                            .map_or("unlabelled".into(), ToString::to_string)
                    ));
                }
            }
            let complete = entry.children.len() == manifests.len();
            if entry.complete != Some(complete) {
                return Err(format!(
                    "the index says `complete: {}`, but {} of the manifest's {} children are carried",
                    entry.complete.unwrap_or(false),
                    entry.children.len(),
                    manifests.len()
                ));
            }
            Ok(())
        }
    }
}

/// An image manifest labelled with a platform must run there: its config (when it is an
/// image config and at hand) names the same OS and architecture.
fn check_config_platform(
    entry: &ManifestEntry,
    config: &Descriptor,
    bytes: &dyn Bytes,
) -> Result<(), String> {
    let Some(label) = entry.platform.as_ref().filter(|p| !p.is_unknown()) else {
        return Ok(());
    };
    if !media_type::is_image_config(&config.media_type) {
        return Ok(());
    }
    if config.size > MAX_CONFIG_BYTES {
        return Err(format!(
            "its config {} is {} bytes, too large for an image config",
            config.digest, config.size
        ));
    }
    let Some(read) = bytes.small_blob(config) else {
        return Ok(());
    };
    let json = read.map_err(|e| format!("config {}: {e}", config.digest))?;
    #[derive(serde::Deserialize)]
    struct ConfigPlatform {
        os: Option<String>,
        architecture: Option<String>,
    }
    let found: ConfigPlatform = serde_json::from_slice(&json)
        .map_err(|e| format!("config {} is not an image config: {e}", config.digest))?;
    let (os, arch) = (
        found.os.unwrap_or_default(),
        found.architecture.unwrap_or_default(),
    );
    if os != label.os || arch != label.architecture {
        return Err(format!(
            "the index labels it {label}, its config says {}/{}",
            crate::output::sanitize(&os),
            crate::output::sanitize(&arch)
        ));
    }
    Ok(())
}

/// The image's `platforms` are the labelled image manifests it carries (attestations
/// excluded), and its media type is its top manifest's.
fn platforms_fault(
    index: &BundleIndex,
    image: &ImageEntry,
    manifests: &[Digest],
) -> Option<String> {
    let carried: BTreeSet<&Platform> = manifests
        .iter()
        .filter_map(|d| index.manifest(d))
        .filter(|m| m.children.is_empty() && !media_type::is_index(&m.media_type))
        .filter_map(|m| m.platform.as_ref())
        .filter(|p| !p.is_unknown())
        .collect();
    let listed: BTreeSet<&Platform> = image.platforms.iter().collect();
    (carried != listed).then(|| {
        let show = |s: &BTreeSet<&Platform>| {
            s.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "image `{}`: the index lists platforms [{}], its manifests carry [{}]",
            crate::output::sanitize(&image.reference),
            show(&listed),
            show(&carried)
        )
    })
}

impl Bytes for BundleReader {
    fn manifest(&self, digest: &Digest) -> Option<Result<RawManifest, String>> {
        self.has(digest)
            .then(|| BundleReader::manifest(self, digest).map_err(|e| e.to_string()))
    }

    fn small_blob(&self, desc: &Descriptor) -> Option<Result<Vec<u8>, String>> {
        use std::io::Read;
        self.has(&desc.digest).then(|| {
            let mut buf = Vec::new();
            self.blob_reader(&desc.digest, desc.size)
                .map_err(|e| e.to_string())?
                .take(MAX_CONFIG_BYTES)
                .read_to_end(&mut buf)
                .map_err(|e| e.to_string())?;
            Ok(buf)
        })
    }
}
