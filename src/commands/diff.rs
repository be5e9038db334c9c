//! `outrider diff OLD NEW`: what changed between two bundles (images new, changed old →
//! new digest, unchanged, dropped; tags moved; bytes added), and the same list for
//! `plan --since` and `pack --since` against the bundles and receipts given.

use super::Outcome;
use crate::bundle::index::BundleIndex;
use crate::bundle::reader::BundleReader;
use crate::cli::DiffArgs;
use crate::output;
use crate::report::diff::{Changes, Older, between};
use crate::trust::TrustedKeys;
use std::path::PathBuf;

const HEADER: [&str; 5] = ["CHANGE", "IMAGE", "OLD", "NEW", "ADDED"];

/// Runs `diff`.
pub fn run(args: DiffArgs) -> anyhow::Result<Outcome> {
    let old = BundleReader::open(&args.old, &TrustedKeys::none())?;
    let new = BundleReader::open(&args.new, &TrustedKeys::none())?;
    let mut older = Older::default();
    older.add_bundle(&old.index);
    let changes = between(&older, &new.index);
    if args.json {
        output::document(
            "diff",
            &serde_json::json!({
                "old": args.old, "new": args.new, "changes": changes,
            }),
        );
    } else {
        print(&changes);
    }
    Ok(Outcome::Success)
}

/// The table and the totals line.
pub fn print(changes: &Changes) {
    output::table(&HEADER, &changes.rows());
    output::line(&changes.line());
}

/// The changes from the `--since` bundles and receipts to `index`; `None` without any.
pub fn since_changes(since: &[PathBuf], index: &BundleIndex) -> anyhow::Result<Option<Changes>> {
    if since.is_empty() {
        return Ok(None);
    }
    let mut older = Older::default();
    for path in since {
        let mut magic = [0u8; 2];
        let is_zip = std::io::Read::read_exact(&mut fs_err::File::open(path)?, &mut magic).is_ok()
            && &magic == b"PK";
        if is_zip {
            older.add_bundle(&BundleReader::open(path, &TrustedKeys::none())?.index);
        } else {
            older.add_receipt(&crate::receipt::Receipt::load(path)?);
        }
    }
    Ok(Some(between(&older, index)))
}

/// For `plan`/`pack --since` without `--json`: the change list after the table.
pub fn print_since(since: &[PathBuf], index: &BundleIndex) -> anyhow::Result<()> {
    if let Some(changes) = since_changes(since, index)? {
        output::line("");
        print(&changes);
    }
    Ok(())
}
