//! `--map SRC=DST` rewrites and the flattening of paths deeper than `--max-depth`: the
//! user's own changes to far-side names, checked when given.

use super::origin::Origin;

/// `--map SRC=DST`: images whose `REGISTRY/PATH` starts with `SRC` (whole components) are
/// placed under `DST` instead, the rest of their path kept (`docker.io/library=lib` sends
/// `docker.io/library/nginx` to `lib/nginx`). An empty `DST` drops the prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathMap {
    /// `REGISTRY[/PATH]`, lowercase registry.
    pub source: String,
    /// The repository path prefix it becomes (may be empty).
    pub destination: String,
}

/// Why a `--map` or depth setting cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NamingError {
    /// Not `SRC=DST`.
    #[error("`{0}` is not SRC=DST (e.g. `docker.io/library=lib`)")]
    MapShape(String),
    /// A side is not a repository path.
    #[error(
        "`{text}`: `{part}` is not a repository path: lowercase components of letters and digits, joined by `/` and separated inside by `.`, `_`, `__` or `-`"
    )]
    MapPath {
        /// The whole setting.
        text: String,
        /// The bad side.
        part: String,
    },
    /// A depth below 1.
    #[error("a maximum path depth must be at least 1")]
    Depth,
    /// A separator that would make invalid components.
    #[error("`{0}` cannot join path components: use `-`, `_`, `__` or `.`")]
    Separator(String),
}

/// Whether `path` is a repository path (distribution-spec's name grammar, without a
/// registry): lowercase components of `[a-z0-9]+` runs joined by `.`, `_`, `__` or `-`s.
fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|c| {
            let ok_chars = c
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
            let ends = c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && c.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
            ok_chars
                && ends
                && !c.contains("..")
                && !c.contains("___")
                && !c.contains(".-")
                && !c.contains("-.")
        })
}

impl PathMap {
    /// Parses `SRC=DST`.
    pub fn parse(text: &str) -> Result<PathMap, NamingError> {
        let (source, destination) = text
            .split_once('=')
            .ok_or_else(|| NamingError::MapShape(text.to_owned()))?;
        let source = source.trim().trim_matches('/');
        let destination = destination.trim().trim_matches('/');
        let (registry, path) = source.split_once('/').unwrap_or((source, ""));
        let registry = registry.to_ascii_lowercase();
        let bad = |part: &str| NamingError::MapPath {
            text: text.to_owned(),
            part: part.to_owned(),
        };
        if registry.is_empty() || registry.contains(|c: char| c.is_whitespace() || c == '@') {
            return Err(bad(source));
        }
        if !path.is_empty() && !valid_path(path) {
            return Err(bad(path));
        }
        if !destination.is_empty() && !valid_path(destination) {
            return Err(bad(destination));
        }
        Ok(PathMap {
            source: match path {
                "" => registry,
                p => format!("{registry}/{p}"),
            },
            destination: destination.to_owned(),
        })
    }

    /// The path `origin` gets under this map, if the map covers it.
    pub(super) fn apply(&self, origin: &Origin) -> Option<String> {
        let full = format!("{}/{}", origin.registry, origin.repository);
        let rest = full.strip_prefix(&self.source)?;
        let rest = match rest.strip_prefix('/') {
            Some(r) => r,
            None if rest.is_empty() => "",
            None => return None,
        };
        Some(match (self.destination.as_str(), rest) {
            ("", r) => r.to_owned(),
            (d, "") => d.to_owned(),
            (d, r) => format!("{d}/{r}"),
        })
    }
}

/// `path` with at most `depth` components: the ones from the `depth`-th on joined by
/// `separator` (`a/b/c/d` at 2 with `-` → `a/b-c-d`).
pub fn flatten(path: &str, depth: usize, separator: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() <= depth {
        return path.to_owned();
    }
    let (kept, joined) = parts.split_at(depth - 1);
    let mut out: Vec<String> = kept.iter().map(|p| (*p).to_owned()).collect();
    out.push(joined.join(separator));
    out.join("/")
}
