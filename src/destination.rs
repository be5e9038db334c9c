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
}

impl Naming {
    /// Names under `prefix` (slashes around it ignored; empty is none).
    pub fn new(prefix: Option<&str>, registry_path: bool) -> Naming {
        Naming {
            prefix: prefix
                .map(|p| p.trim_matches('/').to_owned())
                .filter(|p| !p.is_empty()),
            registry_path,
        }
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
        let origin = Origin::of(image);
        match self.path_for(&origin.registry) {
            Some(p) => format!("{p}/{}", origin.repository),
            None => origin.repository,
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
