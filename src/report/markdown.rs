//! `report --format md`: the summary first, then each bundle (files, signature,
//! lineage, options), then the per-image table and the artifacts.

use super::Report;
use super::model::BundleFacts;
use crate::output::bytes;

/// Text safe in a Markdown table cell: no pipes, no line breaks, no control characters,
/// and no markup — a value from a bundle (`![x](https://…)`, `<img …>`) must not become a
/// link, an image a viewer fetches, or HTML.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in crate::output::sanitize(text).chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '<' | '>' | '!' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn or_none(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "—".to_owned(), md)
}

/// The lines shared by the Markdown and HTML renderers: a bundle's facts as (label,
/// value) pairs.
pub fn bundle_rows(b: &BundleFacts) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        (
            "signature",
            match &b.signature.signer {
                Some(s) => format!(
                    "signed by {s}: {}{}",
                    b.signature.verdict,
                    b.signature
                        .trusted_key
                        .as_ref()
                        .map(|k| format!(" (`{k}`)"))
                        .unwrap_or_default()
                ),
                None => b.signature.verdict.clone(),
            },
        ),
        ("written by", b.tool.clone()),
        ("format version", b.format_version.to_string()),
        (
            "created",
            b.created.clone().unwrap_or_else(|| "not recorded".into()),
        ),
    ];
    if let Some(s) = &b.series {
        rows.push((
            "series",
            format!(
                "`{s}`, sequence {}",
                b.sequence.map_or_else(|| "—".into(), |n| n.to_string())
            ),
        ));
    }
    if let Some(e) = &b.expires {
        rows.push(("expires", e.clone()));
    }
    let parents = if b.parents.is_empty() {
        "none (a full bundle, or not recorded)".to_owned()
    } else {
        b.parents
            .iter()
            .map(|p| {
                format!(
                    "{} `{}` ({}{})",
                    if matches!(p.kind, crate::lineage::ParentKind::Bundle) {
                        "bundle"
                    } else {
                        "receipt"
                    },
                    p.name,
                    p.digest,
                    p.sequence
                        .map(|n| format!(", sequence {n}"))
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    rows.push(("built on", parents));
    rows.push((
        "options",
        match &b.packed_with {
            Some(p) => format!(
                "platforms: {}; referrers: {}",
                if p.all_platforms {
                    "all".to_owned()
                } else if p.platforms.is_empty() {
                    "default (the packing host's)".to_owned()
                } else {
                    p.platforms.join(", ")
                },
                if !p.referrers {
                    "none".to_owned()
                } else if p.referrers_types.is_empty() {
                    "all types".to_owned()
                } else {
                    p.referrers_types.join(", ")
                }
            ),
            None => "not recorded".into(),
        },
    ));
    rows.push((
        "bytes",
        format!(
            "{} carried, {} already at the far side, {} saved by sharing",
            bytes(b.carried_bytes),
            bytes(b.external_bytes),
            bytes(b.saved_by_sharing)
        ),
    ));
    if !b.missing_volumes.is_empty() {
        rows.push(("missing", b.missing_volumes.join(", ")));
    }
    rows
}

/// The report as Markdown.
pub fn render(r: &Report) -> String {
    let s = &r.summary;
    let mut o = String::new();
    o.push_str("# Transfer report\n\n");
    o.push_str(&format!(
        "{} bundles, {} images, {} artifacts ({} SBOMs, {} attestations, {} signatures). \
         Image signatures: {} verified, {} failed, {} not checked. \
         {} carried, {} already at the far side, {} saved by sharing; {} on disk.\n\n\
         Made {} by {}.\n\n",
        s.bundles,
        s.images,
        s.artifacts,
        s.sboms,
        s.attestations,
        s.signatures,
        s.images_verified,
        s.images_failed,
        s.images_not_checked,
        bytes(s.carried_bytes),
        bytes(s.external_bytes),
        bytes(s.saved_by_sharing),
        bytes(s.file_bytes),
        r.generated,
        r.reporter
    ));
    for b in &r.bundles {
        o.push_str(&format!(
            "## Bundle `{}`\n\n| | |\n|---|---|\n",
            md(&b.name)
        ));
        for (k, v) in bundle_rows(b) {
            o.push_str(&format!("| {k} | {} |\n", md(&v)));
        }
        o.push_str("\n| file | size | sha256 |\n|---|---:|---|\n");
        for f in &b.files {
            o.push_str(&format!(
                "| `{}` | {} | `{}` |\n",
                md(&f.path),
                f.size,
                f.sha256.hex()
            ));
        }
        o.push('\n');
    }
    o.push_str("## Images\n\n| image | digest | platforms | size | source | destination | signature | signer | artifacts |\n|---|---|---|---:|---|---|---|---|---|\n");
    for i in &r.images {
        let arts: Vec<String> = i
            .artifacts
            .iter()
            .map(|a| {
                format!(
                    "{} ({}, {})",
                    a.format,
                    format!("{:?}", a.category).to_lowercase(),
                    bytes(a.size)
                )
            })
            .collect();
        o.push_str(&format!(
            "| `{}` | `{}` | {} | {} carried, {} at the far side | {} | `{}` | {} | {} | {} |\n",
            md(&i.reference),
            i.digest,
            match &i.artifact_type {
                Some(t) => format!("artifact: {}", md(t)),
                None => i.platforms.join(", "),
            },
            bytes(i.carried_bytes),
            bytes(i.external_bytes),
            md(&i.source),
            md(&i.destination),
            md(&i.signature.verdict),
            or_none(&i.signature.signer),
            if arts.is_empty() {
                "none".to_owned()
            } else {
                md(&arts.join("; "))
            }
        ));
    }
    let any = r.images.iter().any(|i| !i.artifacts.is_empty());
    if any {
        o.push_str("\n## Artifacts\n\n| image | category | format | predicate | digest | size | carried |\n|---|---|---|---|---|---:|---|\n");
        for i in &r.images {
            for a in &i.artifacts {
                o.push_str(&format!(
                    "| `{}` | {} | {} | {} | `{}` | {} | {} |\n",
                    md(&i.reference),
                    format!("{:?}", a.category).to_lowercase(),
                    md(&a.format),
                    or_none(&a.predicate_type),
                    a.digest,
                    a.size,
                    if a.carried { "yes" } else { "at the far side" }
                ));
            }
        }
    }
    o
}
