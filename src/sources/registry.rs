//! A registry as a source, over the distribution API: the client in `crate::registry`
//! does the talking (auth, TLS, retries, limits); this file answers the [`Source`]
//! questions with it. A tag is asked with HEAD first when `--since` bundles hold
//! manifests, so an unchanged tag costs no GET; a registry is asked for the referrers API
//! once, and then never again when it lacks it.

use super::source::{BlobStream, Held, Known, Resolved, Source, SourceError};
use crate::oci::artifact::Referrer;
use crate::oci::{Descriptor, Digest, ImageRef, RawManifest};
use crate::registry::{Access, Registry, RegistryError};
use futures_util::future::BoxFuture;
use futures_util::{StreamExt, TryStreamExt};
use std::sync::{Arc, Mutex};

/// A registry opened as a source.
pub struct RegistrySource {
    registry: Arc<Registry>,
    /// Whether it answered the referrers API, learned on the first ask, so a registry
    /// without it costs one 404 per pack (a few, when images are resolved at once), not
    /// one per manifest.
    referrers_api: Mutex<Option<bool>>,
}

impl RegistrySource {
    /// Wraps a registry client.
    pub fn new(registry: Arc<Registry>) -> RegistrySource {
        RegistrySource {
            registry,
            referrers_api: Mutex::new(None),
        }
    }

    fn learned(&self) -> Option<bool> {
        *self.referrers_api.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn learn(&self, answers: bool) {
        *self.referrers_api.lock().unwrap_or_else(|e| e.into_inner()) = Some(answers);
    }

    async fn find(&self, r: ImageRef, known: &Known) -> Result<Resolved, RegistryError> {
        let registry = &self.registry;
        registry.ready(&Access::Pull(r.repository.clone())).await?;
        // HEAD first when manifests are at hand: registries count GETs against rate
        // limits, and an unchanged tag needs no GET at all.
        let at_hand = match (&r.digest, known.is_empty()) {
            (Some(d), _) => known.get(d).cloned(),
            (None, false) => match registry
                .head_manifest(&r.repository, &r.manifest_reference())
                .await
            {
                Ok(Some(d)) => known.get(&d).cloned(),
                _ => None,
            },
            (None, true) => None,
        };
        let top = match at_hand {
            Some(m) => m,
            None => {
                registry
                    .get_manifest(&r.repository, &r.manifest_reference())
                    .await?
            }
        };
        Ok(Resolved {
            pinned: r.digest.is_some(),
            name: r,
            top,
            notes: Vec::new(),
        })
    }
}

impl Source for RegistrySource {
    fn describe(&self) -> String {
        self.registry.name.clone()
    }

    fn list(&self) -> Result<Vec<Held>, SourceError> {
        Ok(Vec::new())
    }

    fn resolve<'a>(
        &'a self,
        reference: Option<&'a str>,
        known: &'a Known,
    ) -> BoxFuture<'a, Result<Resolved, SourceError>> {
        Box::pin(async move {
            // `location.rs` parsed it already; a registry needs the whole reference.
            let r: ImageRef = reference.unwrap_or_default().parse()?;
            Ok(self.find(r, known).await?)
        })
    }

    fn manifest<'a>(
        &'a self,
        repo: &'a str,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<RawManifest, SourceError>> {
        Box::pin(async move {
            let r = &self.registry;
            let m = r.get_manifest(repo, desc.digest.as_str()).await?;
            // The digest matched, so a size mismatch means the referring index lied.
            if m.bytes.len() as u64 != desc.size {
                return Err(RegistryError::Content {
                    registry: r.name.clone(),
                    what: format!("manifest {} in `{repo}`", desc.digest),
                    source: crate::oci::DigestError::SizeMismatch {
                        digest: Box::new(desc.digest.clone()),
                        expected: desc.size,
                        got: m.bytes.len() as u64,
                    },
                }
                .into());
            }
            Ok(m)
        })
    }

    fn blob<'a>(
        &'a self,
        repo: &'a str,
        desc: &'a Descriptor,
        offset: u64,
    ) -> BoxFuture<'a, Result<(BlobStream, u64), SourceError>> {
        Box::pin(async move {
            let (stream, start) = self.registry.get_blob_from(repo, desc, offset).await?;
            Ok((stream.map_err(SourceError::from).boxed(), start))
        })
    }

    fn tagged<'a>(
        &'a self,
        repo: &'a str,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<RawManifest>, SourceError>> {
        Box::pin(async move {
            Ok(self
                .registry
                .get_manifest_if_exists(repo, reference)
                .await?)
        })
    }

    fn referrers<'a>(
        &'a self,
        repo: &'a str,
        subject: &'a Digest,
    ) -> BoxFuture<'a, Result<Option<Vec<Referrer>>, SourceError>> {
        Box::pin(async move {
            if self.learned() == Some(false) {
                return Ok(None);
            }
            let answer = self.registry.referrers(repo, subject).await?;
            self.learn(answer.is_some());
            Ok(answer)
        })
    }
}
