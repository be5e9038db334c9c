//! `report --format csv`: one row per image and one per artifact (RFC 4180 quoting), for
//! a spreadsheet. A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first)
//! is written with a leading `'`.

use super::Report;

const HEADER: [&str; 15] = [
    "bundle",
    "row",
    "reference",
    "digest",
    "platforms",
    "source",
    "destination",
    "carried_bytes",
    "external_bytes",
    "signature",
    "signer",
    "artifact_category",
    "artifact_format",
    "artifact_digest",
    "artifact_bytes",
];

/// One cell, quoted when it must be, formula-safe.
fn cell(text: &str) -> String {
    let safe = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if safe.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", safe.replace('"', "\"\""))
    } else {
        safe
    }
}

fn row(cells: &[String]) -> String {
    let mut line = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// The report as CSV.
pub fn render(report: &Report) -> String {
    let mut out = row(&HEADER.map(str::to_owned));
    for i in &report.images {
        let base = [
            i.bundle.clone(),
            "image".to_owned(),
            i.reference.clone(),
            i.digest.to_string(),
            i.platforms.join(" "),
            i.source.clone(),
            i.destination.clone(),
        ];
        let mut r: Vec<String> = base.to_vec();
        r.extend([
            i.carried_bytes.to_string(),
            i.external_bytes.to_string(),
            i.signature.verdict.clone(),
            i.signature.signer.clone().unwrap_or_default(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
        out.push_str(&row(&r));
        for a in &i.artifacts {
            let mut r: Vec<String> = base.to_vec();
            r[1] = "artifact".to_owned();
            r.extend([
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                format!("{:?}", a.category).to_lowercase(),
                a.format.clone(),
                a.digest.to_string(),
                a.size.to_string(),
            ]);
            out.push_str(&row(&r));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_are_quoted_and_formula_safe() {
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(cell("=cmd()"), "'=cmd()");
        assert_eq!(cell("plain"), "plain");
    }
}
