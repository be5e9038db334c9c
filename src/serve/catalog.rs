//! What `serve` answers with, worked out once at start: every image of every bundle given
//! that passes the same checks `unpack` applies (its manifests' verified bytes agree with
//! the index, and everything it needs is held by one of the bundles), placed in the
//! repository a push would use. A request can only reach a manifest or blob listed here,
//! under a repository whose images use it, so nothing the index merely claims is served.
//!
//! Several bundles are one catalog: an update bundle's external blobs and manifests are
//! found in the bundles given before it, and a tag given by a later bundle wins.

use crate::bundle::agreement::{Bytes, Checked, check_fetched};
use crate::bundle::index::ImageEntry;
use crate::bundle::partial_index;
use crate::bundle::reader::BundleReader;
use crate::destination::{self, Named, Naming};
use crate::oci::artifact::{referrers_index_entry, subject_of};
use crate::oci::{Descriptor, Digest, RawManifest};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Where a manifest's bytes come from.
#[derive(Clone, Debug)]
pub enum ManifestSource {
    /// Stored in bundle number `bundle`; re-read (and re-hashed) on every request.
    Stored {
        /// Position of the bundle in [`Catalog::bundles`].
        bundle: usize,
        /// Media type, from the verified bytes.
        media_type: String,
        /// Size in bytes.
        size: u64,
    },
    /// An index reduced to the platforms carried, built at start (a tag of an image of
    /// which only some platforms travelled points at it, as after a push).
    Built(RawManifest),
}

/// A blob's holder and size.
#[derive(Clone, Copy, Debug)]
pub struct BlobSource {
    /// Position of the bundle in [`Catalog::bundles`].
    pub bundle: usize,
    /// Size in bytes (checked against the bytes on the first read).
    pub size: u64,
}

/// One served repository.
#[derive(Debug, Default)]
pub struct Repository {
    /// Tag → manifest digest.
    pub tags: BTreeMap<String, Digest>,
    /// Manifests reachable in this repository.
    pub manifests: HashSet<Digest>,
    /// Blobs reachable in this repository.
    pub blobs: HashSet<Digest>,
    /// Subject digest → descriptors of the manifests in this repository that name it.
    pub referrers: HashMap<Digest, Vec<Value>>,
}

impl Repository {
    /// Adds what `part` holds; its tags replace this repository's (a later bundle wins).
    fn merge(&mut self, part: &Repository) {
        self.tags
            .extend(part.tags.iter().map(|(t, d)| (t.clone(), d.clone())));
        self.manifests.extend(part.manifests.iter().cloned());
        self.blobs.extend(part.blobs.iter().cloned());
        for (subject, found) in &part.referrers {
            let list = self.referrers.entry(subject.clone()).or_default();
            for r in found {
                if !list.iter().any(|d| d["digest"] == r["digest"]) {
                    list.push(r.clone());
                }
            }
        }
    }
}

/// Everything served.
pub struct Catalog {
    /// The bundles, in the order given.
    pub bundles: Vec<BundleReader>,
    /// Served repository name → its content.
    pub repositories: BTreeMap<String, Repository>,
    /// (registry, repository) of the images' names → what those images alone hold: how a
    /// mirror request (`?ns=REGISTRY`) finds an image by its original name, and never
    /// another registry's image that shares the served repository.
    pub origins: HashMap<(String, String), Repository>,
    /// `REGISTRY/REPOSITORY` of the images' names → the served repositories holding
    /// them: the routes client configurations send the nodes along.
    pub routes: BTreeMap<String, BTreeSet<String>>,
    /// Manifest digest → where its bytes are.
    pub manifests: HashMap<Digest, ManifestSource>,
    /// Blob digest → where its bytes are.
    pub blobs: HashMap<Digest, BlobSource>,
    /// Images served, and images refused with the reason.
    pub served: usize,
    /// One line per image not served.
    pub refused: Vec<String>,
}

impl Catalog {
    /// The naming of bundle `n`: `prefix`, with registries kept in the path when
    /// `registry_path` or the bundle asks for it.
    fn naming(bundle: &BundleReader, base: &Naming) -> Naming {
        let mut naming = base.clone();
        naming.registry_path |= bundle.index.registry_path;
        naming
    }

    /// Refuses bundles of which two images would be served under one `repository:tag`
    /// with different digests (a later bundle's tag of the same image name is an update).
    pub fn refuse_clashes(bundles: &[BundleReader], base: &Naming) -> Result<(), String> {
        let namings: Vec<Naming> = bundles.iter().map(|b| Self::naming(b, base)).collect();
        let named = bundles.iter().enumerate().flat_map(|(n, b)| {
            let naming = &namings[n];
            b.index.images.iter().map(move |image| Named {
                image,
                bundle: n,
                naming,
            })
        });
        let clashes = destination::clashes(named);
        destination::refusal(&clashes, base).map_or(Ok(()), Err)
    }

    /// Builds the catalog of `bundles` under `prefix`, with registries kept in the path
    /// when `registry_path` (or a bundle packed so).
    pub fn build(bundles: Vec<BundleReader>, base: &Naming) -> Catalog {
        let mut catalog = Catalog {
            bundles,
            repositories: BTreeMap::new(),
            origins: HashMap::new(),
            routes: BTreeMap::new(),
            manifests: HashMap::new(),
            blobs: HashMap::new(),
            served: 0,
            refused: Vec::new(),
        };
        // Whose bytes are where: the first bundle holding a digest serves it.
        let mut stored_manifests: HashMap<Digest, usize> = HashMap::new();
        for (n, reader) in catalog.bundles.iter().enumerate() {
            for m in &reader.index.manifests {
                if reader.has(&m.digest) {
                    stored_manifests.entry(m.digest.clone()).or_insert(n);
                }
            }
            for b in &reader.index.blobs {
                if reader.has(&b.digest) {
                    catalog.blobs.entry(b.digest.clone()).or_insert(BlobSource {
                        bundle: n,
                        size: b.size,
                    });
                }
            }
        }
        for n in 0..catalog.bundles.len() {
            let mut checked = Checked::default();
            let images = catalog.bundles[n].index.images.clone();
            let naming = Self::naming(&catalog.bundles[n], base);
            for image in &images {
                match catalog.admit(n, image, &naming, &mut checked, &stored_manifests) {
                    Ok(()) => catalog.served += 1,
                    Err(reason) => catalog.refused.push(format!(
                        "`{}` (in `{}`) is not served: {reason}",
                        image.reference,
                        catalog.bundles[n].path().display()
                    )),
                }
            }
        }
        catalog
    }

    /// Checks one image of bundle `n` and, when it passes, adds it to its repository.
    fn admit(
        &mut self,
        n: usize,
        image: &ImageEntry,
        naming: &Naming,
        checked: &mut Checked,
        stored: &HashMap<Digest, usize>,
    ) -> Result<(), String> {
        let reader = &self.bundles[n];
        let index = &reader.index;
        // The checks read (and hash) this image's manifests; they are kept for the walk
        // below, so each is read once at start.
        let recorded = Recorded {
            reader,
            manifests: RefCell::new(HashMap::new()),
        };
        let faults = checked.image_faults(index, image, &recorded);
        let mut recorded = recorded.manifests.into_inner();
        if !faults.is_empty() {
            return Err(crate::bundle::agreement::refusal(&faults));
        }
        // Artifacts are served beside their image, as a push leaves them.
        let (closure, artifacts) = index.closure_with_artifacts(image);
        let artifact_tags: Vec<(String, Digest)> = artifacts
            .iter()
            .filter_map(|r| Some((r.tag.clone()?, r.digest.clone())))
            .collect();
        let top_entry = index
            .manifest(&image.digest)
            .ok_or_else(|| format!("manifest {} is not listed", image.digest))?;
        let partial = partial_index::is_partial(top_entry);
        // Every manifest it needs, read (and hashed) from whichever bundle holds it; one
        // another bundle holds is checked against this bundle's summary of it, as a push
        // does. Manifests are read per image and not kept: memory stays flat in entries.
        let mut manifests = Vec::new();
        for d in &closure.manifests {
            let holder = *stored.get(d).ok_or_else(|| self.absent(n, d))?;
            let raw = match recorded.remove(d) {
                Some(raw) if holder == n => raw,
                _ => self.bundles[holder]
                    .manifest(d)
                    .map_err(|e| e.to_string())?,
            };
            if holder != n {
                check_fetched(index, &raw)?;
            }
            manifests.push((holder, raw));
        }
        for b in &closure.blobs {
            if !self.blobs.contains_key(b) {
                return Err(self.absent(n, b));
            }
        }
        let mut target = image.digest.clone();
        let mut built = None;
        if partial {
            let top = &manifests
                .iter()
                .find(|(_, m)| m.digest == image.digest)
                .ok_or("the top manifest was not read")?
                .1;
            if let Some(a) = partial_index::arrival(top_entry, top)? {
                target = a.digest;
                built = a.reduced;
            }
        }
        let name = naming.repository(image);
        // What this image adds, merged below into its served repository and its origin's.
        let mut part = Repository::default();
        let repo = &mut part;
        for (holder, raw) in manifests {
            // The original partial index is not served: it names children not carried.
            if partial && raw.digest == image.digest {
                continue;
            }
            if let Some(subject) = subject_of(&raw) {
                let list = repo.referrers.entry(subject).or_default();
                if !list.iter().any(|d| d["digest"] == raw.digest.as_str()) {
                    list.push(referrers_index_entry(&raw));
                }
            }
            repo.manifests.insert(raw.digest.clone());
            self.manifests
                .entry(raw.digest.clone())
                .or_insert_with(|| ManifestSource::Stored {
                    bundle: holder,
                    media_type: raw.media_type.clone(),
                    size: raw.bytes.len() as u64,
                });
        }
        if let Some(m) = built {
            repo.manifests.insert(m.digest.clone());
            self.manifests
                .entry(m.digest.clone())
                .or_insert(ManifestSource::Built(m));
        }
        repo.blobs.extend(closure.blobs);
        if let Some(tag) = &image.tag {
            repo.tags.insert(tag.clone(), target);
        }
        repo.tags.extend(artifact_tags);
        let origin = destination::Origin::of(image);
        self.routes
            .entry(format!("{}/{}", origin.registry, origin.repository))
            .or_default()
            .insert(name.clone());
        self.repositories.entry(name).or_default().merge(&part);
        self.origins
            .entry((origin.registry, origin.repository))
            .or_default()
            .merge(&part);
        Ok(())
    }

    /// Why `digest`, needed by an image of bundle `n`, is not at hand.
    fn absent(&self, n: usize, digest: &Digest) -> String {
        let reader = &self.bundles[n];
        let missing: Vec<String> = reader
            .volumes_of(digest)
            .iter()
            .filter(|v| reader.missing_volumes().iter().any(|(m, _)| m == *v))
            .map(ToString::to_string)
            .collect();
        if !missing.is_empty() {
            format!(
                "{digest} is in volume {} of the set, which is missing; put it beside the others",
                missing.join(", ")
            )
        } else if !reader.index.carries(digest) {
            format!(
                "{digest} is not in this update bundle (the far side held it when it was packed); serve the bundle that carries it too"
            )
        } else {
            format!("{digest} is not readable in the bundle")
        }
    }

    /// Registries of the images served (of their names, whatever they were read from),
    /// for mirror configuration.
    pub fn source_registries(&self) -> BTreeSet<String> {
        self.origins
            .keys()
            .map(|(registry, _)| registry.clone())
            .collect()
    }

    /// The served repository for a request naming `name`, with the `ns` a mirror client
    /// passes (`None` for a client that addresses this server as the registry). `host`
    /// is the request's `Host`: an `ns` naming this server is the same as none.
    pub fn resolve(&self, name: &str, ns: Option<&str>, host: Option<&str>) -> Option<&Repository> {
        let direct = || self.repositories.get(name);
        match ns {
            None => direct(),
            Some(ns) => self
                .origins
                .get(&(ns.to_ascii_lowercase(), name.to_owned()))
                .or_else(|| (Some(ns) == host).then(direct).flatten()),
        }
    }
}

/// A bundle's bytes for the agreement checks, keeping the manifests they read.
struct Recorded<'a> {
    reader: &'a BundleReader,
    manifests: RefCell<HashMap<Digest, RawManifest>>,
}

impl Bytes for Recorded<'_> {
    fn manifest(&self, digest: &Digest) -> Option<Result<RawManifest, String>> {
        let read = Bytes::manifest(self.reader, digest)?;
        if let Ok(raw) = &read {
            self.manifests
                .borrow_mut()
                .insert(digest.clone(), raw.clone());
        }
        Some(read)
    }

    fn small_blob(&self, desc: &Descriptor) -> Option<Result<Vec<u8>, String>> {
        self.reader.small_blob(desc)
    }
}
