//! What changed between trips: per image (by its far-side name, `repository:tag`) new,
//! changed (old → new digest), unchanged or dropped, which tags moved, and the bytes the
//! newer side adds. Used by `outrider diff OLD NEW` and by `plan`/`pack --since`.

use crate::bundle::index::{BundleIndex, ImageEntry};
use crate::oci::Digest;
use crate::receipt::Receipt;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// What happened to one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not on the older side.
    New,
    /// On both, under another digest: its tag moves.
    Changed,
    /// On both, the same digest.
    Unchanged,
    /// On the older side only.
    Dropped,
}

/// One image's change.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// Its far-side name without a prefix: `repository:tag` (or `repository@digest`).
    pub name: String,
    /// Its reference on the newer side (absent for a dropped image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// What happened.
    pub status: Status,
    /// Its digest on the older side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_digest: Option<Digest>,
    /// Its digest on the newer side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_digest: Option<Digest>,
    /// Bytes of it (artifacts included) the older side does not hold.
    pub added_bytes: u64,
}

/// Every image's change, and the totals.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    /// Newer side's images in order, then the dropped ones.
    pub images: Vec<Change>,
    /// Tags that point at another digest now.
    pub tags_moved: usize,
    /// Bytes on the newer side the older does not hold (each once).
    pub added_bytes: u64,
    /// Counts per status.
    pub new: usize,
    /// Changed.
    pub changed: usize,
    /// Unchanged.
    pub unchanged: usize,
    /// Dropped.
    pub dropped: usize,
}

/// What the older side holds: image names with their digests, and every digest.
#[derive(Default)]
pub struct Older {
    names: BTreeMap<String, Digest>,
    holds: HashSet<Digest>,
}

/// The far-side name of `image` (no prefix).
fn name_of(index: &BundleIndex, image: &ImageEntry) -> String {
    let repo = crate::destination::Naming::new(None, index.registry_path).repository(image);
    match &image.tag {
        Some(t) => format!("{repo}:{t}"),
        None => format!("{repo}@{}", image.digest),
    }
}

impl Older {
    /// Adds an older bundle's images and everything it lists.
    pub fn add_bundle(&mut self, index: &BundleIndex) {
        for i in &index.images {
            self.names.insert(name_of(index, i), i.digest.clone());
        }
        self.holds
            .extend(index.manifests.iter().map(|m| m.digest.clone()));
        self.holds
            .extend(index.blobs.iter().map(|b| b.digest.clone()));
    }

    /// Adds a receipt's tags and everything it lists.
    pub fn add_receipt(&mut self, receipt: &Receipt) {
        for (repo, content) in &receipt.repositories {
            for (tag, digest) in &content.tags {
                self.names.insert(format!("{repo}:{tag}"), digest.clone());
            }
            self.holds.extend(content.manifests.iter().cloned());
            self.holds.extend(content.blobs.iter().cloned());
        }
    }

    /// The older digest of `name`: exactly, or under a prefix (`mirror/library/nginx:1`
    /// in a receipt for `library/nginx:1`).
    fn find(&self, name: &str) -> Option<(&String, &Digest)> {
        self.names.get_key_value(name).or_else(|| {
            let tail = format!("/{name}");
            self.names.iter().find(|(k, _)| k.ends_with(&tail))
        })
    }
}

/// The changes from `older` to `newer`.
pub fn between(older: &Older, newer: &BundleIndex) -> Changes {
    let mut out = Changes::default();
    let mut seen: HashSet<&String> = HashSet::new();
    let mut added: HashSet<&Digest> = HashSet::new();
    for image in &newer.images {
        let name = name_of(newer, image);
        let (closure, _) = newer.closure_with_artifacts(image);
        let mut bytes = 0u64;
        for d in closure.manifests.iter().chain(&closure.blobs) {
            if !older.holds.contains(d) {
                bytes += newer.size_of(d).unwrap_or(0);
                if let Some(entry) = newer
                    .manifest(d)
                    .map(|m| &m.digest)
                    .or_else(|| newer.blob(d).map(|b| &b.digest))
                {
                    added.insert(entry);
                }
            }
        }
        let old = older.find(&name);
        if let Some((k, _)) = old {
            seen.insert(k);
        }
        let status = match old {
            None => Status::New,
            Some((_, d)) if *d == image.digest => Status::Unchanged,
            Some(_) => Status::Changed,
        };
        if status == Status::Changed && image.tag.is_some() {
            out.tags_moved += 1;
        }
        out.images.push(Change {
            name,
            reference: Some(image.reference.clone()),
            status,
            old_digest: old.map(|(_, d)| d.clone()),
            new_digest: Some(image.digest.clone()),
            added_bytes: bytes,
        });
    }
    for (name, digest) in &older.names {
        if !seen.contains(name) {
            out.images.push(Change {
                name: name.clone(),
                reference: None,
                status: Status::Dropped,
                old_digest: Some(digest.clone()),
                new_digest: None,
                added_bytes: 0,
            });
        }
    }
    out.added_bytes = added.iter().map(|d| newer.size_of(d).unwrap_or(0)).sum();
    for c in &out.images {
        match c.status {
            Status::New => out.new += 1,
            Status::Changed => out.changed += 1,
            Status::Unchanged => out.unchanged += 1,
            Status::Dropped => out.dropped += 1,
        }
    }
    out
}

impl Changes {
    /// Rows for a table: STATUS, IMAGE, OLD, NEW, ADDED.
    pub fn rows(&self) -> Vec<Vec<String>> {
        let short = |d: &Option<Digest>| {
            d.as_ref()
                .map_or_else(|| "—".to_owned(), |d| d.short().to_owned())
        };
        self.images
            .iter()
            .map(|c| {
                vec![
                    format!("{:?}", c.status).to_lowercase(),
                    c.name.clone(),
                    short(&c.old_digest),
                    short(&c.new_digest),
                    crate::output::bytes(c.added_bytes),
                ]
            })
            .collect()
    }

    /// One line of totals.
    pub fn line(&self) -> String {
        format!(
            "{} new, {} changed ({} tags moved), {} unchanged, {} dropped; {} added",
            self.new,
            self.changed,
            self.tags_moved,
            self.unchanged,
            self.dropped,
            crate::output::bytes(self.added_bytes)
        )
    }
}
