//! Inline SVG bar charts for the HTML report: no script, no external asset, scaled by
//! `viewBox` so they fit a phone and print crisply.

use crate::output::bytes;

/// `text` escaped for XML and HTML.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in crate::output::sanitize(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const WIDTH: u64 = 600;
const LABEL: u64 = 220;
const ROW: u64 = 26;

/// One stacked bar per row: carried (dark) then already at the far side (light), scaled
/// to the largest row. Rows are `(label, carried, external)`.
pub fn stacked(title: &str, rows: &[(String, u64, u64)]) -> String {
    let max = rows.iter().map(|(_, c, e)| c + e).max().unwrap_or(0).max(1);
    let span = WIDTH - LABEL - 80;
    let height = ROW * rows.len() as u64 + 34;
    let mut s = format!(
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {WIDTH} {height}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>",
        esc(title)
    );
    for (n, (label, carried, external)) in rows.iter().enumerate() {
        let y = ROW * n as u64 + 4;
        let wc = carried * span / max;
        let we = external * span / max;
        let short: String = label
            .chars()
            .rev()
            .take(34)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"l\">{}</text>",
            LABEL - 6,
            y + 15,
            esc(&short)
        ));
        s.push_str(&format!(
            "<rect x=\"{LABEL}\" y=\"{y}\" width=\"{wc}\" height=\"18\" class=\"c\"><title>{} carried</title></rect>",
            bytes(*carried)
        ));
        s.push_str(&format!(
            "<rect x=\"{}\" y=\"{y}\" width=\"{we}\" height=\"18\" class=\"e\"><title>{} already at the far side</title></rect>",
            LABEL + wc,
            bytes(*external)
        ));
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" class=\"v\">{}</text>",
            LABEL + wc + we + 4,
            y + 14,
            bytes(carried + external)
        ));
    }
    let y = ROW * rows.len() as u64 + 10;
    s.push_str(&format!(
        "<rect x=\"{LABEL}\" y=\"{y}\" width=\"12\" height=\"12\" class=\"c\"/><text x=\"{}\" y=\"{}\" class=\"l\">carried</text><rect x=\"{}\" y=\"{y}\" width=\"12\" height=\"12\" class=\"e\"/><text x=\"{}\" y=\"{}\" class=\"l\">already at the far side</text></svg>",
        LABEL + 16,
        y + 11,
        LABEL + 90,
        LABEL + 106,
        y + 11
    ));
    s
}

/// One bar: what the images need in all, split into what is stored and what sharing saved.
pub fn sharing(images_bytes: u64, stored: u64) -> String {
    let saved = images_bytes.saturating_sub(stored);
    stacked(
        "Bytes stored vs saved by sharing",
        &[("images, each counted whole".to_owned(), stored, saved)],
    )
    .replace("already at the far side</text>", "saved by sharing</text>")
    .replace(
        "already at the far side</title>",
        "saved by sharing</title>",
    )
    .replace(" carried</title>", " stored once</title>")
    .replace(">carried</text>", ">stored</text>")
}
