//! What the far side already holds, gathered from receipts, earlier bundles and
//! `--already-transferred` images. `pack` stores nothing the far side has; it lists it as
//! external instead. Every source yields the same thing — the digests the destination
//! holds after that push — so a receipt round trip and `--since OLD.zip` give equal bundles.

use crate::bundle::index::ManifestEntry;
use crate::bundle::reader::BundleReader;
use crate::oci::{Digest, RawManifest};
use crate::receipt::Receipt;
use std::collections::BTreeMap;

/// Digests the far side holds, each with a repository known to hold it (the smallest
/// name when several do, so the choice is deterministic).
#[derive(Clone, Debug, Default)]
pub struct FarSide {
    held: BTreeMap<Digest, String>,
}

impl FarSide {
    /// Whether the far side holds `digest`.
    pub fn holds(&self, digest: &Digest) -> bool {
        self.held.contains_key(digest)
    }

    /// A repository at the far side holding `digest`.
    pub fn repository_of(&self, digest: &Digest) -> Option<&String> {
        self.held.get(digest)
    }

    /// Number of digests known.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// True when nothing is known.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    fn add(&mut self, digest: Digest, repo: &str) {
        self.held
            .entry(digest)
            .and_modify(|r| {
                if repo < r.as_str() {
                    *r = repo.to_owned()
                }
            })
            .or_insert_with(|| repo.to_owned());
    }

    /// Everything a receipt lists.
    pub fn add_receipt(&mut self, receipt: &Receipt) {
        for (repo, content) in &receipt.repositories {
            for d in content
                .manifests
                .iter()
                .chain(content.blobs.iter())
                .chain(content.tags.values())
            {
                self.add(d.clone(), repo);
            }
        }
    }

    /// Every manifest `bundle` stores, by digest (so `pack` need not fetch them again).
    pub fn manifests_of(bundle: &BundleReader) -> Vec<RawManifest> {
        bundle
            .index
            .manifests
            .iter()
            .filter(|m| bundle.has(&m.digest))
            .filter_map(|m| bundle.manifest(&m.digest).ok())
            .collect()
    }

    /// What pushing `bundle` leaves at the destination: its blobs, its manifests (external
    /// ones too), minus partly carried indexes (never pushed), plus the reduced indexes
    /// pushed in their place.
    pub fn add_bundle(&mut self, bundle: &BundleReader) {
        let index = &bundle.index;
        for image in &index.images {
            let origin = image.origin();
            // Where a push of that bundle put it: under its registry when it asked so (a
            // prefix is the far side's choice, unknown here).
            let repository =
                crate::destination::Naming::new(None, index.registry_path).repository(image);
            let read = |d: &Digest| bundle.manifest(d).ok();
            for (digest, repo) in pushed_digests(index, &image.digest, &origin, &repository, read) {
                self.add(digest, &repo);
            }
        }
    }

    /// Everything an image plan holds once pushed (for `--already-transferred`).
    pub fn add_manifests(
        &mut self,
        manifests: &[(RawManifest, ManifestEntry)],
        image_digest: &Digest,
        repo: &str,
    ) {
        let index = crate::bundle::index::BundleIndex::new(
            String::new(),
            Vec::new(),
            manifests.iter().map(|(_, e)| e.clone()).collect(),
            Vec::new(),
            Vec::new(),
        );
        let bytes = |d: &Digest| {
            manifests
                .iter()
                .find(|(m, _)| &m.digest == d)
                .map(|(m, _)| m.clone())
        };
        // This index lists no artifacts, so no origin is needed to choose among them.
        for (digest, r) in pushed_digests(&index, image_digest, "", repo, bytes) {
            self.add(digest, &r);
        }
    }
}

/// Digests the destination holds after an image is pushed, with its repository.
fn pushed_digests(
    index: &crate::bundle::index::BundleIndex,
    top: &Digest,
    origin: &str,
    repo: &str,
    bytes: impl Fn(&Digest) -> Option<RawManifest>,
) -> Vec<(Digest, String)> {
    // A push sends the image's artifacts with it.
    let (closure, _) = index.closure_at(top, origin);
    let mut out = Vec::new();
    for d in &closure.manifests {
        let Some(m) = index.manifest(d) else {
            continue;
        };
        if crate::bundle::partial_index::is_partial(m) {
            // The reduced index is new at the destination; a single platform's manifest
            // is already in the closure.
            if m.children.len() > 1
                && let Some(raw) = bytes(d)
                && let Ok(Some(arrival)) = crate::bundle::partial_index::arrival(m, &raw)
            {
                out.push((arrival.digest, repo.to_owned()));
            }
        } else {
            out.push((d.clone(), repo.to_owned()));
        }
    }
    out.extend(closure.blobs.into_iter().map(|b| (b, repo.to_owned())));
    out
}
