//! Two images that would land on one far-side `repository:tag` with different digests:
//! found across one bundle or several, and refused before any byte moves.

use super::naming::Naming;
use super::origin::Origin;
use crate::bundle::index::ImageEntry;
use crate::oci::Digest;
use std::collections::HashMap;

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
