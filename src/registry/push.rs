//! The writing verbs of [`Registry`]: cross-repository mounts, monolithic and chunked blob
//! uploads, and manifest pushes (distribution spec, "Pushing blobs", "Pushing manifests").

use super::endpoint::Endpoint;
use super::{Access, BodyFactory, MountOutcome, Registry, RegistryError};
use crate::oci::{Descriptor, Digest, RawManifest};
use reqwest::{Response, StatusCode};

impl Registry {
    /// Asks the registry to link `digest` from `from` into `repo` (distribution spec,
    /// "Mounting a blob from another repository"). A 202 is a legal refusal that opens
    /// an upload session.
    pub async fn mount_blob(
        &self,
        repo: &str,
        digest: &Digest,
        from: &str,
    ) -> Result<MountOutcome, RegistryError> {
        let what = format!("mount of {digest} from `{from}` into `{repo}`");
        let url = self
            .endpoint_url(repo, Endpoint::Mount { digest, from }, &what)
            .await?;
        let response = self
            .send(
                &Access::Mount {
                    repo: repo.into(),
                    from: from.into(),
                },
                &what,
                &|c| c.post(&url).header("content-length", "0"),
            )
            .await?;
        match response.status() {
            StatusCode::CREATED => Ok(MountOutcome::Mounted),
            StatusCode::ACCEPTED => Ok(MountOutcome::Upload(self.location(&response, &what)?)),
            _ => Err(self.status_error("POST", &what, response).await),
        }
    }

    fn location(&self, response: &Response, what: &str) -> Result<String, RegistryError> {
        response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| RegistryError::Status {
                registry: self.name.clone(),
                method: "POST".into(),
                what: what.into(),
                status: response.status().as_u16(),
                body: "no Location header".into(),
            })
    }

    /// Opens an upload session; returns its location and the smallest chunk the
    /// registry accepts (`OCI-Chunk-Min-Length`), when it says.
    pub async fn start_upload(&self, repo: &str) -> Result<(String, Option<u64>), RegistryError> {
        let what = format!("upload to `{repo}`");
        let url = self.endpoint_url(repo, Endpoint::Uploads, &what).await?;
        let response = self
            .send(&Access::Push(repo.into()), &what, &|c| {
                c.post(&url).header("content-length", "0")
            })
            .await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(self.status_error("POST", &what, response).await);
        }
        let min_chunk = response
            .headers()
            .get("oci-chunk-min-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok((self.location(&response, &what)?, min_chunk))
    }

    /// Completes a monolithic upload: one PUT with the whole body and `?digest=`.
    pub async fn put_blob(
        &self,
        repo: &str,
        location: &str,
        desc: &Descriptor,
        body: BodyFactory<'_>,
    ) -> Result<(), RegistryError> {
        let what = format!("blob {} to `{repo}`", desc.digest);
        let url = self.upload_url(location, &[("digest", desc.digest.as_str())]);
        let size = desc.size;
        let response = self
            .send(&Access::Push(repo.into()), &what, &|c| {
                c.put(&url)
                    .header("content-type", "application/octet-stream")
                    .header("content-length", size)
                    .body(body())
            })
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.status_error("PUT", &what, response).await);
        }
        Ok(())
    }

    /// Uploads in chunks (distribution spec, "Pushing a blob in chunks"): PATCH each chunk
    /// with an inclusive `Content-Range`, following the returned `Location`, then a final
    /// empty PUT with the digest. `chunk(i)` yields chunk `i` as a body of `len` bytes.
    pub async fn put_blob_chunked(
        &self,
        repo: &str,
        mut location: String,
        desc: &Descriptor,
        chunk_size: u64,
        chunk: &(dyn Fn(u64, u64) -> reqwest::Body + Send + Sync),
    ) -> Result<(), RegistryError> {
        let what = format!("blob {} to `{repo}`", desc.digest);
        let mut offset = 0;
        while offset < desc.size {
            let len = chunk_size.min(desc.size - offset);
            let url = self.upload_url(&location, &[]);
            let start = offset;
            let response = self
                .send(&Access::Push(repo.into()), &what, &|c| {
                    c.patch(&url)
                        .header("content-type", "application/octet-stream")
                        .header("content-length", len)
                        .header("content-range", format!("{}-{}", start, start + len - 1))
                        .body(chunk(start, len))
                })
                .await?;
            if response.status() != StatusCode::ACCEPTED {
                return Err(self.status_error("PATCH", &what, response).await);
            }
            location = self.location(&response, &what)?;
            offset += len;
        }
        let url = self.upload_url(&location, &[("digest", desc.digest.as_str())]);
        let response = self
            .send(&Access::Push(repo.into()), &what, &|c| {
                c.put(&url).header("content-length", "0")
            })
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.status_error("PUT", &what, response).await);
        }
        Ok(())
    }

    /// PUTs manifest bytes unchanged under `reference` (a tag or its digest), with its own
    /// media type as Content-Type. Returns the digest the registry reports.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        manifest: &RawManifest,
    ) -> Result<Option<Digest>, RegistryError> {
        let what = format!("manifest `{repo}:{reference}`");
        let url = self
            .endpoint_url(repo, Endpoint::Manifest(reference), &what)
            .await?;
        let bytes = manifest.bytes.clone();
        let media_type = manifest.media_type.clone();
        let response = self
            .send(&Access::Push(repo.into()), &what, &|c| {
                c.put(&url)
                    .header("content-type", media_type.as_str())
                    .body(bytes.clone())
            })
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.status_error("PUT", &what, response).await);
        }
        Ok(super::read::content_digest(&response))
    }
}
