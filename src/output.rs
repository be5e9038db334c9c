//! Everything written to stdout (results, tables, JSON) and the rendering of errors on
//! stderr. Text that came from a bundle, a registry or a remote host passes through
//! [`sanitize`] first, so a crafted name cannot move the cursor or rewrite the screen.

#![allow(clippy::print_stdout, clippy::print_stderr)]

/// Replaces control characters (escape sequences included) with `?`.
pub fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// Prints a result line on stdout.
pub fn line(text: &str) {
    println!("{}", sanitize(text));
}

/// The version of every `--json` document's shape (`json-output.md`). Raised when a
/// field is removed or changes meaning; new fields may appear without it.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// Prints a command's `--json` result: one object, `schemaVersion` and `command` first,
/// then the fields of `body` (a camelCase struct).
pub fn document<T: serde::Serialize>(command: &str, body: &T) {
    let mut map = serde_json::Map::new();
    map.insert("schemaVersion".into(), JSON_SCHEMA_VERSION.into());
    map.insert("command".into(), command.into());
    match serde_json::to_value(body) {
        Ok(serde_json::Value::Object(fields)) => map.extend(fields),
        Ok(other) => {
            map.insert("result".into(), other);
        }
        Err(e) => eprintln!("error: cannot render JSON: {e}"),
    }
    json(&serde_json::Value::Object(map));
}

/// Prints JSON on stdout.
fn json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("error: cannot render JSON: {e}"),
    }
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// With `-q`, notes are not shown; errors always are.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

/// Prints a note on stderr (user-facing, not a log line); silent with `-q`.
pub fn note(text: &str) {
    if !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        print_stderr(text);
    }
}

/// Prints a fault or failure summary on stderr; shown even with `-q`.
pub fn problem(text: &str) {
    print_stderr(text);
}

fn print_stderr(text: &str) {
    crate::progress::multi().suspend(|| eprintln!("{}", sanitize(text)));
}

/// Renders rows as a left-aligned table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let render = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        out.trim_end().to_owned()
    };
    line(&render(header.iter().map(|h| h.to_string()).collect()));
    for row in rows {
        line(&render(row.clone()));
    }
}

/// Human bytes in binary units: `31.4 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Prints an error with its causes (`caused by:` lines) and a hint when one is given.
pub fn report_error(error: &anyhow::Error) {
    let mut text = format!("error: {}", sanitize(&error.to_string()));
    for cause in error.chain().skip(1) {
        let c = sanitize(&cause.to_string());
        if !text.contains(&c) {
            text.push_str(&format!("\n  caused by: {c}"));
        }
    }
    print_stderr(&text);
}

#[cfg(test)]
mod tests {
    #[test]
    fn sanitizes_escapes() {
        assert_eq!(super::sanitize("a\x1b[2Jb\rc"), "a?[2Jb?c");
        assert_eq!(super::bytes(1536), "1.5 KiB");
        assert_eq!(super::bytes(10), "10 B");
    }
}
