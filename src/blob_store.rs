//! "Who has the bytes for this digest?" across a bundle, the earlier bundles given with
//! `--base`, and a registry given with `--from-registry`, so an incremental bundle can
//! still become a complete docker-save tar.

use crate::bundle::reader::BundleReader;
use crate::oci::{Digest, RawManifest, Verifier};
use crate::registry::Registry;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

/// A bundle plus the bases and the registry that supply its external entries.
pub struct BlobStore<'a> {
    bundles: Vec<&'a BundleReader>,
    registry: Option<(Arc<Registry>, tokio::runtime::Handle)>,
    /// Digests found in the registry: the repository holding them, and whether each is a
    /// manifest (registries serve those only from the manifests endpoint).
    remote: HashMap<Digest, (String, bool)>,
}

impl<'a> BlobStore<'a> {
    /// The main bundle first, then the bases in the order given.
    pub fn new(main: &'a BundleReader, bases: &'a [BundleReader]) -> BlobStore<'a> {
        BlobStore {
            bundles: std::iter::once(main).chain(bases.iter()).collect(),
            registry: None,
            remote: HashMap::new(),
        }
    }

    /// Also reads what no bundle stores from `registry` (after [`BlobStore::find_remote`]).
    pub fn with_registry(mut self, registry: Arc<Registry>) -> BlobStore<'a> {
        self.registry = Some((registry, tokio::runtime::Handle::current()));
        self
    }

    fn holder(&self, digest: &Digest) -> Option<&'a BundleReader> {
        self.bundles
            .iter()
            .copied()
            .find(|b| b.index.carries(digest))
    }

    /// Looks for `digest` in the registry (in `repos`, first hit wins); records where.
    pub async fn find_remote(
        &mut self,
        digest: &Digest,
        is_manifest: bool,
        repos: &[String],
    ) -> bool {
        let Some((registry, _)) = &self.registry else {
            return false;
        };
        for repo in repos {
            let found = if is_manifest {
                registry
                    .head_manifest(repo, digest.as_str())
                    .await
                    .ok()
                    .flatten()
                    .is_some()
            } else {
                registry.has_blob(repo, digest).await.unwrap_or(false)
            };
            if found {
                self.remote
                    .insert(digest.clone(), (repo.clone(), is_manifest));
                return true;
            }
        }
        false
    }

    /// Whether any bundle stores `digest`, or the registry was found to hold it.
    pub fn has(&self, digest: &Digest) -> bool {
        self.holder(digest).is_some() || self.remote.contains_key(digest)
    }

    /// A verifying reader over the blob. Call from a blocking context (the registry
    /// reader drives its download with the runtime's `block_on`).
    pub fn reader(&self, digest: &Digest, size: u64) -> std::io::Result<Box<dyn Read + Send + 'a>> {
        if let Some(b) = self.holder(digest) {
            return Ok(Box::new(
                b.blob_reader(digest, size)
                    .map_err(|e| std::io::Error::other(e.to_string()))?,
            ));
        }
        match (&self.registry, self.remote.get(digest)) {
            (Some(_), Some((_, true))) => {
                let manifest = self.manifest(digest).map_err(std::io::Error::other)?;
                if manifest.bytes.len() as u64 != size {
                    return Err(std::io::Error::other(format!(
                        "manifest {digest}: expected {size} bytes, the registry has {}",
                        manifest.bytes.len()
                    )));
                }
                Ok(Box::new(std::io::Cursor::new(manifest.bytes)))
            }
            (Some((registry, handle)), Some((repo, false))) => {
                let desc = crate::oci::Descriptor {
                    media_type: String::new(),
                    digest: digest.clone(),
                    size,
                };
                let stream = handle
                    .block_on(registry.get_blob(repo, &desc))
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                Ok(Box::new(RemoteReader {
                    stream: stream.boxed(),
                    handle: handle.clone(),
                    pending: Bytes::new(),
                    verifier: Some(Verifier::new(digest, size)),
                }))
            }
            _ => Err(std::io::Error::other(format!(
                "blob {digest} is in no bundle and no registry given"
            ))),
        }
    }

    /// A manifest's bytes, from whichever bundle stores them, else the registry.
    pub fn manifest(&self, digest: &Digest) -> Result<RawManifest, String> {
        if let Some(b) = self.holder(digest) {
            return b.manifest(digest).map_err(|e| e.to_string());
        }
        match (&self.registry, self.remote.get(digest)) {
            (Some((registry, handle)), Some((repo, _))) => tokio::task::block_in_place(|| {
                handle.block_on(registry.get_manifest(repo, digest.as_str()))
            })
            .map_err(|e| e.to_string()),
            _ => self.bundles[0].manifest(digest).map_err(|e| e.to_string()),
        }
    }
}

/// A registry blob as a blocking, verifying reader.
struct RemoteReader {
    stream: BoxStream<'static, Result<Bytes, crate::registry::RegistryError>>,
    handle: tokio::runtime::Handle,
    pending: Bytes,
    verifier: Option<Verifier>,
}

impl Read for RemoteReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            let Some(verifier) = self.verifier.as_mut() else {
                return Ok(0);
            };
            match self.handle.block_on(self.stream.next()) {
                Some(chunk) => {
                    let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()))?;
                    verifier.update(&chunk).map_err(std::io::Error::other)?;
                    self.pending = chunk;
                }
                None => {
                    if let Some(v) = self.verifier.take() {
                        v.finish().map_err(std::io::Error::other)?;
                    }
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending = self.pending.slice(n..);
        Ok(n)
    }
}

/// The agreement checks read manifests and configs from wherever the store finds them, so
/// an incremental bundle's external manifests are checked against its index too.
impl crate::bundle::agreement::Bytes for BlobStore<'_> {
    fn manifest(&self, digest: &Digest) -> Option<Result<RawManifest, String>> {
        self.has(digest).then(|| BlobStore::manifest(self, digest))
    }

    fn small_blob(&self, desc: &crate::oci::Descriptor) -> Option<Result<Vec<u8>, String>> {
        self.has(&desc.digest).then(|| {
            let mut buf = Vec::new();
            self.reader(&desc.digest, desc.size)
                .and_then(|mut r| r.read_to_end(&mut buf))
                .map_err(|e| e.to_string())?;
            Ok(buf)
        })
    }
}
