//! `outrider plan`: what a pack would carry, from manifests alone (no blob is read):
//! per image its bytes, those already at the far side, those to carry; the volumes.

use super::Outcome;
use super::select::{Resolved, resolve};
use crate::cli::PlanArgs;
use crate::commands::inspect::closure_bytes;
use crate::copy::bundle_layout::layout;
use crate::output;

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ImagePlan<'a> {
    reference: &'a str,
    digest: &'a crate::oci::Digest,
    platforms: Vec<String>,
    /// Every byte the image needs.
    total_bytes: u64,
    /// Bytes the far side already holds.
    already_there_bytes: u64,
    /// Bytes of this image the bundle would store.
    to_carry_bytes: u64,
    /// Signatures, attestations, SBOMs and other referrers found for it.
    artifacts: usize,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    images: Vec<ImagePlan<'a>>,
    /// Bytes the bundle would store (shared blobs once).
    carry_bytes: u64,
    /// Bytes listed as external.
    already_there_bytes: u64,
    volume_size: Option<u64>,
    volumes: u32,
    /// With `--since`: per image new, changed, unchanged or dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<crate::report::diff::Changes>,
}

/// Runs `plan`.
pub async fn run(args: PlanArgs) -> anyhow::Result<Outcome> {
    let Resolved {
        plan, volume_size, ..
    } = resolve(&args.select, false).await?;
    let laid = layout(&plan, std::path::Path::new("bundle.zip"), volume_size, None)?;
    let images = plan
        .images
        .iter()
        .map(|i| {
            let (closure, artifacts) = laid.index.closure_with_artifacts(i);
            let (carried, external) = closure_bytes(&laid.index, &closure);
            ImagePlan {
                reference: &i.reference,
                digest: &i.digest,
                platforms: i.platforms.iter().map(ToString::to_string).collect(),
                total_bytes: carried + external,
                already_there_bytes: external,
                to_carry_bytes: carried,
                artifacts: artifacts.len(),
            }
        })
        .collect();
    let carry = plan.carried_bytes();
    let summary = Summary {
        images,
        carry_bytes: carry,
        already_there_bytes: plan.total_bytes() - carry,
        volume_size,
        volumes: crate::bundle::volumes::total(&laid.segments),
        changes: super::diff::since_changes(&args.select.since, &laid.index)?,
    };
    if args.select.json {
        output::document("plan", &summary);
        return Ok(Outcome::Success);
    }
    let rows: Vec<Vec<String>> = summary
        .images
        .iter()
        .map(|i| {
            vec![
                i.reference.to_owned(),
                output::bytes(i.total_bytes),
                output::bytes(i.already_there_bytes),
                output::bytes(i.to_carry_bytes),
                i.artifacts.to_string(),
            ]
        })
        .collect();
    output::table(
        &["IMAGE", "TOTAL", "ALREADY THERE", "TO CARRY", "ARTIFACTS"],
        &rows,
    );
    if let Some(changes) = &summary.changes {
        output::line("");
        super::diff::print(changes);
    }
    let volumes = match volume_size {
        Some(size) => format!(
            "{} volumes of at most {}",
            summary.volumes,
            output::bytes(size)
        ),
        None => "one bundle".to_owned(),
    };
    output::line(&format!(
        "\nto carry {} ({} already at the far side): {volumes}",
        output::bytes(summary.carry_bytes),
        output::bytes(summary.already_there_bytes)
    ));
    Ok(Outcome::Success)
}
