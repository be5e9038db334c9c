//! `outrider inspect`: what a bundle holds, per image and in total, and the bytes saved by
//! storing shared blobs once.

use super::Outcome;
use crate::bundle::index::{BundleIndex, Closure, ReferrerEntry};
use crate::bundle::reader::BundleReader;
use crate::bundle::volume_set::held_by;
use crate::cli::InspectArgs;
use crate::oci::Digest;
use crate::output;

/// Bytes of every blob and manifest of `closure`: (carried in the bundle, external). An
/// image's figures use [`BundleIndex::closure_with_artifacts`]: a push sends its artifacts
/// with it.
pub fn closure_bytes(index: &BundleIndex, closure: &Closure) -> (u64, u64) {
    let (mut carried, mut external) = (0u64, 0u64);
    for d in closure.manifests.iter().chain(closure.blobs.iter()) {
        let size = index.size_of(d).unwrap_or(0);
        if index.carries(d) {
            carried = carried.saturating_add(size);
        } else {
            external = external.saturating_add(size);
        }
    }
    (carried, external)
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    /// The bundle's signature: `{signed, signer, checked, trustedKey}`.
    signature: serde_json::Value,
    format_version: u32,
    tool: &'a str,
    images: Vec<ImageSummary<'a>>,
    blobs: usize,
    manifests: usize,
    /// Bytes stored in this file (blobs and manifests).
    stored_bytes: u64,
    /// Bytes listed as external: held by the far side, not stored.
    external_bytes: u64,
    /// Sum over images of the bytes each needs from this file.
    images_bytes: u64,
    /// What storing shared blobs once saved.
    saved_by_sharing: u64,
    /// For a volume of a set: what this file holds (the figures above are the set's).
    #[serde(skip_serializing_if = "Option::is_none")]
    volume: Option<VolumeSummary<'a>>,
}

/// One volume of a set: its place and what it holds, beside the set's totals.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct VolumeSummary<'a> {
    number: u32,
    total: u32,
    /// Bytes of the entries this file holds: whole blobs and manifests, and parts.
    bytes: u64,
    /// Whole blobs it holds.
    blobs: usize,
    /// Whole manifests it holds.
    manifests: usize,
    /// Parts of blobs cut into parts.
    parts: Vec<PartSummary<'a>>,
}

/// A part of a blob cut into parts, held by the volume inspected.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PartSummary<'a> {
    /// The blob it is part of.
    blob: &'a Digest,
    number: u32,
    count: u32,
    size: u64,
}

impl<'a> VolumeSummary<'a> {
    fn of(index: &'a BundleIndex) -> Option<VolumeSummary<'a>> {
        let number = index.volume.as_ref()?.number;
        let held = held_by(index, number)?;
        Some(VolumeSummary {
            number,
            total: held.total,
            bytes: held.bytes,
            blobs: held.blobs,
            manifests: held.manifests,
            parts: held
                .parts
                .into_iter()
                .map(|(blob, p)| PartSummary {
                    blob,
                    number: p.number,
                    count: p.count,
                    size: p.size,
                })
                .collect(),
        })
    }

    /// One line: the volume, and what this file holds.
    fn describe(&self, path: &std::path::Path) -> String {
        let parts = self
            .parts
            .iter()
            .map(|p| {
                format!(
                    "; part {} of {} of blob {} ({})",
                    p.number,
                    p.count,
                    p.blob,
                    output::bytes(p.size)
                )
            })
            .collect::<String>();
        format!(
            "volume {} of {} (`{}`) holds {}: {} whole blobs, {} manifests{parts}",
            self.number,
            self.total,
            path.display(),
            output::bytes(self.bytes),
            self.blobs,
            self.manifests,
        )
    }
}

/// One image as `inspect --json` and `pack --json` show it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSummary<'a> {
    reference: &'a str,
    digest: &'a Digest,
    media_type: &'a str,
    /// `os/arch[/variant]`, one per platform carried.
    platforms: Vec<String>,
    /// For an artifact (a Helm chart, an SBOM…) rather than an image: its artifact type.
    /// Tars leave it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_type: Option<String>,
    source: &'a str,
    /// Bytes of this image stored in the bundle.
    bytes: u64,
    /// Bytes of this image the far side already holds.
    external_bytes: u64,
    /// Its signatures, attestations, SBOMs and other referrers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    artifacts: Vec<ArtifactSummary<'a>>,
}

/// One artifact of an image.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactSummary<'a> {
    /// `signature`, `attestation`, `sbom` (cosign's tags) or `referrer` (OCI 1.1).
    kind: &'static str,
    artifact_type: &'a str,
    digest: &'a Digest,
    /// The manifest it describes.
    subject: &'a Digest,
    /// cosign's tag for it, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'a str>,
    /// Bytes of its manifest and blobs.
    size: u64,
}

/// An image's artifacts (as [`BundleIndex::closure_with_artifacts`] lists them, subjects
/// before their artifacts), each with the bytes of its own manifests and blobs.
fn artifact_summaries<'a>(
    index: &'a BundleIndex,
    artifacts: Vec<&'a ReferrerEntry>,
) -> Vec<ArtifactSummary<'a>> {
    artifacts
        .into_iter()
        .map(|r| {
            let (carried, external) = closure_bytes(index, &index.closure(&r.digest));
            let size = carried.saturating_add(external);
            ArtifactSummary {
                kind: crate::bundle::referrers::kind(r),
                artifact_type: &r.artifact_type,
                digest: &r.digest,
                subject: &r.subject,
                tag: r.tag.as_deref(),
                size,
            }
        })
        .collect()
}

/// Every image of an index, with its bytes; `read` gives manifests' verified bytes, to
/// tell artifacts from images.
pub fn image_summaries(
    index: &BundleIndex,
    read: impl Fn(&Digest) -> Result<crate::oci::RawManifest, String>,
) -> Vec<ImageSummary<'_>> {
    index
        .images
        .iter()
        .map(|i| {
            let artifact_type =
                crate::bundle::image_kind::artifact_kind(index, i, &read).unwrap_or(None);
            let (closure, artifacts) = index.closure_with_artifacts(i);
            let (bytes, external_bytes) = closure_bytes(index, &closure);
            ImageSummary {
                reference: &i.reference,
                digest: &i.digest,
                media_type: &i.media_type,
                platforms: i.platforms.iter().map(ToString::to_string).collect(),
                artifact_type,
                source: &i.source,
                bytes,
                external_bytes,
                artifacts: artifact_summaries(index, artifacts),
            }
        })
        .collect()
}

/// Runs `inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<Outcome> {
    let trusted = args.trust.load()?;
    let mut reader = BundleReader::open(&args.bundle, &trusted)?;
    super::report::only_images(&mut reader.index.images, &args.images)?;
    if let Some(dir) = &args.extract_artifacts {
        return super::report::extract_artifacts(&reader, dir, args.json);
    }
    let index = &reader.index;
    let images = image_summaries(index, |d| reader.manifest(d).map_err(|e| e.to_string()));
    let sizes = index
        .blobs
        .iter()
        .map(|b| (b.size, b.entry.is_some()))
        .chain(index.manifests.iter().map(|m| (m.size, m.entry.is_some())));
    let (stored, external) = sizes.fold((0u64, 0u64), |(s, e), (size, carried)| {
        if carried {
            (s.saturating_add(size), e)
        } else {
            (s, e.saturating_add(size))
        }
    });
    let images_bytes = images
        .iter()
        .fold(0u64, |sum, i| sum.saturating_add(i.bytes));
    let summary = Summary {
        signature: reader.seal().to_json(),
        format_version: index.format_version,
        tool: &index.tool,
        blobs: index.blobs.len(),
        manifests: index.manifests.len(),
        stored_bytes: stored,
        external_bytes: external,
        images_bytes,
        saved_by_sharing: images_bytes.saturating_sub(stored),
        images,
        volume: VolumeSummary::of(index),
    };
    if args.json {
        output::document("inspect", &summary);
        return Ok(Outcome::Success);
    }
    let rows: Vec<Vec<String>> = summary
        .images
        .iter()
        .map(|i| {
            vec![
                i.reference.to_owned(),
                i.digest.short().to_owned(),
                match &i.artifact_type {
                    Some(t) => format!("artifact: {t}"),
                    None => i.platforms.join(","),
                },
                output::bytes(i.bytes),
                output::bytes(i.external_bytes),
                i.source.to_owned(),
            ]
        })
        .collect();
    output::table(
        &[
            "IMAGE",
            "DIGEST",
            "PLATFORMS",
            "CARRIED",
            "EXTERNAL",
            "SOURCE",
        ],
        &rows,
    );
    let artifact_rows: Vec<Vec<String>> = summary
        .images
        .iter()
        .flat_map(|i| {
            i.artifacts.iter().map(|a| {
                vec![
                    i.reference.to_owned(),
                    a.kind.to_owned(),
                    a.artifact_type.to_owned(),
                    a.digest.short().to_owned(),
                    if a.subject == i.digest {
                        "image".to_owned()
                    } else {
                        a.subject.short().to_owned()
                    },
                    output::bytes(a.size),
                ]
            })
        })
        .collect();
    if !artifact_rows.is_empty() {
        output::line("");
        output::table(
            &["IMAGE", "ARTIFACT", "ARTIFACT TYPE", "DIGEST", "OF", "SIZE"],
            &artifact_rows,
        );
    }
    output::line(&format!("\nsignature: {}", reader.seal().describe()));
    if let Some(v) = &summary.volume {
        output::line(&v.describe(reader.path()));
    }
    output::line(&format!(
        "{}{} images, {} blobs, {} manifests; carried {}, external (already at the far side) {}, saved by sharing {} ({})",
        if summary.volume.is_some() {
            "the whole set: "
        } else {
            ""
        },
        summary.images.len(),
        summary.blobs,
        summary.manifests,
        output::bytes(stored),
        output::bytes(external),
        output::bytes(summary.saved_by_sharing),
        summary.tool
    ));
    Ok(Outcome::Success)
}
