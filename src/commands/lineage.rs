//! The lineage calls the commands make: `pack` decides its series, sequence, expiry and
//! parents before fetching and commits the counter after writing. (The far side's check
//! is `LineageArgs::admit`, which `serve` calls too.)

use super::UsageError;
use crate::cli::PackArgs;
use crate::lineage::{LineageError, PackLineage, PackRequest, PackedWith};
use crate::output;
use crate::trust::BundleSigner;

/// A refusal as one line (exit 1), or a usage error (exit 2) for a bad option value.
fn to_anyhow(e: LineageError) -> anyhow::Error {
    match e {
        LineageError::Usage(_) | LineageError::Duration(_) => UsageError(e.to_string()).into(),
        e => anyhow::anyhow!(e.to_string()),
    }
}

/// The lineage `pack` records, decided before anything is fetched.
pub fn for_pack(
    args: &PackArgs,
    signer: Option<&BundleSigner>,
) -> anyhow::Result<Option<PackLineage>> {
    let s = &args.select;
    PackLineage::start(&PackRequest {
        series: args.lineage.series.as_deref(),
        sequence: args.lineage.sequence,
        expires: args.lineage.expires.as_deref(),
        signer: signer.map(BundleSigner::fingerprint),
        since: &s.since,
        output: &args.output,
        packed_with: PackedWith {
            platforms: s.platforms.clone(),
            all_platforms: s.all_platforms,
            referrers: !s.no_referrers,
            referrers_types: s.referrers_types.clone(),
        },
        resuming: !args.no_resume && crate::copy::journal::path_for(&args.output).exists(),
    })
    .map_err(to_anyhow)
}

/// After the bundle is written: the counter moves on, and a note says where it stands.
pub fn commit(lineage: Option<&PackLineage>) -> anyhow::Result<()> {
    if let Some(l) = lineage {
        output::note(&l.commit().map_err(to_anyhow)?);
    }
    Ok(())
}
