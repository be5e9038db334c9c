//! The checks every section of the config shares: a problem recorded at its field's
//! line:column, a mapping with only known fields, a string, a boolean. The section rules
//! (`sections.rs`) are written with these, so each says only what its fields must be.

use super::location::{Step, locate, render};
use super::problem::Problem;
use super::schema::suggestion;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Collects every problem of one config text.
pub struct Checker<'t> {
    /// The config text, for the places of problems.
    text: &'t str,
    /// The problems found so far.
    pub problems: Vec<Problem>,
    /// The directory relative paths in the config resolve against.
    pub base: &'t Path,
}

impl<'t> Checker<'t> {
    /// A checker of `text`, whose relative paths resolve against `base`.
    pub fn new(text: &'t str, base: &'t Path) -> Self {
        Checker {
            text,
            problems: Vec::new(),
            base,
        }
    }

    /// Records a problem at `path`.
    pub fn problem(&mut self, path: &[Step<'_>], message: String) {
        let (line, column) = locate(self.text, path);
        self.problems.push(Problem {
            path: render(path),
            line,
            column,
            message,
        });
    }

    /// `value` as a mapping whose fields are all `known` (each other one is a problem with
    /// a suggestion), or `None` with a problem when it is no mapping.
    pub fn mapping<'v>(
        &mut self,
        path: &[Step<'_>],
        value: &'v Value,
        known: &[&str],
    ) -> Option<&'v serde_json::Map<String, Value>> {
        let Some(map) = value.as_object() else {
            self.problem(path, format!("expected a mapping, got {}", kind(value)));
            return None;
        };
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                let mut p = path.to_vec();
                p.push(Step::Key(key));
                self.problem(
                    &p,
                    format!("unknown field `{key}`{}", suggestion(key, known)),
                );
            }
        }
        Some(map)
    }

    /// `value` as a string, or `None` with a problem.
    pub fn string(&mut self, path: &[Step<'_>], value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            other => {
                self.problem(path, format!("expected a string, got {}", kind(other)));
                None
            }
        }
    }

    /// A problem unless `value` is true or false.
    pub fn boolean(&mut self, path: &[Step<'_>], value: &Value) {
        if !value.is_boolean() {
            self.problem(path, format!("expected true or false, got {}", kind(value)));
        }
    }

    /// A problem unless the file `value` names (`~/` and relative paths expanded) can be opened;
    /// `missing_ok`: a file that does not exist is fine too.
    pub fn readable_file(&mut self, path: &[Step<'_>], value: &Value, missing_ok: bool) {
        if let Some(file) = self.string(path, value) {
            let resolved = expand(&file, self.base);
            if (!missing_ok || resolved.exists())
                && let Err(e) = std::fs::File::open(&resolved)
            {
                self.problem(path, format!("cannot read `{}`: {e}", resolved.display()));
            }
        }
    }
}

/// What a value is, for messages: scalars shown as written, collections by kind.
pub fn kind(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => format!("`{}`", crate::output::sanitize(s)),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

/// `~/…` against HOME; relative paths against the config's directory.
fn expand(path: &str, base: &Path) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    let p = PathBuf::from(path);
    if p.is_absolute() { p } else { base.join(p) }
}
