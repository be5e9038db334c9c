//! A plain web origin — a classic chart repository, a file's URL — reached with the same
//! `reqwest` settings a registry gets (`crate::registry::http::build_client`: the TLS
//! flags, extra CAs, `certs.d`, client certificates, the stall timeout). Credentials
//! (`--auth-for HOST`, the login files) go to the origin they were given for and nowhere
//! else: a package URL on another host (a CDN) is fetched without them, and `reqwest`
//! drops them on a redirect to another host.

use super::source::{BlobStream, SourceError};
use crate::registry::Registries;
use crate::registry::credentials::Credential;
use crate::secret::Secret;
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};

/// One origin's client and credentials.
pub struct Web {
    client: reqwest::Client,
    origin: url::Origin,
    basic: Option<(String, Secret<String>)>,
    retries: u32,
}

/// `host[:port]` of a URL, as `--auth-for` and the TLS flags name it.
pub fn host_port(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// The URL as it may be shown: without a user or password.
pub fn shown(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

fn fetch_error(url: &url::Url, reason: impl Into<String>, transient: bool) -> SourceError {
    SourceError::Fetch {
        url: shown(url),
        reason: reason.into(),
        transient,
    }
}

/// An answer that is not a success, with the fix when there is one.
fn refusal(url: &url::Url, status: reqwest::StatusCode) -> SourceError {
    let hint = match status.as_u16() {
        401 | 403 => " (give credentials with --auth-for HOST, or `user:password@` in the URL)",
        404 => " (no such file there)",
        _ => "",
    };
    fetch_error(
        url,
        format!("HTTP {status}{hint}"),
        crate::registry::http::retryable_status(status.as_u16()),
    )
}

impl Web {
    /// The client for `origin`'s host, with the credentials given for it (a user and
    /// password written in the URL win).
    pub async fn connect(origin: &url::Url, registries: &Registries) -> Result<Web, SourceError> {
        let host = host_port(origin);
        let client = crate::registry::http::build_client(registries.options(), &host, true)
            .map_err(|e| fetch_error(origin, e.to_string(), false))?;
        let basic = if !origin.username().is_empty() {
            Some((
                origin.username().to_owned(),
                Secret::new(origin.password().unwrap_or_default().to_owned()),
            ))
        } else {
            match registries.credential(&host).await {
                Ok(Some(Credential::Basic { username, password })) => Some((username, password)),
                Ok(_) => None,
                Err(e) => return Err(fetch_error(origin, e.to_string(), false)),
            }
        };
        Ok(Web {
            client,
            origin: origin.origin(),
            basic,
            retries: registries.options().retries,
        })
    }

    fn get(&self, url: &url::Url) -> reqwest::RequestBuilder {
        let mut bare = url.clone();
        let _ = bare.set_username("");
        let _ = bare.set_password(None);
        let request = self.client.get(bare);
        match &self.basic {
            Some((user, password)) if url.origin() == self.origin => {
                request.basic_auth(user, Some(password.expose()))
            }
            _ => request,
        }
    }

    /// Sends `request`, again (with the registry client's backoff) after a broken
    /// connection, 408, 429 or 5xx, up to `--retries` times.
    async fn send(
        &self,
        url: &url::Url,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SourceError> {
        let mut attempt = 0;
        loop {
            let retry_after;
            let failure = match request.try_clone() {
                Some(r) => match r.send().await {
                    Ok(response) if response.status().is_success() => return Ok(response),
                    Ok(response) => {
                        retry_after = crate::registry::http::retry_after(&response);
                        refusal(url, response.status())
                    }
                    Err(e) => {
                        retry_after = None;
                        fetch_error(url, crate::registry::http::describe(&e), true)
                    }
                },
                None => return Err(fetch_error(url, "the request cannot be repeated", false)),
            };
            attempt += 1;
            if !failure.is_transient() || attempt > self.retries {
                return Err(failure);
            }
            tracing::debug!(url = %shown(url), attempt, "retrying: {failure}");
            tokio::time::sleep(crate::registry::http::backoff(
                attempt,
                retry_after.as_deref(),
            ))
            .await;
        }
    }

    /// The body at `url`, refused past `limit` bytes.
    pub async fn bytes(&self, url: &url::Url, limit: u64) -> Result<Bytes, SourceError> {
        let response = self.send(url, self.get(url)).await?;
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(fetch_error(
                url,
                format!("larger than the {limit} bytes allowed"),
                false,
            ));
        }
        let mut body = BytesMut::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| fetch_error(url, crate::registry::http::describe(&e), true))?;
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(fetch_error(
                    url,
                    format!("larger than the {limit} bytes allowed"),
                    false,
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// The body's length as the server states it, asked with a one-byte range (servers
    /// that ignore ranges answer with the whole length).
    pub async fn length(&self, url: &url::Url) -> Result<u64, SourceError> {
        let response = self
            .send(url, self.get(url).header("Range", "bytes=0-0"))
            .await?;
        let total = response
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit_once('/'))
            .and_then(|(_, n)| n.parse().ok())
            .or(if response.status().as_u16() == 200 {
                response.content_length()
            } else {
                None
            });
        total.ok_or_else(|| fetch_error(url, "the server does not say how large it is", false))
    }

    /// The body from `offset` on, with the offset the stream really starts at (0 when
    /// the server ignores the range and sends it all).
    pub async fn stream(
        &self,
        url: &url::Url,
        offset: u64,
    ) -> Result<(BlobStream, u64), SourceError> {
        let mut request = self.get(url);
        if offset > 0 {
            request = request.header("Range", format!("bytes={offset}-"));
        }
        let response = self.send(url, request).await?;
        let start = if response.status().as_u16() == 206 {
            offset
        } else {
            0
        };
        let at = url.clone();
        let stream = response
            .bytes_stream()
            .map_err(move |e| fetch_error(&at, crate::registry::http::describe(&e), true))
            .boxed();
        Ok((stream, start))
    }
}
