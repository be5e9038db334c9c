//! How the images of a local source (an OCI layout, a `docker save` tar, a docker-charon
//! payload) are picked by the REF of `oci:DIR:REF` and friends, and what they are named.
//!
//! A REF is matched against each image's names (`org.opencontainers.image.ref.name`,
//! `io.containerd.image.name`, `RepoTags`) as producers write them — a full reference
//! (`docker.io/library/busybox:1.36`), a short one (`busybox:1.36`) or a bare tag (`1.36`)
//! — or is `sha256:` and at least 12 hex digits of the image's ID (the manifest digest in
//! an OCI layout, the image ID — config digest — in a `docker save` tar).
//!
//! Naming, first that applies: a full reference among its names (the one REF matched,
//! else the first); else `localhost/<file or directory name>:<tag>`, the tag being its
//! bare tag when no other image of the source has it, else the first 12 hex digits of its
//! ID (`:latest` for the one unnamed image of an OCI layout). So two different images of
//! one source never get one name.

use super::local_error::LocalError;
use super::source::Held;
use crate::oci::{Digest, ImageRef};
use std::path::Path;

/// Shortest ID prefix a REF may give (docker's short image ID).
const SHORT_ID: usize = 12;

/// Whether `ref_name` (an annotation or `RepoTags` entry) is what the user asked for:
/// the same text, the same reference once normalised (`busybox:1.36` and
/// `docker.io/library/busybox:1.36`), or a bare tag equal to its tag.
pub fn ref_matches(ref_name: &str, wanted: &str) -> bool {
    if ref_name == wanted {
        return true;
    }
    if let Some(full) = full_reference(ref_name) {
        if let Some(w) = full_reference(wanted) {
            return w.to_string() == full.to_string();
        }
        return !wanted.contains('/') && full.tag.as_deref() == Some(wanted);
    }
    false
}

/// Whether `wanted` is `sha256:` and 12 to 64 hex digits that begin `id`.
pub fn id_matches(id: &Digest, wanted: &str) -> bool {
    let Some(hex) = wanted.strip_prefix("sha256:") else {
        return false;
    };
    (SHORT_ID..=64).contains(&hex.len())
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && id.hex().starts_with(hex)
}

/// A `ref.name` or `RepoTags` value that names a whole image (`docker.io/library/x:1`,
/// `x:1`), not a bare tag (`1.36`), parsed.
pub fn full_reference(text: &str) -> Option<ImageRef> {
    if !text.contains('/') && !text.contains(':') {
        return None;
    }
    let r: ImageRef = text.parse().ok()?;
    r.digest.is_none().then_some(r)
}

/// A `RepoTags` entry's names: docker writes whole references there, so even a bare
/// word is a repository (`test_image_1` is `docker.io/library/test_image_1:latest`). The
/// normalised reference first, then the text as written (so REF may repeat it).
pub fn repo_tag_names(text: &str) -> Vec<String> {
    let parsed = text.parse::<ImageRef>().ok().filter(|r| r.digest.is_none());
    match parsed.map(|r| r.to_string()) {
        Some(full) if full != text => vec![full, text.to_owned()],
        _ => vec![text.to_owned()],
    }
}

fn short(id: &Digest) -> String {
    format!("sha256:{}", &id.hex()[..SHORT_ID])
}

/// How `entries[i]` is offered in an error: its first full name, else its first name,
/// else its short ID; the short ID (with the name) when another entry shows the same.
fn choices(entries: &[&Held]) -> String {
    let shown = |n: &Held| {
        n.names
            .iter()
            .find_map(|t| full_reference(t).map(|r| r.to_string()))
            .or_else(|| n.names.first().cloned())
    };
    let all: Vec<Option<String>> = entries.iter().map(|n| shown(n)).collect();
    entries
        .iter()
        .zip(&all)
        .map(|(n, s)| match s {
            Some(s) if all.iter().filter(|o| o.as_ref() == Some(s)).count() == 1 => s.clone(),
            Some(s) => format!("{} ({s})", short(&n.id)),
            None => short(&n.id),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one image of `entries` that `reference` names (or the only one when none is
/// given); images of one ID are one image. `source` is how the user wrote the source
/// (`docker-archive:FILE`), for the fix an error names.
pub fn pick(
    path: &Path,
    source: &str,
    entries: &[Held],
    reference: Option<&str>,
) -> Result<usize, LocalError> {
    let found: Vec<usize> = match reference {
        Some(r) => (0..entries.len())
            .filter(|&i| {
                id_matches(&entries[i].id, r) || entries[i].names.iter().any(|n| ref_matches(n, r))
            })
            .collect(),
        None => (0..entries.len()).collect(),
    };
    let mut distinct: Vec<usize> = Vec::new();
    for i in found {
        if !distinct.iter().any(|&j| entries[j].id == entries[i].id) {
            distinct.push(i);
        }
    }
    match (distinct.as_slice(), reference) {
        ([one], _) => Ok(*one),
        ([], Some(r)) => Err(LocalError::NoTag {
            path: path.to_owned(),
            tag: r.to_owned(),
            available: choices(&entries.iter().collect::<Vec<_>>()),
        }),
        ([], None) => Err(LocalError::Invalid {
            path: path.to_owned(),
            reason: "it lists no images".into(),
        }),
        (several, _) => {
            let listed: Vec<&Held> = several.iter().map(|&i| &entries[i]).collect();
            let what = match reference {
                Some(r) => format!(
                    "has {} images that `{r}` names; name one in full",
                    several.len()
                ),
                None => "holds several, so name one".to_owned(),
            };
            Err(LocalError::Several {
                path: path.to_owned(),
                what,
                input: source.to_owned(),
                choices: choices(&listed),
            })
        }
    }
}

/// What `entries[i]` (picked by `reference`) is named, by the rules of this module;
/// `id_when_unnamed` for sources whose unnamed images are known by ID (`docker save`),
/// else the one unnamed image of a source is `:latest`. With it, whether the name came
/// from the ID (for the note that says so).
pub fn name_of(
    path: &Path,
    entries: &[Held],
    i: usize,
    reference: Option<&str>,
    id_when_unnamed: bool,
) -> Result<(ImageRef, bool), LocalError> {
    let me = &entries[i];
    let full = |n: &String| full_reference(n);
    let matched =
        reference.and_then(|r| me.names.iter().filter(|n| ref_matches(n, r)).find_map(full));
    if let Some(r) = matched.or_else(|| me.names.iter().find_map(full)) {
        return Ok((r, false));
    }
    let shared = |tag: &String| {
        entries
            .iter()
            .any(|o| o.id != me.id && o.names.contains(tag))
    };
    let tag = me
        .names
        .iter()
        .find(|t| crate::oci::reference::valid_tag(t) && !shared(t));
    match tag {
        Some(t) => Ok((fallback_name(path, t)?, false)),
        None if !id_when_unnamed && me.names.is_empty() && entries.len() == 1 => {
            Ok((fallback_name(path, "latest")?, false))
        }
        None => Ok((fallback_name(path, &me.id.hex()[..SHORT_ID])?, true)),
    }
}

/// `localhost/<file name>:<tag>`: the name of a local image that names itself nowhere.
fn fallback_name(path: &Path, tag: &str) -> Result<ImageRef, LocalError> {
    let full = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let stem = full
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_else(|| "image".into());
    let stem = stem.strip_suffix(".tar").map(str::to_owned).unwrap_or(stem);
    let base: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("localhost/{}:{tag}", base.trim_matches('-'))
        .parse()
        .map_err(|e| LocalError::Invalid {
            path: path.to_owned(),
            reason: format!("cannot name the image: {e}; name it with `… as REGISTRY/REPO:TAG`"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(names: &[&str], seed: &[u8]) -> Held {
        Held {
            names: names.iter().map(|s| s.to_string()).collect(),
            id: Digest::of(seed),
        }
    }

    #[test]
    fn matches_references_as_producers_write_them() {
        let full = "docker.io/library/busybox:1.36";
        assert!(ref_matches(full, full));
        assert!(ref_matches(full, "busybox:1.36"));
        assert!(ref_matches(full, "1.36"));
        assert!(!ref_matches(full, "1.37"));
        assert!(!ref_matches(full, "quay.io/library/busybox:1.36"));
        assert!(ref_matches("1.0", "1.0"));
        assert!(!ref_matches("1.0", "busybox:1.0"));
        assert!(full_reference("1.36").is_none());
    }

    #[test]
    fn repo_tags_are_whole_references() {
        assert_eq!(
            repo_tag_names("test_image_1"),
            ["docker.io/library/test_image_1:latest", "test_image_1"]
        );
        assert_eq!(
            repo_tag_names("docker.io/library/busybox:1.36"),
            ["docker.io/library/busybox:1.36"]
        );
    }

    #[test]
    fn ids_pick_and_name_what_names_do_not_tell_apart() {
        let p = Path::new("/x/app.tar");
        let both = [held(&["1.0.0"], b"a"), held(&["1.0.0"], b"b")];
        let err = pick(p, "oci:/x/app.tar", &both, Some("1.0.0"))
            .unwrap_err()
            .to_string();
        let (a, b) = (short(&both[0].id), short(&both[1].id));
        assert_eq!(
            err,
            format!(
                "`/x/app.tar` has 2 images that `1.0.0` names; name one in full as `oci:/x/app.tar:REF`, REF one of: {a} (1.0.0), {b} (1.0.0)"
            )
        );
        assert_eq!(pick(p, "", &both, Some(&b)).unwrap(), 1);
        assert!(pick(p, "", &both, Some("sha256:abc")).is_err());
        let (name, by_id) = name_of(p, &both, 1, Some(&b), false).unwrap();
        assert_eq!(
            name.to_string(),
            format!("localhost/app:{}", &both[1].id.hex()[..12])
        );
        assert!(by_id);
        let one = [held(&[], b"c")];
        let (name, _) = name_of(p, &one, 0, None, false).unwrap();
        assert_eq!(name.to_string(), "localhost/app:latest");
        let (name, _) = name_of(p, &one, 0, None, true).unwrap();
        assert_eq!(
            name.to_string(),
            format!("localhost/app:{}", &one[0].id.hex()[..12])
        );
    }
}
