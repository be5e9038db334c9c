//! The writing verbs of [`Registry`]: cross-repository mounts, monolithic and chunked blob
//! uploads, and manifest pushes (distribution spec, "Pushing blobs", "Pushing manifests").

use super::endpoint::Endpoint;
use super::stall::StallWatch;

/// Recoveries (a status query and going on) one chunked upload gets in all, however its
/// answers move: a registry whose `Range` goes back and forth cannot keep it busy forever.
const MAX_RECOVERIES: u32 = 10;

use super::access::Access;
use super::client::Registry;
use super::error::RegistryError;
use crate::oci::{Descriptor, Digest, RawManifest};
use reqwest::{Response, StatusCode};

/// Result of a mount request.
pub enum MountOutcome {
    /// The registry linked the blob (201).
    Mounted,
    /// The registry declined and opened an upload session instead (202): upload there.
    Upload(String),
}

/// A blob body source that can be opened again for a retry.
pub type BodyFactory<'a> = &'a (dyn Fn() -> reqwest::Body + Send + Sync);

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

    /// Cancels an upload session (`DELETE` on its location): `unpack --push --dry-run`
    /// opens one per repository to learn that it may write there, and leaves nothing open.
    /// A registry that cannot cancel (405, or the session already gone) is not an error:
    /// it drops idle sessions itself.
    pub async fn cancel_upload(&self, repo: &str, location: &str) -> Result<(), RegistryError> {
        let what = format!("cancelling the upload to `{repo}`");
        let url = self.upload_url(location, &[], &what)?;
        let response = self
            .send(&Access::Push(repo.into()), &what, &|c| c.delete(&url))
            .await?;
        match response.status().as_u16() {
            s if (200..300).contains(&s) || s == 404 || s == 405 => Ok(()),
            _ => Err(self.status_error("DELETE", &what, response).await),
        }
    }

    /// Completes a monolithic upload: one PUT with the whole body and `?digest=`. The body
    /// marks `watch` as it moves; a stall or a break is returned, not retried (the caller
    /// asks [`Registry::upload_status`] first).
    pub async fn put_blob(
        &self,
        repo: &str,
        location: &str,
        desc: &Descriptor,
        body: BodyFactory<'_>,
        watch: &StallWatch,
    ) -> Result<(), RegistryError> {
        let what = format!("blob {} to `{repo}`", desc.digest);
        let url = self.upload_url(location, &[("digest", desc.digest.as_str())], &what)?;
        let size = desc.size;
        let build = |c: &reqwest::Client| {
            c.put(&url)
                .header("content-type", "application/octet-stream")
                .header("content-length", size)
                .body(body())
        };
        let response = self
            .send_watched(&Access::Push(repo.into()), &what, &build, Some(watch))
            .await?;
        if response.status() != StatusCode::CREATED {
            return Err(self.status_error("PUT", &what, response).await);
        }
        Ok(())
    }

    /// Uploads in chunks (distribution spec, "Pushing a blob in chunks"): PATCH each chunk
    /// with an inclusive `Content-Range`, following the returned `Location`, then a final
    /// empty PUT with the digest. `chunk(start, len)` yields those bytes as a body that
    /// marks `watch` as it moves. Starts at `from`, the bytes the session already holds.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_blob_chunked(
        &self,
        repo: &str,
        mut location: String,
        desc: &Descriptor,
        chunk_size: u64,
        chunk: &(dyn Fn(u64, u64) -> reqwest::Body + Send + Sync),
        from: u64,
        watch: &StallWatch,
    ) -> Result<(), RegistryError> {
        let what = format!("blob {} to `{repo}`", desc.digest);
        let mut offset = from;
        // Resumes in a row that moved the upload no further, fresh sessions opened, and
        // recoveries in all.
        let (mut stuck, mut restarts, mut recoveries) = (0, 0, 0u32);
        while offset < desc.size {
            let len = chunk_size.min(desc.size - offset);
            let url = self.upload_url(&location, &[], &what)?;
            let start = offset;
            let build = |c: &reqwest::Client| {
                c.patch(&url)
                    .header("content-type", "application/octet-stream")
                    .header("content-length", len)
                    .header("content-range", format!("{}-{}", start, start + len - 1))
                    .body(chunk(start, len))
            };
            let sent = self
                .send_watched(&Access::Push(repo.into()), &what, &build, Some(watch))
                .await;
            let (error, gone) = match sent {
                Ok(response) if response.status() == StatusCode::ACCEPTED => {
                    location = self.location(&response, &what)?;
                    offset += len;
                    stuck = 0;
                    continue;
                }
                Ok(response) => {
                    let status = response.status();
                    let wait = super::http::backoff(
                        recoveries + 1,
                        super::http::retry_after(&response).as_deref(),
                    );
                    let error = self.status_error("PATCH", &what, response).await;
                    if matches!(error, RegistryError::Storage { .. }) {
                        return Err(error);
                    }
                    // 416: the registry holds another amount than this chunk assumed (an
                    // earlier PATCH broke after part of it arrived); 5xx: it may hold part;
                    // 404: it dropped the session (distribution 2 does when a PATCH broke);
                    // 429, 408: it wants a pause, then the same session goes on.
                    match status {
                        StatusCode::NOT_FOUND => (error, true),
                        StatusCode::RANGE_NOT_SATISFIABLE => (error, false),
                        StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => {
                            tracing::warn!(registry = %self.name, %what, status = status.as_u16(), ?wait, "asked to wait; going on after the pause");
                            tokio::time::sleep(wait).await;
                            (error, false)
                        }
                        s if s.is_server_error() => (error, false),
                        _ => return Err(error),
                    }
                }
                Err(e) if e.is_transient() => (e, false),
                Err(e) => return Err(e),
            };
            // Ask the registry where the upload stands and go on from there; if it no
            // longer has the session, open a new one once and send the blob again. A
            // registry whose answers never settle gets a bounded number of tries.
            recoveries += 1;
            if recoveries > MAX_RECOVERIES {
                return Err(error);
            }
            let status = if gone {
                None
            } else {
                self.upload_status(repo, &location, desc.size).await.ok()
            };
            match status {
                Some((at, reached)) => {
                    stuck = if reached > offset { 0 } else { stuck + 1 };
                    if stuck > 2 {
                        return Err(error);
                    }
                    tracing::warn!(registry = %self.name, %what, %error, reached, "chunked upload broke; continuing from what the registry holds");
                    location = at;
                    offset = reached;
                }
                None if restarts == 0 => {
                    restarts += 1;
                    tracing::warn!(registry = %self.name, %what, %error, "chunked upload broke and the registry dropped it; uploading the blob again in a new session");
                    location = self.start_upload(repo).await?.0;
                    offset = 0;
                }
                None => return Err(error),
            }
        }
        let url = self.upload_url(&location, &[("digest", desc.digest.as_str())], &what)?;
        let sent = self
            .send(&Access::Push(repo.into()), &what, &|c| {
                c.put(&url).header("content-length", "0")
            })
            .await;
        let error = match sent {
            Ok(response) if response.status() == StatusCode::CREATED => return Ok(()),
            Ok(response) => self.status_error("PUT", &what, response).await,
            Err(e) => e,
        };
        // A registry committing a large blob can answer late, and a retried closing PUT
        // finds its session gone: the blob being there is the answer that counts.
        if self.has_blob(repo, &desc.digest).await.unwrap_or(false) {
            return Ok(());
        }
        Err(error)
    }

    /// Where an upload stands (distribution spec, "Resuming an upload"): a GET on its
    /// location answers `204` with `Range: 0-<last byte held>` (none when it holds nothing)
    /// and the location to go on with. Returns that location and the bytes held.
    pub async fn upload_status(
        &self,
        repo: &str,
        location: &str,
        size: u64,
    ) -> Result<(String, u64), RegistryError> {
        let what = format!("upload status in `{repo}`");
        let url = self.upload_url(location, &[], &what)?;
        let response = self
            .send(&Access::Push(repo.into()), &what, &|c| c.get(&url))
            .await?;
        if response.status() != StatusCode::NO_CONTENT {
            return Err(self.status_error("GET", &what, response).await);
        }
        let held = response
            .headers()
            .get(reqwest::header::RANGE)
            .and_then(|v| v.to_str().ok())
            .map(|r| {
                r.trim_start_matches("bytes=")
                    .strip_prefix("0-")
                    .and_then(|end| end.parse::<u64>().ok())
                    // distribution answers `0-0` for an empty upload too: take it as
                    // empty (were one byte held, the next PATCH is refused and asks again).
                    .map(|end| if end == 0 { 0 } else { end + 1 })
            });
        let held = match held {
            None => 0,
            // A registry claiming more than the blob, or an unreadable range, is not one to
            // go on with.
            Some(Some(n)) if n <= size => n,
            Some(_) => {
                return Err(RegistryError::Status {
                    registry: self.name.clone(),
                    method: "GET".into(),
                    what,
                    status: 204,
                    body: "its Range header is not `0-<end>` within the blob".into(),
                });
            }
        };
        let location = self
            .location(&response, &what)
            .unwrap_or_else(|_| location.to_owned());
        Ok((location, held))
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
