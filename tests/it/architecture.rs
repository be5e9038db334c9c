//! The shape of the house, checked from the code's own imports (issue "One house"): the
//! file-level import graph of `src/` has no loop, no file imports a room on a higher floor,
//! and no file passes the size at which it should be split.
//!
//! An edge is any path a file names through `crate::`, `super::`, `self::` or one of its own
//! child modules, in `use` trees and in code alike, resolved to the file that defines the
//! item: a `pub use child::Item` in a `mod.rs` is a facade, so naming `room::Item` leads to
//! the child that defines it, not to the `mod.rs`. Unit-test modules (`#[cfg(test)] mod
//! tests { … }`) and comments are left out: they are not part of the shipped layering.
//!
//! Reading Rust with string scanning instead of a parser keeps the test free of
//! dependencies; the grammar it needs (paths, `use` trees, `mod` declarations) is small.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level rooms by floor, lowest first. A file may import rooms on its own floor or
/// lower; a new room must be given a floor here (the test names the ones missing).
const FLOORS: &[(&str, &[&str])] = &[
    (
        "vocabulary",
        &[
            "oci",
            "secret",
            "size",
            "progress",
            "output",
            "atomic_file",
            "clobber",
            "cksum",
            "write_behind",
        ],
    ),
    (
        "formats, peers and trust",
        &[
            "trust",
            "registry",
            "bundle",
            "receipt",
            "deploy",
            "k3s_registries",
            "blob_store",
            "destination",
            "far_side",
            "sources",
            "docker_archive",
            "lineage",
            "client_configs",
            "charts",
        ],
    ),
    (
        "planning and moving",
        &[
            "plan", "copy", "sinks", "config", "space", "location", "report",
        ],
    ),
    ("surfaces", &["serve", "cli"]),
    ("commands", &["commands"]),
];

/// Lines of shipped code (unit tests and comments left out) past which a file should be
/// split (STYLE.md: "split a file when it passes ~400 lines or owns two concerns"; the
/// issue's bar is ~500).
const MAX_LINES: usize = 500;

/// One source file: its module path and its code with comments and unit tests removed.
struct File {
    path: PathBuf,
    module: Vec<String>,
    /// `mod.rs`, `lib.rs` or `main.rs`: its children are `module::child`.
    is_dir_module: bool,
    code: String,
}

fn src_files() -> Vec<File> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src/") {
            let path = entry.expect("read src/ entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&root).expect("under src/");
                let mut module: Vec<String> = rel
                    .with_extension("")
                    .iter()
                    .map(|c| c.to_string_lossy().into_owned())
                    .collect();
                let last = module.last().cloned().unwrap_or_default();
                let is_dir_module = matches!(last.as_str(), "mod" | "lib" | "main");
                if is_dir_module {
                    module.pop();
                }
                let text = std::fs::read_to_string(&path).expect("read source file");
                files.push(File {
                    path: rel.to_owned(),
                    module,
                    is_dir_module,
                    code: without_unit_tests(&without_comments(&text)),
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// The text with `//` and `/* */` comments blanked and string literals emptied, so that
/// neither doc examples nor messages count as imports.
fn without_comments(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == b'\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == b'r'
            && matches!(b.get(i + 1), Some(b'"') | Some(b'#'))
            && raw_string_at(b, i)
        {
            let mut hashes = 0;
            let mut j = i + 1;
            while b[j] == b'#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == b'"'
                    && b[j + 1..]
                        .iter()
                        .take(hashes)
                        .filter(|&&h| h == b'#')
                        .count()
                        == hashes
                {
                    j += 1 + hashes;
                    break;
                }
                if b[j] == b'\n' {
                    out.push('\n');
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                if i < b.len() && b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == b'\'' && char_literal_len(&b[i..]).is_some() {
            i += char_literal_len(&b[i..]).unwrap_or(1);
            out.push_str("' '");
        } else {
            // Multi-byte UTF-8 is copied whole: find the char at `i`.
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Whether `r` at `i` opens a raw string (`r"`, `r#"`), not an identifier ending in `r`.
fn raw_string_at(b: &[u8], i: usize) -> bool {
    let starts_word = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    let mut j = i + 1;
    while j < b.len() && b[j] == b'#' {
        j += 1;
    }
    starts_word && b.get(j) == Some(&b'"')
}

/// The length of a char literal at the start of `b` (`'a'`, `'\n'`, `'\''`), or `None`
/// for a lifetime (`'a`).
fn char_literal_len(b: &[u8]) -> Option<usize> {
    if b.get(1) == Some(&b'\\') {
        let end = b.iter().skip(3).position(|&c| c == b'\'')?;
        return Some(end + 4);
    }
    let s = std::str::from_utf8(&b[1..b.len().min(6)])
        .ok()
        .or_else(|| std::str::from_utf8(&b[1..b.len().min(5)]).ok());
    let ch = s.and_then(|s| s.chars().next())?;
    (b.get(1 + ch.len_utf8()) == Some(&b'\'')).then_some(2 + ch.len_utf8())
}

/// The code with every `#[cfg(test)]` item (a `mod tests { … }` or a test-only fn or
/// `use`) removed.
fn without_unit_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // The item ends at its closing brace (a block) or at `;` (a declaration),
        // whichever comes first at depth 0.
        let mut depth = 0usize;
        let mut end = after.len();
        for (k, ch) in after.char_indices().skip("#[cfg(test)]".len()) {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = k + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path the code names, as segment lists starting with `crate`, `super`, `self` or
/// a child module's name, with `use` trees expanded (`use a::{b, c::d}` → `a::b`, `a::c::d`)
/// and whether it is a `pub use` re-export.
fn paths(code: &str, children: &BTreeSet<String>) -> Vec<(Vec<String>, bool)> {
    let mut found = Vec::new();
    // `use` items first, then blank them out so the scan below does not see them again.
    let mut rest = String::new();
    let mut i = 0;
    while i < code.len() {
        let word_start = i == 0 || !is_ident(code[..i].chars().next_back().unwrap_or(' '));
        if word_start && code[i..].starts_with("use ") {
            let end = code[i..].find(';').map_or(code.len(), |e| i + e);
            let tree = &code[i + 4..end];
            let before = code[..i].trim_end();
            let public = before.rfind("pub").is_some_and(|p| {
                let t = &before[p..];
                t == "pub" || (t.starts_with("pub(") && t.ends_with(')') && !t.contains(' '))
            });
            for p in expand_use_tree(tree) {
                found.push((p, public));
            }
            rest.push_str(&" ".repeat(end - i));
            i = end;
        } else {
            let ch = code[i..].chars().next().unwrap_or(' ');
            rest.push(ch);
            i += ch.len_utf8();
        }
    }
    // Paths in code: a run of `ident::ident::…` whose first segment is a root we follow.
    let chars: Vec<char> = rest.chars().collect();
    let mut k = 0;
    while k < chars.len() {
        if is_ident(chars[k]) && (k == 0 || !(is_ident(chars[k - 1]) || chars[k - 1] == ':')) {
            let mut segs = Vec::new();
            let mut j = k;
            loop {
                let s = j;
                while j < chars.len() && is_ident(chars[j]) {
                    j += 1;
                }
                segs.push(chars[s..j].iter().collect::<String>());
                if j + 2 < chars.len()
                    && chars[j] == ':'
                    && chars[j + 1] == ':'
                    && is_ident(chars[j + 2])
                {
                    j += 2;
                } else {
                    break;
                }
            }
            let root = segs[0].as_str();
            if segs.len() > 1
                && (matches!(root, "crate" | "super" | "self") || children.contains(root))
            {
                found.push((segs, false));
            }
            k = j.max(k + 1);
        } else {
            k += 1;
        }
    }
    found.retain(|(p, _)| {
        let root = p[0].as_str();
        matches!(root, "crate" | "super" | "self") || children.contains(root)
    });
    found
}

/// `a::{b, c::{d, e}}` → `[a, b]`, `[a, c, d]`, `[a, c, e]` (`self` in braces names `a`).
fn expand_use_tree(tree: &str) -> Vec<Vec<String>> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = Vec::new();
    expand_into(&tree, &mut Vec::new(), &mut out);
    out
}

fn expand_into(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim_end_matches("::").trim();
        let base = prefix.len();
        prefix.extend(
            head.split("::")
                .filter(|s| !s.is_empty())
                .map(|s| s.trim().to_owned()),
        );
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut depth = 0;
        let mut start = 0;
        for (k, ch) in inner.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand_into(&inner[start..k], prefix, out);
                    start = k + 1;
                }
                _ => {}
            }
        }
        expand_into(&inner[start..], prefix, out);
        prefix.truncate(base);
    } else {
        let item = tree.split(" as ").next().unwrap_or("").trim();
        if item.is_empty() {
            return;
        }
        let mut p = prefix.clone();
        for s in item.split("::") {
            if s == "self" && !p.is_empty() {
                continue;
            }
            p.push(s.trim().to_owned());
        }
        if !p.is_empty() {
            out.push(p);
        }
    }
}

/// The import graph: file index → the files it names.
struct Graph {
    files: Vec<File>,
    edges: Vec<BTreeSet<usize>>,
}

fn graph() -> Graph {
    let files = src_files();
    let by_module: BTreeMap<Vec<String>, usize> = files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.path != Path::new("main.rs"))
        .map(|(i, f)| (f.module.clone(), i))
        .collect();
    let children: Vec<BTreeSet<String>> = files
        .iter()
        .map(|f| {
            f.code
                .lines()
                .filter_map(|l| {
                    let l = l.trim();
                    let l = l
                        .strip_prefix("pub(crate) ")
                        .or_else(|| l.strip_prefix("pub(super) "))
                        .or_else(|| l.strip_prefix("pub "))
                        .unwrap_or(l);
                    let name = l.strip_prefix("mod ")?.strip_suffix(';')?.trim();
                    name.chars().all(is_ident).then(|| name.to_owned())
                })
                .collect()
        })
        .collect();
    let all_paths: Vec<Vec<(Vec<String>, bool)>> = files
        .iter()
        .zip(&children)
        .map(|(f, c)| paths(&f.code, c))
        .collect();
    // Absolute form of a path named in file `i`.
    let absolute = |i: usize, p: &[String]| -> Vec<String> {
        let f = &files[i];
        let mut segs: Vec<String>;
        let mut rest = p;
        match p[0].as_str() {
            "crate" => {
                segs = Vec::new();
                rest = &p[1..];
            }
            "self" => {
                segs = f.module.clone();
                rest = &p[1..];
            }
            "super" => {
                segs = f.module.clone();
                while rest.first().map(String::as_str) == Some("super") {
                    segs.pop();
                    rest = &rest[1..];
                }
            }
            _ => segs = f.module.clone(),
        }
        segs.extend(rest.iter().cloned());
        segs
    };
    // Re-exports of each directory module: item name → the absolute path it forwards to.
    let mut reexports: BTreeMap<usize, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        if !f.is_dir_module {
            continue;
        }
        for (p, public) in &all_paths[i] {
            if *public {
                let target = absolute(i, p);
                let name = p.last().cloned().unwrap_or_default();
                reexports.entry(i).or_default().insert(name, target);
            }
        }
    }
    let resolve = |abs: &[String]| -> Option<usize> {
        let mut abs = abs.to_vec();
        for _ in 0..8 {
            let (n, file) = (0..=abs.len())
                .rev()
                .find_map(|n| by_module.get(&abs[..n]).map(|&i| (n, i)))?;
            // Through a facade: `room::Item` where room's mod.rs re-exports `Item`.
            let forwarded = abs
                .get(n)
                .and_then(|next| reexports.get(&file).and_then(|r| r.get(next)));
            match forwarded {
                Some(target) if target.as_slice() != abs.as_slice() => {
                    let mut t = target.clone();
                    t.extend(abs[n + 1..].iter().cloned());
                    abs = t;
                }
                _ => return Some(file),
            }
        }
        None
    };
    let mut edges = vec![BTreeSet::new(); files.len()];
    for (i, f) in files.iter().enumerate() {
        for (p, public) in &all_paths[i] {
            // A facade's own re-exports are not imports of the facade.
            if *public && f.is_dir_module {
                continue;
            }
            if let Some(t) = resolve(&absolute(i, p))
                && t != i
                && !files[t].module.is_empty()
            {
                edges[i].insert(t);
            }
        }
    }
    Graph { files, edges }
}

/// Loops of the graph (strongly connected sets of more than one file), each as a path
/// `a → b → … → a`.
fn loops(g: &Graph) -> Vec<String> {
    let n = g.files.len();
    let (mut index, mut low, mut on) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut stack, mut sets, mut next) = (Vec::new(), Vec::new(), 0);
    // Iterative Tarjan: (node, position in its edge list).
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        let mut work = vec![(start, 0usize)];
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if *pos == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on[v] = true;
            }
            let out: Vec<usize> = g.edges[v].iter().copied().collect();
            if *pos < out.len() {
                let w = out[*pos];
                *pos += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut set = Vec::new();
                while let Some(w) = stack.pop() {
                    on[w] = false;
                    set.push(w);
                    if w == v {
                        break;
                    }
                }
                if set.len() > 1 {
                    sets.push(set);
                }
            }
        }
    }
    sets.into_iter()
        .map(|set| {
            let members: BTreeSet<usize> = set.iter().copied().collect();
            // A shortest way round from the set's first file, for the message.
            let first = *members.iter().next().unwrap_or(&0);
            let mut prev = BTreeMap::new();
            let mut queue = std::collections::VecDeque::from([first]);
            let mut back = None;
            while let Some(v) = queue.pop_front() {
                for &w in &g.edges[v] {
                    if w == first {
                        back = Some(v);
                        break;
                    }
                    if members.contains(&w) && !prev.contains_key(&w) {
                        prev.insert(w, v);
                        queue.push_back(w);
                    }
                }
                if back.is_some() {
                    break;
                }
            }
            let mut chain = Vec::new();
            let mut v = back.unwrap_or(first);
            while v != first {
                chain.push(v);
                v = prev[&v];
            }
            chain.reverse();
            let way: Vec<usize> = std::iter::once(first)
                .chain(chain)
                .chain(std::iter::once(first))
                .collect();
            let names: Vec<String> = way
                .iter()
                .map(|&i| g.files[i].path.display().to_string())
                .collect();
            format!("{} files in a loop, e.g. {}", set.len(), names.join(" → "))
        })
        .collect()
}

fn floor_of(room: &str) -> Option<usize> {
    FLOORS.iter().position(|(_, rooms)| rooms.contains(&room))
}

#[test]
fn the_import_graph_has_no_loop() {
    let g = graph();
    let found = loops(&g);
    assert!(
        found.is_empty(),
        "import loops in src/ (move the shared type down, so no file imports its caller):\n{}",
        found.join("\n")
    );
}

#[test]
fn no_file_imports_a_room_on_a_higher_floor() {
    let g = graph();
    let mut missing = BTreeSet::new();
    let mut climbs = Vec::new();
    for (i, f) in g.files.iter().enumerate() {
        let Some(room) = f.module.first() else {
            continue;
        };
        let Some(from) = floor_of(room) else {
            missing.insert(room.clone());
            continue;
        };
        for &t in &g.edges[i] {
            let to_room = &g.files[t].module[0];
            match floor_of(to_room) {
                Some(to) if to > from => climbs.push(format!(
                    "{} ({}) imports {} ({})",
                    f.path.display(),
                    FLOORS[from].0,
                    g.files[t].path.display(),
                    FLOORS[to].0
                )),
                Some(_) => {}
                None => {
                    missing.insert(to_room.clone());
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "rooms with no floor in FLOORS: {missing:?}"
    );
    assert!(
        climbs.is_empty(),
        "imports that climb a floor:\n{}",
        climbs.join("\n")
    );
}

#[test]
fn no_source_file_needs_splitting() {
    let long: Vec<String> = src_files()
        .iter()
        .filter_map(|f| {
            let lines = f.code.lines().filter(|l| !l.trim().is_empty()).count();
            (lines > MAX_LINES).then(|| format!("{}: {lines} lines of code", f.path.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "files past {MAX_LINES} lines of code (comments, blank lines and unit tests not counted); split by concern:\n{}",
        long.join("\n")
    );
}

/// The reader of imports sees what it must: a loop planted in a copy of two files is found,
/// a facade's re-export is followed to the defining file.
#[test]
fn the_import_reader_follows_use_trees_and_facades() {
    let children: BTreeSet<String> = ["reader".to_owned()].into();
    let found = paths(
        &without_comments(
            "use crate::a::{b::{C, D as E}, f};\npub use reader::Thing;\nfn x() { crate::g::h(); super::Y; reader::z(); \"crate::not::this\"; }",
        ),
        &children,
    );
    let shown: Vec<String> = found
        .iter()
        .map(|(p, public)| format!("{}{}", p.join("::"), if *public { " (pub)" } else { "" }))
        .collect();
    assert_eq!(
        shown,
        [
            "crate::a::b::C",
            "crate::a::b::D",
            "crate::a::f",
            "reader::Thing (pub)",
            "crate::g::h",
            "super::Y",
            "reader::z",
        ]
    );
    let stripped = without_unit_tests(&without_comments(
        "// crate::in::comment\nfn a() {}\n#[cfg(test)]\nmod tests { use crate::x::Y; fn t() { let s = \"}\"; } }\nfn b() {}",
    ));
    assert!(!stripped.contains("crate::"), "{stripped}");
    assert!(stripped.contains("fn b()"), "{stripped}");
}
