//! `report --format html`: one self-contained page (inline CSS and SVG, no script, no
//! network), readable on a phone (tables become cards on narrow screens) and printable
//! (print CSS: no backgrounds needed, rows kept whole). Summary first, then bundles, the
//! charts, the per-image table and the artifacts.

use super::Report;
use super::markdown::bundle_rows;
use super::svg::{esc, sharing, stacked};
use crate::output::bytes;

const STYLE: &str = r#"
:root{--fg:#1b1f24;--mute:#57606a;--line:#d0d7de;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0 auto;max-width:1100px;padding:16px}
h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.2em;margin:1.4em 0 .5em;border-bottom:1px solid var(--line)}
code{font:12px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:8px}
.card{border:1px solid var(--line);border-radius:6px;padding:8px}.card b{display:block;font-size:1.3em}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f6f8fa;overflow-wrap:normal;white-space:nowrap}
.verified{color:var(--ok);font-weight:600}.failed{color:var(--bad);font-weight:600}.not-checked{color:var(--warn)}
.chart{width:100%;height:auto;max-width:760px}.chart .l{font-size:11px;fill:var(--fg)}.chart .v{font-size:11px;fill:var(--mute)}
.chart .c{fill:#0969da}.chart .e{fill:#9ec5fe}
.muted{color:var(--mute)}
@media (max-width:700px){
 table.rows thead{display:none}
 table.rows,table.rows tbody,table.rows tr,table.rows td{display:block;width:100%}
 table.rows tr{border:1px solid var(--line);border-radius:6px;margin:0 0 10px;padding:4px}
 table.rows td{border:0;padding:2px 4px}
 table.rows td::before{content:attr(data-label) ": ";font-weight:600;color:var(--mute)}
}
@media print{
 body{max-width:none;padding:0;font-size:10pt}
 th{background:none}
 tr,.card,svg{break-inside:avoid}
 h2{break-after:avoid}
 a{color:inherit;text-decoration:none}
}
"#;

fn verdict(v: &str) -> String {
    format!(
        "<span class=\"{}\">{}</span>",
        esc(&v.replace(' ', "-")),
        esc(v)
    )
}

/// The report as one HTML page.
pub fn render(r: &Report) -> String {
    let s = &r.summary;
    let mut o = String::new();
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    o.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">");
    o.push_str(&format!(
        "<title>Transfer report: {}</title>",
        esc(&r
            .bundles
            .iter()
            .map(|b| b.name.as_str())
            .collect::<Vec<_>>()
            .join(", "))
    ));
    o.push_str(&format!("<style>{STYLE}</style></head><body>"));
    o.push_str("<h1>Transfer report</h1>");
    o.push_str(&format!(
        "<p class=\"muted\">Made {} by {}, from {}.</p>",
        esc(&r.generated),
        esc(&r.reporter),
        esc(&r
            .bundles
            .iter()
            .map(|b| b.name.as_str())
            .collect::<Vec<_>>()
            .join(", "))
    ));
    o.push_str("<section><h2>Summary</h2><div class=\"cards\">");
    let cards = [
        ("images", s.images.to_string()),
        ("SBOMs", s.sboms.to_string()),
        ("attestations", s.attestations.to_string()),
        ("signatures", s.signatures.to_string()),
        ("signatures verified", s.images_verified.to_string()),
        ("signatures failed", s.images_failed.to_string()),
        ("not checked", s.images_not_checked.to_string()),
        ("carried", bytes(s.carried_bytes)),
        ("already at the far side", bytes(s.external_bytes)),
        ("saved by sharing", bytes(s.saved_by_sharing)),
    ];
    for (k, v) in cards {
        o.push_str(&format!(
            "<div class=\"card\"><b>{}</b>{}</div>",
            esc(&v),
            esc(k)
        ));
    }
    o.push_str("</div>");
    let rows: Vec<(String, u64, u64)> = r
        .images
        .iter()
        .map(|i| (i.reference.clone(), i.carried_bytes, i.external_bytes))
        .collect();
    if !rows.is_empty() {
        o.push_str("<h2>Bytes per image</h2>");
        o.push_str(&stacked(
            "Bytes per image: carried vs already at the far side",
            &rows,
        ));
        o.push_str("<h2>Shared bytes</h2>");
        o.push_str(&sharing(
            s.carried_bytes + s.saved_by_sharing,
            s.carried_bytes,
        ));
    }
    o.push_str("</section>");
    for b in &r.bundles {
        o.push_str(&format!(
            "<section><h2>Bundle <code>{}</code></h2><table><tbody>",
            esc(&b.name)
        ));
        for (k, v) in bundle_rows(b) {
            let v = esc(&v.replace('`', ""));
            o.push_str(&format!("<tr><th>{}</th><td>{v}</td></tr>", esc(k)));
        }
        o.push_str("</tbody></table><table class=\"rows\"><thead><tr><th>file</th><th>size</th><th>sha256</th></tr></thead><tbody>");
        for f in &b.files {
            o.push_str(&format!(
                "<tr><td data-label=\"file\"><code>{}</code></td><td data-label=\"size\">{} ({})</td><td data-label=\"sha256\"><code>{}</code></td></tr>",
                esc(&f.path),
                f.size,
                bytes(f.size),
                f.sha256.hex()
            ));
        }
        o.push_str("</tbody></table></section>");
    }
    o.push_str("<section><h2>Images</h2><table class=\"rows\"><thead><tr><th>image</th><th>digest</th><th>platforms</th><th>size</th><th>source</th><th>destination</th><th>signature</th><th>artifacts</th></tr></thead><tbody>");
    for i in &r.images {
        let arts: Vec<String> = i
            .artifacts
            .iter()
            .map(|a| format!("{} ({})", a.format, bytes(a.size)))
            .collect();
        o.push_str(&format!(
            "<tr><td data-label=\"image\"><code>{}</code></td><td data-label=\"digest\"><code>{}</code></td><td data-label=\"platforms\">{}</td><td data-label=\"size\">{} carried, {} at the far side</td><td data-label=\"source\">{}</td><td data-label=\"destination\"><code>{}</code></td><td data-label=\"signature\">{}{}</td><td data-label=\"artifacts\">{}</td></tr>",
            esc(&i.reference),
            i.digest,
            esc(&match &i.artifact_type {
                Some(t) => format!("artifact: {t}"),
                None => i.platforms.join(", "),
            }),
            bytes(i.carried_bytes),
            bytes(i.external_bytes),
            esc(&i.source),
            esc(&i.destination),
            verdict(&i.signature.verdict),
            i.signature.signer.as_ref().map(|s| format!("<br><code>{}</code>", esc(s))).unwrap_or_default(),
            if arts.is_empty() { "none".to_owned() } else { esc(&arts.join("; ")) }
        ));
    }
    o.push_str("</tbody></table></section>");
    if r.images.iter().any(|i| !i.artifacts.is_empty()) {
        o.push_str("<section><h2>Artifacts</h2><table class=\"rows\"><thead><tr><th>image</th><th>category</th><th>format</th><th>predicate</th><th>digest</th><th>size</th></tr></thead><tbody>");
        for i in &r.images {
            for a in &i.artifacts {
                o.push_str(&format!(
                    "<tr><td data-label=\"image\"><code>{}</code></td><td data-label=\"category\">{}</td><td data-label=\"format\">{}</td><td data-label=\"predicate\">{}</td><td data-label=\"digest\"><code>{}</code></td><td data-label=\"size\">{}{}</td></tr>",
                    esc(&i.reference),
                    format!("{:?}", a.category).to_lowercase(),
                    esc(&a.format),
                    esc(a.predicate_type.as_deref().unwrap_or("—")),
                    a.digest,
                    bytes(a.size),
                    if a.carried { "" } else { " (at the far side)" }
                ));
            }
        }
        o.push_str("</tbody></table></section>");
    }
    o.push_str("</body></html>\n");
    o
}
