//! `outrider inspect`: what a bundle holds, per image and in total, and the bytes saved by
//! storing shared blobs once.

use super::Outcome;
use crate::bundle::index::BundleIndex;
use crate::bundle::reader::BundleReader;
use crate::cli::InspectArgs;
use crate::oci::Digest;
use crate::output;
use std::collections::BTreeSet;

/// Bytes of every blob and manifest an image needs from the bundle.
pub fn image_bytes(index: &BundleIndex, top: &Digest) -> u64 {
    let mut seen = BTreeSet::new();
    let mut stack = vec![top.clone()];
    let mut total = 0;
    while let Some(d) = stack.pop() {
        if !seen.insert(d.clone()) {
            continue;
        }
        if let Some(m) = index.manifest(&d) {
            total += m.size;
            stack.extend(m.children.iter().cloned());
            stack.extend(m.blobs.iter().cloned());
        } else if let Some(b) = index.blob(&d) {
            total += b.size;
        }
    }
    total
}

#[derive(serde::Serialize)]
struct Summary<'a> {
    format_version: u32,
    tool: &'a str,
    images: Vec<ImageSummary<'a>>,
    blobs: usize,
    manifests: usize,
    stored_bytes: u64,
    images_bytes: u64,
    saved_by_sharing: u64,
}

#[derive(serde::Serialize)]
struct ImageSummary<'a> {
    reference: &'a str,
    digest: &'a Digest,
    media_type: &'a str,
    platforms: Vec<String>,
    source: &'a str,
    bytes: u64,
}

/// Runs `inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<Outcome> {
    let reader = BundleReader::open(&args.bundle)?;
    let index = &reader.index;
    let images: Vec<ImageSummary> = index
        .images
        .iter()
        .map(|i| ImageSummary {
            reference: &i.reference,
            digest: &i.digest,
            media_type: &i.media_type,
            platforms: i.platforms.iter().map(ToString::to_string).collect(),
            source: &i.source,
            bytes: image_bytes(index, &i.digest),
        })
        .collect();
    let stored = index.blobs.iter().map(|b| b.size).sum::<u64>()
        + index.manifests.iter().map(|m| m.size).sum::<u64>();
    let images_bytes = images.iter().map(|i| i.bytes).sum::<u64>();
    let summary = Summary {
        format_version: index.format_version,
        tool: &index.tool,
        blobs: index.blobs.len(),
        manifests: index.manifests.len(),
        stored_bytes: stored,
        images_bytes,
        saved_by_sharing: images_bytes.saturating_sub(stored),
        images,
    };
    if args.json {
        output::json(&summary);
        return Ok(Outcome::Success);
    }
    let rows: Vec<Vec<String>> = summary
        .images
        .iter()
        .map(|i| {
            vec![
                i.reference.to_owned(),
                i.digest.short().to_owned(),
                i.platforms.join(","),
                output::bytes(i.bytes),
                i.source.to_owned(),
            ]
        })
        .collect();
    output::table(&["IMAGE", "DIGEST", "PLATFORMS", "SIZE", "SOURCE"], &rows);
    output::line(&format!(
        "\n{} images, {} blobs, {} manifests; stored {}, images total {}, saved by sharing {} ({})",
        summary.images.len(),
        summary.blobs,
        summary.manifests,
        output::bytes(stored),
        output::bytes(images_bytes),
        output::bytes(summary.saved_by_sharing),
        summary.tool
    ));
    Ok(Outcome::Success)
}
