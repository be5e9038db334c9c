//! The reading verbs: manifests as exact bytes with their digest checked, blobs as
//! streams the caller verifies, and existence checks.

use super::access::Access;
use super::client::Registry;
use super::endpoint::Endpoint;
use super::error::RegistryError;
use super::{body, transport};
use crate::oci::{Descriptor, Digest, RawManifest, media_type};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use reqwest::StatusCode;

/// The `Docker-Content-Digest` a response names, when it is a digest.
pub(super) fn content_digest(response: &reqwest::Response) -> Option<Digest> {
    response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The first byte a `Content-Range: bytes START-END/TOTAL` header names.
fn content_range_start(value: &str) -> Option<u64> {
    let range = value.trim().strip_prefix("bytes ")?;
    range.split('-').next()?.trim().parse().ok()
}

impl Registry {
    /// Sends `method` for a manifest by tag or digest, accepting every manifest type;
    /// returns the words naming it and the response, whatever its status.
    async fn manifest_request(
        &self,
        repo: &str,
        reference: &str,
        method: reqwest::Method,
    ) -> Result<(String, reqwest::Response), RegistryError> {
        let what = format!("manifest `{repo}:{reference}`");
        let url = self
            .endpoint_url(repo, Endpoint::Manifest(reference), &what)
            .await?;
        let response = self
            .send(&Access::Pull(repo.into()), &what, &|c| {
                c.request(method.clone(), &url)
                    .header(reqwest::header::ACCEPT, media_type::MANIFEST_ACCEPT)
            })
            .await?;
        Ok((what, response))
    }

    /// Fetches a manifest by tag or digest, keeping its exact bytes. A digest reference,
    /// and any `Docker-Content-Digest` the registry sends, is checked against the bytes.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<RawManifest, RegistryError> {
        let (what, response) = self
            .manifest_request(repo, reference, reqwest::Method::GET)
            .await?;
        if !response.status().is_success() {
            return Err(self.status_error("GET", &what, response).await);
        }
        self.manifest_body(reference, what, response).await
    }

    /// [`Registry::get_manifest`], or `None` when the registry answers 404 (a tag that
    /// may or may not exist, such as cosign's `sha256-<hex>.sig`).
    pub async fn get_manifest_if_exists(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<RawManifest>, RegistryError> {
        let (what, response) = self
            .manifest_request(repo, reference, reqwest::Method::GET)
            .await?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => self
                .manifest_body(reference, what, response)
                .await
                .map(Some),
            _ => Err(self.status_error("GET", &what, response).await),
        }
    }

    /// A response body held in memory, read through [`body::read_bounded`]: refused as
    /// soon as it is announced or grows past `limit`, so a registry cannot make outrider
    /// hold an unbounded body. `what` names it in the error.
    pub(super) async fn bounded_body(
        &self,
        response: reqwest::Response,
        what: &str,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        body::read_bounded(response, limit)
            .await
            .map_err(|e| match e {
                body::BodyError::TooLarge => RegistryError::TooLarge {
                    registry: self.name.clone(),
                    what: what.to_owned(),
                    limit,
                },
                body::BodyError::Transport(e) => self.transport(&e),
            })
    }

    /// Reads a manifest response's body, bounded, and checks it against the digest
    /// reference or the `Docker-Content-Digest` header.
    async fn manifest_body(
        &self,
        reference: &str,
        what: String,
        response: reqwest::Response,
    ) -> Result<RawManifest, RegistryError> {
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let header_digest = content_digest(&response);
        let body = self
            .bounded_body(response, &what, body::MANIFEST_LIMIT)
            .await?;
        let actual = Digest::of(&body);
        let expected = reference.parse::<Digest>().ok().or(header_digest);
        let parsed = RawManifest::new(Bytes::from(body), content_type.as_deref());
        // Schema 1 is named before the digest is compared: its signature changes its
        // bytes on every request, so a mismatch would hide the cause.
        let schema1 = matches!(parsed, Err(crate::oci::ManifestError::Schema1));
        if let Some(expected) = expected
            && expected != actual
            && !schema1
        {
            return Err(RegistryError::Content {
                registry: self.name.clone(),
                what,
                source: crate::oci::DigestError::Mismatch {
                    expected: Box::new(expected),
                    actual: Box::new(actual),
                },
            });
        }
        parsed.map_err(|source| RegistryError::Manifest {
            registry: self.name.clone(),
            source,
        })
    }

    /// HEAD of a manifest: its digest and media type if it exists.
    pub async fn head_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<Digest>, RegistryError> {
        let (what, response) = self
            .manifest_request(repo, reference, reqwest::Method::HEAD)
            .await?;
        match response.status() {
            // A registry (or proxy) that leaves the digest header off a HEAD answer still
            // holds the manifest: read it and hash it, rather than take it as absent (which
            // would let `--existing-tags keep` move a tag it should keep).
            s if s.is_success() => match content_digest(&response) {
                Some(d) => Ok(Some(d)),
                None => Ok(self
                    .get_manifest_if_exists(repo, reference)
                    .await?
                    .map(|m| m.digest)),
            },
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.status_error("HEAD", &what, response).await),
        }
    }

    /// Starts a blob download; the caller verifies the stream against `desc`.
    pub async fn get_blob(
        &self,
        repo: &str,
        desc: &Descriptor,
    ) -> Result<impl Stream<Item = Result<Bytes, RegistryError>> + use<>, RegistryError> {
        Ok(self.get_blob_from(repo, desc, 0).await?.0)
    }

    /// Starts a blob download at byte `offset` (HTTP `Range`), for a transfer that broke.
    /// Returns the stream and where it starts: `offset` when the registry answered `206`
    /// with a `Content-Range` starting there, 0 when it sent the whole blob (`200`), as
    /// registries without range support do.
    pub async fn get_blob_from(
        &self,
        repo: &str,
        desc: &Descriptor,
        offset: u64,
    ) -> Result<
        (
            impl Stream<Item = Result<Bytes, RegistryError>> + use<>,
            u64,
        ),
        RegistryError,
    > {
        let what = format!("blob {} in `{repo}`", desc.digest);
        let url = self
            .endpoint_url(repo, Endpoint::Blob(&desc.digest), &what)
            .await?;
        let response = self
            .send(&Access::Pull(repo.into()), &what, &|c| {
                let request = c.get(&url);
                if offset > 0 {
                    request.header(reqwest::header::RANGE, format!("bytes={offset}-"))
                } else {
                    request
                }
            })
            .await?;
        if !response.status().is_success() {
            return Err(self.status_error("GET", &what, response).await);
        }
        let start = match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let range = response
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(content_range_start);
                if range != Some(offset) || offset == 0 {
                    return Err(RegistryError::Status {
                        registry: self.name.clone(),
                        method: format!("GET (Range: bytes={offset}-)"),
                        what,
                        status: 206,
                        body: format!(
                            "a Content-Range of {:?}, not one starting at {offset}",
                            response.headers().get(reqwest::header::CONTENT_RANGE)
                        ),
                    });
                }
                offset
            }
            _ => 0,
        };
        let (registry, host) = (self.name.clone(), self.host.clone());
        let stream = response.bytes_stream().map(move |r| {
            r.map_err(|e| RegistryError::Connect {
                registry: registry.clone(),
                host: host.clone(),
                cause: transport::classify(&e),
            })
        });
        Ok((stream, start))
    }

    /// Whether `repo` already links the blob.
    pub async fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool, RegistryError> {
        self.blob_exists(&Access::Push(repo.into()), repo, digest)
            .await
    }

    /// Whether `repo` links the blob, asked with `access` (pull for a dry run, which must
    /// work with read-only credentials).
    pub async fn blob_exists(
        &self,
        access: &Access,
        repo: &str,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        let what = format!("blob {digest} in `{repo}`");
        let url = self
            .endpoint_url(repo, Endpoint::Blob(digest), &what)
            .await?;
        let response = self.send(access, &what, &|c| c.head(&url)).await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.status_error("HEAD", &what, response).await),
        }
    }
}
