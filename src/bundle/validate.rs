//! The boundary between an untrusted `outrider.json` and everything that acts on it. A
//! bundle is the one input that crosses the air gap, so before any command reads a name,
//! a number or a graph from its index, [`check_index`] proves: every name matches its
//! grammar (repository paths and tags as the distribution spec defines them, registry
//! hosts, platforms, media types, volume names), every digest is listed once, every
//! reference between entries resolves, the manifest graph has no cycle and no nesting
//! deeper than [`MAX_DEPTH`], and every number (sizes, volume counts, parts) fits what
//! the files can hold. After it, walks terminate, lookups are by digest, and no string
//! from the bundle can reach a URL, a file path or a terminal unchecked.
//!
//! It does not read blob or manifest bytes: whether the index agrees with the manifests
//! is `agreement`'s job, and whether the bytes match their digests the reader's.

use super::entry_name::blob_entry;
use super::index::{BundleIndex, Holding, ImageEntry, VolumeInfo};
use crate::oci::reference::{valid_registry, valid_repository, valid_tag};
use crate::oci::{Digest, ImageRef, Platform, media_type};
use std::collections::{HashMap, HashSet};
use std::fmt::Display;

/// Deepest nesting of indexes accepted: an image index whose children are indexes, and so
/// on. Real images nest one level (an index of image manifests); two is already rare.
pub const MAX_DEPTH: usize = 8;
/// Longest free-text field accepted (a requested reference, an `oci:` source path).
const MAX_TEXT: usize = 4096;
/// Longest media type accepted (RFC 6838 allows 127 + 1 + 127).
const MAX_MEDIA_TYPE: usize = 255;
/// Longest volume set name accepted (a file name stem).
const MAX_VOLUME_NAME: usize = 200;

/// Where a value sits in the index (`blobs[3] (sha256:…)` and a field), put into words
/// only when an error names it: a large index has tens of thousands of entries and none
/// of them should cost a formatted string on the way through.
#[derive(Clone, Copy)]
struct At<'a> {
    list: &'static str,
    i: usize,
    digest: &'a Digest,
    field: &'static str,
}

impl<'a> At<'a> {
    fn new(list: &'static str, i: usize, digest: &'a Digest) -> At<'a> {
        At {
            list,
            i,
            digest,
            field: "",
        }
    }

    /// The same place, one field further in (`.repositories`).
    fn field(self, field: &'static str) -> At<'a> {
        At { field, ..self }
    }
}

impl Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}[{}] ({}){}",
            self.list, self.i, self.digest, self.field
        )
    }
}

/// Checks everything [`check_index`] describes; the error is the first fault, naming the
/// field and what is wrong with it (already safe to print).
pub fn check_index(index: &BundleIndex) -> Result<(), String> {
    if index.format_version == 0 {
        return Err("`formatVersion` 0 does not exist".into());
    }
    text(&"tool", &index.tool, MAX_TEXT)?;
    let mut manifests: HashMap<&Digest, usize> = HashMap::with_capacity(index.manifests.len());
    for (i, m) in index.manifests.iter().enumerate() {
        let at = At::new("manifests", i, &m.digest);
        if manifests.insert(&m.digest, i).is_some() {
            return Err(format!("{at}: listed twice"));
        }
        let is_index = media_type::is_index(&m.media_type);
        if !is_index && !media_type::is_image_manifest(&m.media_type) {
            return Err(format!(
                "{at}: `{}` is not a manifest media type",
                shown(&m.media_type)
            ));
        }
        if m.size > crate::oci::manifest::MAX_MANIFEST_BYTES {
            return Err(format!(
                "{at}: {} bytes is larger than a manifest may be",
                m.size
            ));
        }
        if let Some(p) = &m.platform {
            platform(&at, p)?;
        }
        entry_name(&at, &m.digest, m.entry.as_deref())?;
        if let Some(r) = &m.destination_repository {
            repository(&at.field(".destinationRepository"), r)?;
        }
        if is_index {
            if !m.blobs.is_empty() {
                return Err(format!("{at}: an index lists no blobs"));
            }
            if m.complete.is_none() {
                return Err(format!("{at}: an index needs `complete`"));
            }
            let mut seen = HashSet::new();
            if let Some(c) = m.children.iter().find(|c| !seen.insert(*c)) {
                return Err(format!("{at}: child {c} listed twice"));
            }
        } else {
            if !m.children.is_empty() || m.complete.is_some() {
                return Err(format!(
                    "{at}: an image manifest has no `children` or `complete`"
                ));
            }
            if m.blobs.is_empty() {
                return Err(format!("{at}: an image manifest lists its config"));
            }
        }
    }
    let mut blobs: HashSet<&Digest> = HashSet::with_capacity(index.blobs.len());
    let mut total: u64 = 0;
    for (i, b) in index.blobs.iter().enumerate() {
        let at = At::new("blobs", i, &b.digest);
        if !blobs.insert(&b.digest) {
            return Err(format!("{at}: listed twice"));
        }
        if manifests.contains_key(&b.digest) {
            return Err(format!("{at}: listed both as a manifest and as a blob"));
        }
        media_type_text(&at, &b.media_type)?;
        for r in &b.repositories {
            repository(&at.field(".repositories"), r)?;
        }
        entry_name(&at, &b.digest, b.entry.as_deref())?;
        if let Some(r) = &b.destination_repository {
            repository(&at.field(".destinationRepository"), r)?;
        }
        total = total
            .checked_add(b.size)
            .ok_or_else(|| format!("{at}: sizes add up to more than 2^64 bytes"))?;
    }
    for (i, m) in index.manifests.iter().enumerate() {
        let at = At::new("manifests", i, &m.digest);
        if let Some(c) = m.children.iter().find(|c| !manifests.contains_key(c)) {
            return Err(format!("{at}: child {c} is not listed in `manifests`"));
        }
        if let Some(b) = m.blobs.iter().find(|b| !blobs.contains(b)) {
            return Err(format!("{at}: blob {b} is not listed in `blobs`"));
        }
    }
    check_graph(index, &manifests)?;
    super::referrers::check(index, &manifests, media_type_text)?;
    for (i, image) in index.images.iter().enumerate() {
        check_image(&format_args!("images[{i}]"), image, index)?;
    }
    if let Some(volume) = &index.volume {
        check_volume(index, volume)?;
    }
    Ok(())
}

/// The children graph is acyclic and no path from any manifest is deeper than
/// [`MAX_DEPTH`]: an iterative depth-first search with three colours, so a hostile chain
/// cannot overflow the stack however long it is.
fn check_graph(index: &BundleIndex, positions: &HashMap<&Digest, usize>) -> Result<(), String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        White,
        Grey,
        Black,
    }
    let mut colour = vec![Colour::White; index.manifests.len()];
    // Height of each finished node: the longest chain of children below it.
    let mut height = vec![0usize; index.manifests.len()];
    for root in 0..index.manifests.len() {
        if colour[root] != Colour::White {
            continue;
        }
        // (node, next child to look at)
        let mut stack = vec![(root, 0usize)];
        colour[root] = Colour::Grey;
        while let Some(last) = stack.len().checked_sub(1) {
            let (node, next) = stack[last];
            let children = &index.manifests[node].children;
            if let Some(child) = children.get(next) {
                stack[last].1 += 1;
                let c = positions[child];
                match colour[c] {
                    Colour::Grey => {
                        return Err(format!(
                            "manifest {} is its own descendant (a cycle through `children`)",
                            index.manifests[node].digest
                        ));
                    }
                    Colour::White => {
                        if stack.len() > MAX_DEPTH {
                            return Err(format!(
                                "manifest {} nests indexes deeper than {MAX_DEPTH} levels",
                                index.manifests[root].digest
                            ));
                        }
                        colour[c] = Colour::Grey;
                        stack.push((c, 0));
                    }
                    Colour::Black => {}
                }
                continue;
            }
            let h = children
                .iter()
                .map(|c| height[positions[c]] + 1)
                .max()
                .unwrap_or(0);
            if h > MAX_DEPTH {
                return Err(format!(
                    "manifest {} nests indexes deeper than {MAX_DEPTH} levels",
                    index.manifests[node].digest
                ));
            }
            height[node] = h;
            colour[node] = Colour::Black;
            stack.pop();
        }
    }
    Ok(())
}

/// The path of a local source (`KIND:PATH`, KIND lowercase letters, digits and `-`, as
/// `oci`, `oci-archive`, `docker-archive`, `docker-charon`). Any kind is accepted, not a
/// fixed list: `source` is provenance only, and a list here would make every bundle from a
/// source added later unreadable at the far side.
fn local_source_path(source: &str) -> Option<&str> {
    let (kind, path) = source.split_once(':')?;
    let kind_ok = kind.starts_with(|c: char| c.is_ascii_lowercase())
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    (kind_ok && !path.is_empty()).then_some(path)
}

fn check_image(at: &dyn Display, image: &ImageEntry, index: &BundleIndex) -> Result<(), String> {
    text(&format!("{at}.requested"), &image.requested, MAX_TEXT)?;
    repository(&format!("{at}.repository"), &image.repository)?;
    if let Some(t) = &image.tag
        && !valid_tag(t)
    {
        return Err(format!("{at}.tag `{}` is not a tag", shown(t)));
    }
    if !valid_registry(&image.source) {
        match local_source_path(&image.source) {
            Some(path) => text(&format!("{at}.source"), path, MAX_TEXT)?,
            None => {
                return Err(format!(
                    "{at}.source `{}` is not a registry host[:port] or a local source `KIND:PATH` (`oci:PATH`, `docker-archive:PATH`, …)",
                    shown(&image.source)
                ));
            }
        }
    }
    // The reference names the image in tars and tables; the repository and tag name it
    // at the destination. They must say the same thing.
    let parsed: ImageRef = image.reference.parse().map_err(|_| {
        format!(
            "{at}.reference `{}` is not an image reference",
            shown(&image.reference)
        )
    })?;
    if parsed.repository != image.repository
        || parsed.tag != image.tag
        || parsed.digest.as_ref().is_some_and(|d| d != &image.digest)
    {
        return Err(format!(
            "{at}.reference `{}` disagrees with its repository, tag or digest",
            shown(&image.reference)
        ));
    }
    let top = index.manifest(&image.digest).ok_or_else(|| {
        format!(
            "{at}: manifest {} is not listed in `manifests`",
            image.digest
        )
    })?;
    if top.media_type != image.media_type {
        return Err(format!(
            "{at}.mediaType `{}` differs from its manifest's `{}`",
            shown(&image.media_type),
            shown(&top.media_type)
        ));
    }
    for p in &image.platforms {
        platform(&format!("{at}.platforms"), p)?;
    }
    Ok(())
}

fn check_volume(index: &BundleIndex, v: &VolumeInfo) -> Result<(), String> {
    let name = &v.name;
    let bare = !name.is_empty()
        && name.len() <= MAX_VOLUME_NAME
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| !c.is_control() && c != '/' && c != '\\' && c != ':');
    if !bare {
        return Err(format!(
            "volume.name `{}` is not a bare file name",
            shown(name)
        ));
    }
    // Every volume holds at least one entry, so the count is bounded by the holdings the
    // index lists: a huge `total` cannot size a loop or an allocation.
    let most = v.holdings.len().max(1) as u64;
    if v.total == 0 || u64::from(v.total) > most {
        return Err(format!(
            "volume.total {} does not fit the {} entries the set holds",
            v.total,
            v.holdings.len()
        ));
    }
    if v.number == 0 || v.number > v.total {
        return Err(format!(
            "volume.number {} is not between 1 and {}",
            v.number, v.total
        ));
    }
    if v.size_limit == 0 {
        return Err("volume.sizeLimit is 0".into());
    }
    let mut used = vec![false; v.total as usize];
    let mut by_digest: HashMap<&Digest, Vec<&Holding>> = HashMap::new();
    for (i, h) in v.holdings.iter().enumerate() {
        let at = At::new("volume.holdings", i, &h.digest);
        if h.volume == 0 || h.volume > v.total {
            return Err(format!("{at}: volume {} is not in the set", h.volume));
        }
        used[(h.volume - 1) as usize] = true;
        let expected = match &h.part {
            None => blob_entry(&h.digest),
            Some(p) => format!("{}.part-{:04}", blob_entry(&h.digest), p.number),
        };
        if h.entry != expected {
            return Err(format!(
                "{at}: entry `{}` should be `{expected}`",
                shown(&h.entry)
            ));
        }
        if !index.carries(&h.digest) {
            return Err(format!("{at}: not a blob or manifest the index carries"));
        }
        by_digest.entry(&h.digest).or_default().push(h);
    }
    if let Some(n) = used.iter().position(|u| !u)
        && !v.holdings.is_empty()
    {
        return Err(format!("volume {} of {} holds nothing", n + 1, v.total));
    }
    let carried = index
        .manifests
        .iter()
        .filter(|m| m.entry.is_some())
        .map(|m| (&m.digest, m.size))
        .chain(
            index
                .blobs
                .iter()
                .filter(|b| b.entry.is_some())
                .map(|b| (&b.digest, b.size)),
        );
    for (digest, size) in carried {
        let Some(holdings) = by_digest.get(digest) else {
            return Err(format!("{digest} is carried but no volume holds it"));
        };
        check_parts(digest, size, holdings)?;
    }
    Ok(())
}

/// A blob is held whole once, or in parts numbered 1..=count, in order, that tile it.
fn check_parts(digest: &Digest, size: u64, holdings: &[&Holding]) -> Result<(), String> {
    if let [whole] = holdings
        && whole.part.is_none()
    {
        return Ok(());
    }
    let count = holdings.len();
    let mut offset = 0u64;
    for (i, h) in holdings.iter().enumerate() {
        let Some(p) = &h.part else {
            return Err(format!("{digest} is held both whole and in parts"));
        };
        if count < 2 || p.count as usize != count || p.number as usize != i + 1 {
            return Err(format!(
                "{digest}: part {} of {} does not fit the {count} parts listed",
                p.number, p.count
            ));
        }
        if p.offset != offset || p.size == 0 {
            return Err(format!(
                "{digest}: part {} does not start where part {} ended",
                p.number, i
            ));
        }
        offset = offset
            .checked_add(p.size)
            .ok_or_else(|| format!("{digest}: part sizes overflow"))?;
    }
    if offset != size {
        return Err(format!(
            "{digest}: parts add up to {offset} bytes, the blob is {size}"
        ));
    }
    Ok(())
}

fn entry_name(at: &dyn Display, digest: &Digest, entry: Option<&str>) -> Result<(), String> {
    match entry {
        Some(e) if e != blob_entry(digest) => Err(format!(
            "{at}: entry `{}` should be `{}`",
            shown(e),
            blob_entry(digest)
        )),
        _ => Ok(()),
    }
}

fn repository(at: &dyn Display, r: &str) -> Result<(), String> {
    if valid_repository(r) {
        Ok(())
    } else {
        Err(format!(
            "{at} `{}` is not a repository path (lowercase components of letters, digits and single separators, joined by `/`)",
            shown(r)
        ))
    }
}

fn platform(at: &dyn Display, p: &Platform) -> Result<(), String> {
    let word = |w: &str| {
        !w.is_empty()
            && w.len() <= 64
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    };
    if word(&p.os) && word(&p.architecture) && p.variant.as_deref().is_none_or(word) {
        Ok(())
    } else {
        Err(format!(
            "{at}: `{}` is not a platform",
            shown(&p.to_string())
        ))
    }
}

fn media_type_text(at: &dyn Display, m: &str) -> Result<(), String> {
    let ok = m.len() <= MAX_MEDIA_TYPE
        && m.split_once('/')
            .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty())
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-/".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("{at}: `{}` is not a media type", shown(m)))
    }
}

fn text(at: &dyn Display, t: &str, max: usize) -> Result<(), String> {
    if t.len() <= max && !t.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(format!(
            "{at} `{}` is too long or holds control characters",
            shown(t)
        ))
    }
}

/// A value from the bundle as it may appear in a message: escaped and cut short.
fn shown(s: &str) -> String {
    let cut: String = s.chars().take(80).collect();
    let more = if cut.len() < s.len() { "…" } else { "" };
    format!("{}{more}", crate::output::sanitize(&cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_local_source_kind_is_provenance_a_reader_accepts() {
        for source in [
            "oci:/a",
            "docker-charon:p.zip",
            "chart:https://charts.example/app",
            "file:notes.txt",
        ] {
            assert!(local_source_path(source).is_some(), "{source}");
        }
        for source in ["Oci:/a", "oci:", ":x", "-x:y", "no colon"] {
            assert!(local_source_path(source).is_none(), "{source}");
        }
    }
}
