//! The one rule for the name an image gets at the far side: the repository `unpack --push`
//! pushes to, the repository `serve` answers under, the mirror entries written for it, and
//! the clash check that keeps two images off one name. Every far-side path asks here, so a
//! name decided in one place cannot differ from the name checked in another.
//!
//! An image's *origin* is the registry and repository of its name (`docker.io` and
//! `library/nginx` for `docker.io/library/nginx:1.27`), whatever it was read from: a local
//! layout or archive named `reg.example/ci/alpine:3` has the origin `reg.example`. Where it
//! was read from (`oci:DIR`, `docker-archive:FILE`) is provenance only.

use crate::bundle::index::ImageEntry;
use crate::oci::Digest;
use std::collections::HashMap;

/// The registry and repository an image is named by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// Registry host[:port] of the image's name (`docker.io`, `localhost`).
    pub registry: String,
    /// Repository path at that registry (`library/nginx`).
    pub repository: String,
}

impl Origin {
    /// The origin of `image`: the registry of its normalised reference, lowercase (host
    /// names are case-insensitive: `Reg.Example` and `reg.example` are one registry).
    pub fn of(image: &ImageEntry) -> Origin {
        Origin {
            registry: image.registry().to_ascii_lowercase(),
            repository: image.repository.clone(),
        }
    }
}

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
    fn apply(&self, origin: &Origin) -> Option<String> {
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
    fn options(&self) -> String {
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

/// The reference an image gets at the destination, for reports: `host/repo:tag`, or
/// `host/repo@digest` for an untagged image.
pub fn reference(registry: &str, repo: &str, image: &ImageEntry) -> String {
    match &image.tag {
        Some(t) => format!("{registry}/{repo}:{t}"),
        None => format!("{registry}/{repo}@{}", image.digest),
    }
}

/// Two images that would land on one repository and tag with different digests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clash {
    /// The far-side `repository:tag`.
    pub name: String,
    /// The first image's reference (as the user wrote it).
    pub first: String,
    /// The second image's reference.
    pub second: String,
    /// Whether the two have different registries (so `--registry-path` parts them).
    pub registries_differ: bool,
}

impl std::fmt::Display for Clash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` and `{}` would both arrive as `{}` with different digests; name one otherwise with `SOURCE as NAME`",
            self.first, self.second, self.name
        )?;
        if self.registries_differ {
            write!(
                f,
                ", or keep each registry in the path with --registry-path"
            )?;
        }
        Ok(())
    }
}

/// One image, as the clash check sees it: its entry, and which run or bundle it came in
/// (a later bundle's tag replaces an earlier one's for the same origin, as an update).
pub struct Named<'a> {
    /// The image.
    pub image: &'a ImageEntry,
    /// The bundle it is in (position among the bundles given; 0 for one bundle).
    pub bundle: usize,
    /// The naming in force for it.
    pub naming: &'a Naming,
}

/// Every pair of images that would land on one `repository:tag` with different digests.
/// Within one bundle any two such images clash; across bundles only images of different
/// origins do, since a later bundle's tag of the same origin is an update.
pub fn clashes<'a>(images: impl IntoIterator<Item = Named<'a>>) -> Vec<Clash> {
    // Per far-side name, the image each origin last put there: an update replaces its own
    // origin's entry and is still compared with every other origin's.
    type Holder<'i> = (&'i ImageEntry, usize, &'i Digest);
    let mut seen: HashMap<String, Vec<(Origin, Holder)>> = HashMap::new();
    let mut out = Vec::new();
    for Named {
        image,
        bundle,
        naming,
    } in images
    {
        let Some(tag) = &image.tag else { continue };
        let name = format!("{}:{tag}", naming.repository(image));
        let origin = Origin::of(image);
        let holders = seen.entry(name.clone()).or_default();
        let mut own = None;
        for (i, (o, (first, b, digest))) in holders.iter().enumerate() {
            let same_origin = *o == origin;
            if same_origin {
                own = Some(i);
            }
            if *digest != &image.digest && (*b == bundle || !same_origin) {
                out.push(Clash {
                    name: name.clone(),
                    first: first.requested.clone(),
                    second: image.requested.clone(),
                    registries_differ: o.registry != origin.registry,
                });
            }
        }
        let holder = (image, bundle, &image.digest);
        match own {
            Some(i) => holders[i].1 = holder,
            None => holders.push((origin, holder)),
        }
    }
    out
}

/// The refusal for the images of one bundle (or one plan) named by `naming`, if two of
/// them would land on one name: what `pack` and `unpack` ask before any byte moves.
pub fn check(images: &[ImageEntry], naming: &Naming) -> Result<(), String> {
    let named = images.iter().map(|image| Named {
        image,
        bundle: 0,
        naming,
    });
    refusal(&clashes(named), naming).map_or(Ok(()), Err)
}

/// The refusal for `clashes` under `naming`, one line per clash, or `None` when there is none.
pub fn refusal(clashes: &[Clash], naming: &Naming) -> Option<String> {
    if clashes.is_empty() {
        return None;
    }
    let under = match naming.options() {
        o if o.is_empty() => String::new(),
        o => format!(" (names made with {o})"),
    };
    let lines: Vec<String> = clashes.iter().map(|c| format!("  {c}")).collect();
    let count = match clashes.len() {
        1 => "two images would land".to_owned(),
        n => format!("{n} pairs of images would land"),
    };
    Some(format!(
        "{count} on one name{under}; nothing was done:\n{}",
        lines.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(registry: &str, repository: &str) -> Origin {
        Origin {
            registry: registry.into(),
            repository: repository.into(),
        }
    }

    #[test]
    fn maps_replace_the_longest_matching_prefix_under_the_prefix() {
        let naming = Naming::new(Some("site"), true).with_maps(vec![
            PathMap::parse("docker.io=hub").expect("map"),
            PathMap::parse("docker.io/library=lib").expect("map"),
        ]);
        assert_eq!(
            naming.repository_of(&origin("docker.io", "library/nginx")),
            "site/lib/nginx"
        );
        assert_eq!(
            naming.repository_of(&origin("docker.io", "org/app")),
            "site/hub/org/app"
        );
        // Not on a component boundary, and other registries: the usual rule.
        assert_eq!(
            naming.repository_of(&origin("docker.io", "libraryx/a")),
            "site/hub/libraryx/a"
        );
        assert_eq!(
            naming.repository_of(&origin("quay.io", "org/app")),
            "site/quay.io/org/app"
        );
        assert!(!naming.is_per_registry());
    }

    #[test]
    fn deep_paths_are_flattened_with_the_separator() {
        let naming = Naming::new(Some("mirror"), false)
            .with_max_depth(2, "-")
            .expect("depth");
        assert_eq!(
            naming.repository_of(&origin("ghcr.io", "a/b/c")),
            "mirror/a-b-c"
        );
        assert_eq!(naming.repository_of(&origin("ghcr.io", "a")), "mirror/a");
        assert_eq!(flatten("a/b/c/d", 3, "__"), "a/b/c__d");
        assert_eq!(flatten("a/b/c/d", 1, "-"), "a-b-c-d");
        assert_eq!(
            Naming::default().with_max_depth(0, "-"),
            Err(NamingError::Depth)
        );
        assert!(Naming::default().with_max_depth(2, "/").is_err());
    }

    #[test]
    fn bad_maps_are_named() {
        assert!(matches!(
            PathMap::parse("docker.io"),
            Err(NamingError::MapShape(_))
        ));
        let e = PathMap::parse("docker.io/library=Lib").expect_err("uppercase");
        assert!(e.to_string().contains("`Lib`"), "{e}");
        assert!(PathMap::parse("docker.io/library=").is_ok());
        assert!(PathMap::parse("=lib").is_err());
    }

    #[test]
    fn a_map_that_lands_two_images_on_one_name_is_a_clash() {
        let a = image("a.io/x/app:1", "a.io/x/app:1", "x/app", "1", 'a');
        let b = image("b.io/y/app:1", "b.io/y/app:1", "y/app", "1", 'b');
        let naming = Naming::default().with_maps(vec![
            PathMap::parse("a.io/x=apps").expect("map"),
            PathMap::parse("b.io/y=apps").expect("map"),
        ]);
        let refusal = check(&[a, b], &naming).expect_err("clash");
        assert!(
            refusal.contains("apps/app:1") && refusal.contains("--map a.io/x=apps"),
            "{refusal}"
        );
    }

    fn image(requested: &str, reference: &str, repo: &str, tag: &str, digest: char) -> ImageEntry {
        ImageEntry {
            requested: requested.into(),
            reference: reference.into(),
            source: "oci:/somewhere".into(),
            repository: repo.into(),
            tag: Some(tag.into()),
            digest: format!("sha256:{}", digest.to_string().repeat(64))
                .parse()
                .expect("digest"),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            platforms: vec![],
        }
    }

    #[test]
    fn names_come_from_the_reference_not_the_source() {
        let i = image(
            "oci:d:3 as reg.example/ci/alpine:3",
            "reg.example/ci/alpine:3",
            "ci/alpine",
            "3",
            'a',
        );
        assert_eq!(Origin::of(&i).registry, "reg.example");
        assert_eq!(Naming::new(None, false).repository(&i), "ci/alpine");
        assert_eq!(
            Naming::new(Some("/m/"), true).repository(&i),
            "m/reg.example/ci/alpine"
        );
        assert_eq!(
            Naming::new(None, true).repository(&i),
            "reg.example/ci/alpine"
        );
        assert_eq!(registry_component("[::1]:5000"), "1-5000");
        assert_eq!(registry_component("Reg.Example"), "reg.example");
        for r in ["[::1]:5000", "a-.example", "-x.com:80", "Reg.Example:443"] {
            let c = registry_component(r);
            assert!(crate::oci::reference::valid_repository(&c), "{r} → {c}");
        }
        let local = image("x", "localhost:5000/app:1", "app", "1", 'b');
        assert_eq!(
            Naming::new(None, true).repository(&local),
            "localhost_5000/app"
        );
    }

    #[test]
    fn two_registries_on_one_name_clash_unless_kept_apart() {
        let a = image("a", "docker.io/library/conf:1", "library/conf", "1", 'a');
        let b = image("b", "quay.io/library/conf:1", "library/conf", "1", 'b');
        let same = image("c", "quay.io/library/conf:1", "library/conf", "1", 'b');
        let flat = Naming::new(None, false);
        let kept = Naming::new(None, true);
        let named = |n| {
            move |(i, bundle)| Named {
                image: i,
                bundle,
                naming: n,
            }
        };
        let found = clashes([(&a, 0), (&b, 0)].into_iter().map(named(&flat)));
        assert_eq!(found.len(), 1);
        assert!(found[0].registries_differ);
        assert!(found[0].to_string().contains("--registry-path"));
        assert!(clashes([(&a, 0), (&b, 0)].into_iter().map(named(&kept))).is_empty());
        // The same image twice is no clash.
        assert!(clashes([(&b, 0), (&same, 0)].into_iter().map(named(&flat))).is_empty());
        // A later bundle moving a tag of the same origin is an update, not a clash...
        let newer = image("n", "quay.io/library/conf:1", "library/conf", "1", 'c');
        assert!(clashes([(&b, 0), (&newer, 1)].into_iter().map(named(&flat))).is_empty());
        // ...but within one bundle it is.
        assert_eq!(
            clashes([(&b, 0), (&newer, 0)].into_iter().map(named(&flat))).len(),
            1
        );
        // Across bundles, another registry on the same name still clashes.
        assert_eq!(
            clashes([(&a, 0), (&b, 1)].into_iter().map(named(&flat))).len(),
            1
        );
        // Two registries agreeing in bundle 0, then one of them updated: the update no
        // longer agrees with the other registry's image there.
        let a_same = image("a2", "docker.io/library/conf:1", "library/conf", "1", 'b');
        let a_new = image("a3", "docker.io/library/conf:1", "library/conf", "1", 'c');
        let found = clashes(
            [(&a_same, 0), (&b, 0), (&a_new, 1)]
                .into_iter()
                .map(named(&flat)),
        );
        assert_eq!(found.len(), 1, "{found:?}");
    }
}
