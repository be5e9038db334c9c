//! `unpack --push`: bundle → registry. Owns reaching the registry (its connection
//! settings, one readiness check before any blob moves, for push or, with a dry run, pull
//! access) and choosing between the push ([`crate::copy::to_registry`], which owns the
//! concurrency) and its preview ([`crate::copy::push_preview`]).

use crate::bundle::reader::BundleReader;
use crate::copy::push_preview::{PushPreview, preview};
use crate::copy::to_registry::{MissingAtDestination, PushOptions, PushResult, push_bundle};
use crate::progress::Progress;
use crate::registry::credentials::ExplicitCredentials;
use crate::registry::http::TransportOptions;
use crate::registry::{Access, Registries, Registry, RegistryError};
use std::sync::Arc;

/// Where and how `--push` writes, decided once from the command line (and the config
/// given with `-c`, for the registry and its settings).
#[derive(Clone, Debug)]
pub struct Options {
    /// The registry's `host[:port]`.
    pub host: String,
    /// Connection settings (TLS, plain HTTP, mirrors, timeouts).
    pub transport: TransportOptions,
    /// Credentials given explicitly, and the hosts they apply to.
    pub credentials: ExplicitCredentials,
    /// Naming, concurrency, chunking and strictness of the push.
    pub push: PushOptions,
    /// Ask the registry what a push would do; write nothing.
    pub dry_run: bool,
    /// Create missing namespaces first (Harbor projects).
    pub create_repositories: bool,
}

/// The push could not start, or stopped before writing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registry could not be reached.
    #[error("connecting to `{host}`")]
    Connect {
        /// The registry.
        host: String,
        /// Why.
        source: RegistryError,
    },
    /// The registry answered the readiness check with a refusal (its own words).
    #[error(transparent)]
    NotReady(RegistryError),
    /// The dry run could not ask the registry what it holds.
    #[error("asking `{host}` what it holds")]
    Preview {
        /// The registry.
        host: String,
        /// Why.
        source: RegistryError,
    },
    /// `strict`: content the bundle expects at the registry is missing there.
    #[error(transparent)]
    Missing(#[from] MissingAtDestination),
    /// `--create-repositories`: a namespace could not be made.
    #[error("creating the namespaces at `{host}`")]
    Create {
        /// The registry.
        host: String,
        /// Why.
        source: RegistryError,
    },
}

impl Options {
    /// Connects to the registry and checks once, before any blob moves, that it can be
    /// used for the first image's repository (push access, or pull for a dry run): a
    /// registry that cannot be used is one error line.
    pub async fn connect(&self, reader: &BundleReader) -> Result<Arc<Registry>, Error> {
        let registries = Registries::new(self.transport.clone(), self.credentials.clone());
        let registry = registries
            .get(&self.host)
            .await
            .map_err(|source| Error::Connect {
                host: self.host.clone(),
                source,
            })?;
        if let Some(image) = reader.index.images.first() {
            let repo = self.push.naming.repository(image);
            let access = if self.dry_run {
                Access::Pull(repo)
            } else {
                Access::Push(repo)
            };
            registry.ready(&access).await.map_err(Error::NotReady)?;
        }
        Ok(registry)
    }

    /// Pushes every image of the bundle; see [`push_bundle`].
    pub async fn push(
        &self,
        registry: &Registry,
        reader: &BundleReader,
        progress: &Progress,
    ) -> Result<PushResult, Error> {
        if self.create_repositories {
            self.create_namespaces(registry, reader).await?;
        }
        Ok(push_bundle(reader, registry, &self.push, progress).await?)
    }

    /// `--create-repositories`: on a Harbor, each project the images land in, made
    /// unless it exists; on another registry nothing (said once).
    async fn create_namespaces(
        &self,
        registry: &Registry,
        reader: &BundleReader,
    ) -> Result<(), Error> {
        if !registry.is_harbor().await {
            crate::output::note(&format!(
                "--create-repositories: `{}` answers no Harbor API, the one this knows how to create namespaces with; pushing as it is",
                self.host
            ));
            return Ok(());
        }
        let projects: std::collections::BTreeSet<String> = reader
            .index
            .images
            .iter()
            .map(|i| self.push.naming.repository(i))
            .filter_map(|r| r.split('/').next().map(str::to_owned))
            .collect();
        for project in projects {
            let made = registry
                .create_harbor_project(&project)
                .await
                .map_err(|source| Error::Create {
                    host: self.host.clone(),
                    source,
                })?;
            if made {
                crate::output::note(&format!(
                    "made the private Harbor project `{project}` at `{}`",
                    self.host
                ));
            }
        }
        Ok(())
    }

    /// Per image, what a push would send and where its tag would move (HEAD requests, and
    /// one upload session per repository opened and cancelled).
    pub async fn preview(
        &self,
        registry: &Registry,
        reader: &BundleReader,
    ) -> Result<Vec<PushPreview>, Error> {
        preview(reader, registry, &self.push.naming)
            .await
            .map_err(|source| Error::Preview {
                host: self.host.clone(),
                source,
            })
    }
}
