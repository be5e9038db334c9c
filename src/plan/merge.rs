//! Joining the plans of single images into one, in the order the user named the images.
//! Each image is planned on its own (several at once), so the whole plan must not depend
//! on which image's registry answered first: the journal's key and a byte-identical
//! bundle both need the same plan from the same inputs. Joining in request order, each
//! manifest, blob and (subject, artifact) pair kept where it first appears, gives the plan
//! that adding the images one after another would.

use super::planned::{Plan, PlannedBlob};
use crate::oci::Digest;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The plan so far, and what it already holds.
pub(super) struct Merged {
    pub plan: Plan,
    sources: BTreeMap<String, usize>,
    manifests: HashSet<Digest>,
    blobs: HashMap<Digest, usize>,
    /// (subject, artifact) → position in `plan.referrers`.
    related: HashMap<(Digest, Digest), usize>,
}

impl Merged {
    pub fn new() -> Merged {
        Merged {
            plan: Plan::empty(),
            sources: BTreeMap::new(),
            manifests: HashSet::new(),
            blobs: HashMap::new(),
            related: HashMap::new(),
        }
    }

    /// Adds one image's plan, whose blobs all name its one source (index 0).
    pub fn add(&mut self, image: Plan) {
        let mut ids = Vec::with_capacity(image.sources.len());
        for source in image.sources {
            let next = self.plan.sources.len();
            let id = *self.sources.entry(source.describe()).or_insert(next);
            if id == next {
                self.plan.sources.push(source);
            }
            ids.push(id);
        }
        for blob in image.blobs {
            self.add_blob(blob, &ids);
        }
        for (manifest, entry) in image.manifests {
            if self.manifests.insert(manifest.digest.clone()) {
                self.plan.manifests.push((manifest, entry));
            }
        }
        for r in image.referrers {
            // One relation found in several images' repositories is listed once, with each.
            match self.related.get(&(r.subject.clone(), r.digest.clone())) {
                Some(&i) => {
                    let known = &mut self.plan.referrers[i].repositories;
                    for repo in r.repositories {
                        if !known.contains(&repo) {
                            known.push(repo);
                        }
                    }
                }
                None => {
                    self.related.insert(
                        (r.subject.clone(), r.digest.clone()),
                        self.plan.referrers.len(),
                    );
                    self.plan.referrers.push(r);
                }
            }
        }
        for (digest, bytes) in image.prefetched {
            self.plan.prefetched.entry(digest).or_insert(bytes);
        }
        self.plan.images.extend(image.images);
        self.plan.notes.extend(image.notes);
    }

    fn add_blob(&mut self, mut blob: PlannedBlob, ids: &[usize]) {
        match self.blobs.get(&blob.descriptor.digest) {
            Some(&i) => {
                let known = &mut self.plan.blobs[i];
                for repo in blob.repositories {
                    if !known.repositories.contains(&repo) {
                        known.repositories.push(repo);
                    }
                }
            }
            None => {
                blob.source = ids[blob.source];
                self.blobs
                    .insert(blob.descriptor.digest.clone(), self.plan.blobs.len());
                self.plan.blobs.push(blob);
            }
        }
    }
}
