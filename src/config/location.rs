//! Where a field is in the config text: field paths (`targets[1].port`) and their
//! line:column, found by indentation in block-style YAML, and the place serde-saphyr gives
//! for a syntax error. Kept apart from the rules so that a check says what is wrong and
//! this file says where.

/// One step of a field path.
#[derive(Clone)]
pub enum Step<'a> {
    /// A mapping key.
    Key(&'a str),
    /// A sequence index.
    Index(usize),
}

/// A field path as users read it: `targets[1].port`, or `(document)` for the whole file.
pub fn render(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        "(document)".into()
    } else {
        out
    }
}

/// Finds the line:column of a path in block-style YAML by indentation: each key is looked
/// for below its parent, each sequence index counts `- ` items. Flow style falls back to
/// the nearest enclosing field found.
pub fn locate(text: &str, path: &[Step<'_>]) -> (usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let (mut from, mut to, mut min_indent) = (0usize, lines.len(), 0usize);
    let mut found = (1usize, 1usize);
    for step in path {
        let hit = match step {
            Step::Key(k) => find_key(&lines[from..to], k, min_indent),
            Step::Index(n) => find_item(&lines[from..to], *n, min_indent),
        };
        let Some((i, indent)) = hit.map(|(i, indent)| (i + from, indent)) else {
            break;
        };
        found = (i + 1, indent + 1);
        // The child's block: following lines indented more than this one.
        let block_end = lines
            .iter()
            .enumerate()
            .skip(i + 1)
            .find(|(_, l)| {
                !l.trim().is_empty()
                    && (l.len() - l.trim_start().len())
                        <= indent.saturating_sub(if matches!(step, Step::Index(_)) { 2 } else { 0 })
                    && !l.trim_start().starts_with('#')
            })
            .map_or(to, |(j, _)| j);
        from = if matches!(step, Step::Index(_)) {
            i
        } else {
            i + 1
        };
        to = block_end.max(from + 1).min(lines.len());
        min_indent = indent + if matches!(step, Step::Index(_)) { 0 } else { 1 };
    }
    found
}

/// The first line (offset into `lines`) holding key `k` at `min_indent` or deeper, with
/// its indent.
fn find_key(lines: &[&str], k: &str, min_indent: usize) -> Option<(usize, usize)> {
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start().trim_start_matches("- ");
        let indent = line.len() - trimmed.len();
        if indent < min_indent || line.trim_start().starts_with('#') {
            continue;
        }
        let key = trimmed
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(['"', '\'']);
        if key == k
            && trimmed[key.len()..]
                .trim_start_matches(['"', '\''])
                .trim_start()
                .starts_with(':')
        {
            return Some((i, indent));
        }
    }
    None
}

/// The line (offset into `lines`) of the `n`th `- ` item at `min_indent` or deeper, with
/// the indent of its content.
fn find_item(lines: &[&str], n: usize, min_indent: usize) -> Option<(usize, usize)> {
    let mut count = 0;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if indent >= min_indent && (trimmed.starts_with("- ") || trimmed == "-") {
            if count == n {
                return Some((i, indent + 2));
            }
            count += 1;
        }
    }
    None
}

/// serde-saphyr puts `line N column M` (or `N:M`) into its messages.
pub fn syntax_location(message: &str) -> (usize, usize) {
    let words: Vec<&str> = message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let find = |key: &str| {
        words
            .windows(2)
            .find(|w| w[0].eq_ignore_ascii_case(key))
            .and_then(|w| w[1].parse().ok())
    };
    (
        find("line").unwrap_or(1),
        find("column").or(find("col")).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_found_by_indentation() {
        let text = "a:\n  b:\n    - x\n    - y: 1\n# c:\nc: 2\n";
        let at = |path: &[Step<'_>]| locate(text, path);
        assert_eq!(at(&[Step::Key("a"), Step::Key("b")]), (2, 3));
        assert_eq!(
            at(&[
                Step::Key("a"),
                Step::Key("b"),
                Step::Index(1),
                Step::Key("y")
            ]),
            (4, 7)
        );
        assert_eq!(at(&[Step::Key("c")]), (6, 1));
        assert_eq!(at(&[Step::Key("nowhere")]), (1, 1));
        assert_eq!(
            render(&[Step::Key("targets"), Step::Index(1), Step::Key("port")]),
            "targets[1].port"
        );
        assert_eq!(syntax_location("bad at line 3 column 7"), (3, 7));
    }
}
