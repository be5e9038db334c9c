//! The rule that makes an image's far-side repository: prefix, registry path, maps, depth.

use super::origin::Origin;
use super::path_map::{NamingError, PathMap, flatten};
use crate::bundle::index::ImageEntry;

/// How far-side names are made: an optional path prefix, and whether the source registry
/// is kept as the first path component (`quay.io/library/conf` → `PREFIX/quay.io/library/conf`),
/// which keeps images of two registries with one `repo:tag` apart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Naming {
    prefix: Option<String>,
    /// Keep each image's registry as a path component.
    pub registry_path: bool,
    /// Explicit rewrites, longest source prefix first.
    maps: Vec<PathMap>,
    /// The most path components a repository may have, with the separator that joins the
    /// ones past the limit (`a/b/c/d` at depth 2 → `a/b-c-d`).
    depth: Option<(usize, String)>,
}
impl Naming {
    /// Names under `prefix` (slashes around it ignored; empty is none).
    pub fn new(prefix: Option<&str>, registry_path: bool) -> Naming {
        Naming {
            prefix: prefix
                .map(|p| p.trim_matches('/').to_owned())
                .filter(|p| !p.is_empty()),
            registry_path,
            maps: Vec::new(),
            depth: None,
        }
    }

    /// These names, with `maps` applied first (the longest matching source wins).
    pub fn with_maps(mut self, mut maps: Vec<PathMap>) -> Naming {
        maps.sort_by_key(|m| std::cmp::Reverse(m.source.len()));
        self.maps = maps;
        self
    }

    /// These names, with repositories deeper than `depth` components flattened: the
    /// components from the `depth`-th on are joined by `separator`.
    pub fn with_max_depth(mut self, depth: usize, separator: &str) -> Result<Naming, NamingError> {
        if depth == 0 {
            return Err(NamingError::Depth);
        }
        if !matches!(separator, "-" | "_" | "__" | ".") {
            return Err(NamingError::Separator(separator.to_owned()));
        }
        self.depth = Some((depth, separator.to_owned()));
        Ok(self)
    }

    /// Whether every image of a registry lands under one path ([`Naming::path_for`]), as
    /// per-registry settings (k3s rewrites, containerd hosts) can say; false once names
    /// are mapped or flattened one by one.
    pub fn is_per_registry(&self) -> bool {
        self.maps.is_empty() && self.depth.is_none()
    }

    /// The path put in front of every repository of `registry`'s images: the prefix and,
    /// with `registry_path`, the registry. `None` when names are the source paths.
    pub fn path_for(&self, registry: &str) -> Option<String> {
        match (&self.prefix, self.registry_path) {
            (Some(p), true) => Some(format!("{p}/{}", registry_component(registry))),
            (Some(p), false) => Some(p.clone()),
            (None, true) => Some(registry_component(registry)),
            (None, false) => None,
        }
    }

    /// The repository `image` gets at the far side.
    pub fn repository(&self, image: &ImageEntry) -> String {
        self.repository_of(&Origin::of(image))
    }

    /// The repository an image of `origin` gets at the far side: a `--map` covering it
    /// (under the prefix), else the prefix and registry path; then flattened to the depth.
    pub fn repository_of(&self, origin: &Origin) -> String {
        let mapped = self.maps.iter().find_map(|m| m.apply(origin));
        let path = match (mapped, &self.prefix) {
            (Some(m), Some(p)) if m.is_empty() => p.clone(),
            (Some(m), Some(p)) => format!("{p}/{m}"),
            (Some(m), None) if m.is_empty() => origin.repository.clone(),
            (Some(m), None) => m,
            (None, _) => match self.path_for(&origin.registry) {
                Some(p) => format!("{p}/{}", origin.repository),
                None => origin.repository.clone(),
            },
        };
        match &self.depth {
            Some((depth, sep)) => flatten(&path, *depth, sep),
            None => path,
        }
    }

    /// The option that would give these names, for messages (`--prefix P --registry-path`).
    pub(super) fn options(&self) -> String {
        let mut words = Vec::new();
        if let Some(p) = &self.prefix {
            words.push(format!("--prefix {p}"));
        }
        if self.registry_path {
            words.push("--registry-path".to_owned());
        }
        for m in &self.maps {
            words.push(format!("--map {}={}", m.source, m.destination));
        }
        if let Some((depth, sep)) = &self.depth {
            words.push(format!("--max-depth {depth} --depth-separator {sep}"));
        }
        words.join(" ")
    }
}
/// A registry as one repository path component, always a valid one: lowercase, the
/// port's `:` as `_` (`localhost:5000` → `localhost_5000`), since a repository path allows
/// no `:`; any other run of characters a component cannot hold becomes one `-`, and the
/// ends are trimmed (`[::1]:5000` → `1-5000`).
pub fn registry_component(registry: &str) -> String {
    let lower = registry.to_ascii_lowercase();
    let mut out = String::with_capacity(lower.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if !run.is_empty() {
            let sep = match run.as_str() {
                ":" => "_",
                "." | "_" | "__" => run.as_str(),
                r if r.bytes().all(|b| b == b'-') => r,
                _ => "-",
            };
            out.push_str(sep);
            run.clear();
        }
    };
    for c in lower.chars() {
        if c.is_ascii_alphanumeric() {
            flush(&mut run, &mut out);
            out.push(c);
        } else {
            run.push(c);
        }
    }
    let trimmed = out.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "registry".to_owned()
    } else {
        trimmed.to_owned()
    }
}
