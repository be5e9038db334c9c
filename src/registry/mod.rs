//! A client for one registry over the OCI distribution API: manifests as raw bytes with
//! their digest checked, blobs as verified streams, pushes with mount and chunked
//! fallback. Authentication and retries happen inside [`Registry::send`], so every verb
//! gets them.

pub mod auth;
pub mod credentials;
pub mod endpoint;
mod error;
pub mod http;
mod listing;
mod push;
pub mod transport;

use crate::oci::{Descriptor, Digest, RawManifest, manifest::MAX_MANIFEST_BYTES, media_type};
use crate::secret::Secret;
use auth::Challenge;
use bytes::Bytes;
use credentials::{Credential, ExplicitCredentials};
use endpoint::Endpoint;
use futures_util::{Stream, StreamExt};
use http::TransportOptions;
use reqwest::{RequestBuilder, Response, StatusCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use error::RegistryError;

/// What a request needs access to, as a token scope.
#[derive(Clone, Debug)]
pub enum Access {
    /// List repositories.
    Catalog,
    /// Read a repository.
    Pull(String),
    /// Read and write a repository.
    Push(String),
    /// Write `repo` and read `from` (a cross-repository mount).
    Mount {
        /// Destination repository.
        repo: String,
        /// Source repository.
        from: String,
    },
}

impl Access {
    fn scope(&self) -> String {
        match self {
            Access::Catalog => "registry:catalog:*".to_owned(),
            Access::Pull(r) => format!("repository:{r}:pull"),
            Access::Push(r) => format!("repository:{r}:pull,push"),
            Access::Mount { repo, from } => {
                format!("repository:{repo}:pull,push repository:{from}:pull")
            }
        }
    }
}

/// Result of a mount request.
pub enum MountOutcome {
    /// The registry linked the blob (201).
    Mounted,
    /// The registry declined and opened an upload session instead (202): upload there.
    Upload(String),
}

/// A client for one registry, shared by every task talking to it.
pub struct Registry {
    /// The registry as references name it (`docker.io`, `localhost:5000`).
    pub name: String,
    host: String,
    ns: Option<String>,
    /// Set once: true for HTTPS. Decided by the first request (see [`Registry::scheme`]).
    https: tokio::sync::OnceCell<bool>,
    plain: bool,
    fallback_allowed: bool,
    http: reqwest::Client,
    credential: Option<Credential>,
    challenge: Mutex<Option<Challenge>>,
    tokens: Mutex<HashMap<String, Secret<String>>>,
    retries: u32,
    /// Set once the registry has answered any request: from then on a refused connection
    /// is a restart worth waiting for, not a wrong address.
    answered: std::sync::atomic::AtomicBool,
    /// The outcome of the first [`Registry::ready`], shared by every later caller.
    ready: tokio::sync::OnceCell<Result<(), Arc<RegistryError>>>,
}

/// A blob body source that can be opened again for a retry.
pub type BodyFactory<'a> = &'a (dyn Fn() -> reqwest::Body + Send + Sync);

impl Registry {
    /// A client for `name`, honouring mirrors, TLS options and credentials.
    pub async fn connect(
        name: &str,
        options: &TransportOptions,
        explicit: &ExplicitCredentials,
    ) -> Result<Registry, RegistryError> {
        let (host, ns) = match options
            .mirrors
            .iter()
            .find(|(from, _)| http::same_host(from, name, 443))
        {
            Some((_, mirror)) => (mirror.clone(), Some(name.to_owned())),
            None if name == crate::oci::reference::DOCKER_HUB => {
                ("registry-1.docker.io".to_owned(), None)
            }
            None => (name.to_owned(), None),
        };
        let plain = options
            .plain_http
            .iter()
            .any(|h| http::same_host(h, &host, 80) || http::same_host(h, name, 80));
        let credential = credentials::lookup(name, explicit).await?;
        Ok(Registry {
            name: name.to_owned(),
            http: http::build_client(options, &host)?,
            fallback_allowed: !plain && http::is_loopback(&host),
            https: tokio::sync::OnceCell::new(),
            plain,
            host,
            ns,
            credential,
            challenge: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
            retries: options.retries,
            answered: std::sync::atomic::AtomicBool::new(false),
            ready: tokio::sync::OnceCell::new(),
        })
    }

    /// HTTPS or HTTP, decided once. Plain HTTP when the user said so. For a loopback
    /// registry, Docker's rule: ping `/v2/` over HTTPS and use HTTP when the handshake
    /// fails for any reason but the certificate (a certificate that fails verification is
    /// a refusal, never a reason to drop TLS).
    async fn scheme(&self) -> bool {
        *self
            .https
            .get_or_init(|| async {
                if self.plain {
                    return false;
                }
                if !self.fallback_allowed {
                    return true;
                }
                match self.http.get(format!("https://{}/v2/", self.host)).send().await {
                    Ok(_) => true,
                    Err(e) => {
                        if transport::classify(&e).is_certificate() {
                            true
                        } else {
                            tracing::debug!(registry = %self.name, "HTTPS failed on a loopback registry; using plain HTTP as docker does");
                            false
                        }
                    }
                }
            })
            .await
    }

    /// `https` or `http`, as this registry was reached.
    pub async fn scheme_name(&self) -> &'static str {
        if self.scheme().await { "https" } else { "http" }
    }

    fn base(&self) -> String {
        let https = self.https.get().copied().unwrap_or(!self.plain);
        format!("{}://{}", if https { "https" } else { "http" }, self.host)
    }

    /// URL of `endpoint` in `repo`: names checked by [`endpoint::path`], the only way a
    /// repository or reference reaches a URL. `what` names the request in the error.
    async fn endpoint_url(
        &self,
        repo: &str,
        endpoint: Endpoint<'_>,
        what: &str,
    ) -> Result<String, RegistryError> {
        let path = endpoint::path(repo, endpoint).map_err(|reason| RegistryError::InvalidName {
            registry: self.name.clone(),
            what: what.to_owned(),
            reason,
        })?;
        Ok(self.url(&path).await)
    }

    /// URL for a `/v2/` path, with the `?ns=` mirror parameter when mirroring.
    async fn url(&self, path: &str) -> String {
        self.scheme().await;
        let mut url = format!("{}/v2/{path}", self.base());
        if let Some(ns) = &self.ns {
            url.push_str(if url.contains('?') { "&ns=" } else { "?ns=" });
            url.push_str(ns);
        }
        url
    }

    /// Resolves an upload `Location` (absolute or relative) and adds query parameters.
    fn upload_url(&self, location: &str, params: &[(&str, &str)]) -> String {
        let base = url::Url::parse(&self.base()).ok();
        let mut url = match (url::Url::parse(location), base) {
            (Ok(u), _) => u,
            (Err(_), Some(b)) => b.join(location).unwrap_or(b),
            (Err(_), None) => return location.to_owned(),
        };
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
        }
        url.to_string()
    }

    async fn auth_header(&self, access: &Access) -> Result<Option<Secret<String>>, RegistryError> {
        let challenge = self
            .challenge
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(match &self.credential {
                Some(Credential::Basic { username, password }) => {
                    use base64::Engine as _;
                    let raw = format!("{username}:{}", password.expose());
                    Some(Secret::new(format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(raw)
                    )))
                }
                _ => None,
            }),
            Some(Challenge::Bearer { realm, service }) => {
                let scope = access.scope();
                if let Some(t) = self
                    .tokens
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&scope)
                {
                    return Ok(Some(Secret::new(format!("Bearer {}", t.expose()))));
                }
                let token = auth::fetch_token(
                    &self.http,
                    &realm,
                    service.as_deref(),
                    &scope,
                    self.credential.as_ref(),
                )
                .await
                .map_err(|e| self.token_error(e))?;
                let header = Secret::new(format!("Bearer {}", token.expose()));
                self.tokens
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(scope, token);
                Ok(Some(header))
            }
        }
    }

    /// Sends a request built by `build` (called again for each attempt), adding auth,
    /// answering one 401 challenge, retrying connection errors, 429 and 5xx with backoff,
    /// and falling back to plain HTTP for loopback registries whose HTTPS fails.
    pub async fn send(
        &self,
        access: &Access,
        what: &str,
        build: &(dyn Fn(&reqwest::Client) -> RequestBuilder + Send + Sync),
    ) -> Result<Response, RegistryError> {
        let mut attempt = 0;
        let mut challenged = false;
        loop {
            let mut request = build(&self.http);
            if let Some(h) = self.auth_header(access).await? {
                request = request.header(reqwest::header::AUTHORIZATION, h.expose().as_str());
            }
            let request = request.build().map_err(|e| self.transport(&e))?;
            let line = request_line(&request);
            let started = std::time::Instant::now();
            match self.http.execute(request).await {
                Ok(response) => {
                    self.answered
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    let status = response.status();
                    tracing::trace!(
                        registry = %self.name,
                        status = status.as_u16(),
                        bytes = response.content_length().unwrap_or(0),
                        ms = started.elapsed().as_millis() as u64,
                        "{line}",
                    );
                    if status == StatusCode::UNAUTHORIZED && !challenged {
                        challenged = true;
                        let header = response
                            .headers()
                            .get(reqwest::header::WWW_AUTHENTICATE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default();
                        if let Some(c) = auth::parse_challenge(header) {
                            tracing::debug!(registry = %self.name, challenge = ?c, "answering auth challenge");
                            self.tokens
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .remove(&access.scope());
                            *self.challenge.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
                            continue;
                        }
                    }
                    if http::retryable_status(status.as_u16()) && attempt < self.retries {
                        attempt += 1;
                        let wait = http::backoff(
                            attempt,
                            response
                                .headers()
                                .get(reqwest::header::RETRY_AFTER)
                                .and_then(|v| v.to_str().ok()),
                        );
                        tracing::warn!(registry = %self.name, %what, status = status.as_u16(), ?wait, "retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Ok(response);
                }
                Err(e) => {
                    if let Some(damaged) = crate::oci::Damaged::find(&e) {
                        return Err(RegistryError::Damaged(crate::oci::Damaged(
                            damaged.0.clone(),
                        )));
                    }
                    let cause = transport::classify(&e);
                    let answered = self.answered.load(std::sync::atomic::Ordering::Relaxed);
                    tracing::trace!(registry = %self.name, ms = started.elapsed().as_millis() as u64, error = %http::describe(&e), "{line} failed");
                    if attempt < self.retries && cause.transient(answered) {
                        attempt += 1;
                        let wait = http::backoff(attempt, None);
                        tracing::warn!(registry = %self.name, %what, error = %cause.explain(&self.host), ?wait, "retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(self.transport(&e));
                }
            }
        }
    }

    /// The error for a failed request: the cause named, with its fix.
    fn transport(&self, e: &reqwest::Error) -> RegistryError {
        RegistryError::Connect {
            registry: self.name.clone(),
            host: self.host.clone(),
            cause: transport::classify(e),
        }
    }

    /// Who the credentials say they are, for messages.
    fn username(&self) -> Option<String> {
        match &self.credential {
            Some(Credential::Basic { username, .. }) => Some(username.clone()),
            Some(Credential::IdentityToken(_)) => Some("(identity token)".into()),
            None => None,
        }
    }

    /// A token endpoint's refusal in the registry's terms: credentials rejected, or login
    /// required when none were sent.
    fn token_error(&self, e: auth::AuthError) -> RegistryError {
        match e {
            auth::AuthError::Refused { status, scope, .. } if status == 401 || status == 403 => {
                match self.username() {
                    Some(username) => RegistryError::Rejected {
                        registry: self.name.clone(),
                        username,
                    },
                    None => RegistryError::LoginRequired {
                        registry: self.name.clone(),
                        what: format!("`{scope}`"),
                    },
                }
            }
            other => RegistryError::Auth(other),
        }
    }

    /// Checks once, before any blob moves, that the registry answers, its certificate is
    /// trusted and the credentials are accepted (`GET /v2/` with `access`'s token). The
    /// outcome is kept: every later caller gets the same answer without a request, so a
    /// registry that cannot be used is reported once, not once per image or blob.
    pub async fn ready(&self, access: &Access) -> Result<(), RegistryError> {
        self.ready
            .get_or_init(|| async { self.check_api(access).await.map_err(Arc::new) })
            .await
            .clone()
            .map_err(RegistryError::Shared)
    }

    async fn check_api(&self, access: &Access) -> Result<(), RegistryError> {
        let url = self.url("").await;
        let response = self.send(access, "/v2/", &|c| c.get(&url)).await?;
        let status = response.status();
        let challenge = self
            .challenge
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match status.as_u16() {
            s if status.is_success() || s == 405 => Ok(()),
            401 => match (self.username(), challenge) {
                (Some(username), Some(Challenge::Basic)) => Err(RegistryError::Rejected {
                    registry: self.name.clone(),
                    username,
                }),
                (None, Some(Challenge::Basic)) => Err(RegistryError::LoginRequired {
                    registry: self.name.clone(),
                    what: "every request".into(),
                }),
                // A token registry answers per repository; the requests that follow say.
                _ => Ok(()),
            },
            404 => Err(RegistryError::NotARegistry {
                registry: self.name.clone(),
                status: 404,
            }),
            _ => Err(self.status_error("GET", "/v2/", response).await),
        }
    }

    async fn status_error(&self, method: &str, what: &str, response: Response) -> RegistryError {
        let status = response.status().as_u16();
        let registry = self.name.clone();
        let basic = matches!(
            *self.challenge.lock().unwrap_or_else(|e| e.into_inner()),
            Some(Challenge::Basic)
        );
        let need = if method == "GET" || method == "HEAD" && !what.starts_with("blob") {
            "pull"
        } else {
            "push"
        };
        match (status, self.username()) {
            (401, None) => RegistryError::LoginRequired {
                registry,
                what: what.to_owned(),
            },
            (401, Some(username)) if basic => RegistryError::Rejected { registry, username },
            (401 | 403, username) => RegistryError::Denied {
                registry,
                username: username.unwrap_or_else(|| "anonymous".into()),
                what: what.to_owned(),
                status,
                need,
            },
            (404, _) => RegistryError::NotFound {
                registry,
                what: what.to_owned(),
            },
            _ => {
                let body = response.text().await.unwrap_or_default();
                let body = crate::output::sanitize(&body.chars().take(300).collect::<String>());
                RegistryError::Status {
                    registry,
                    method: method.into(),
                    what: what.into(),
                    status,
                    body,
                }
            }
        }
    }

    /// Fetches a manifest by tag or digest, keeping its exact bytes. A digest reference,
    /// and any `Docker-Content-Digest` the registry sends, is checked against the bytes.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<RawManifest, RegistryError> {
        let what = format!("manifest `{repo}:{reference}`");
        let url = self
            .endpoint_url(repo, Endpoint::Manifest(reference), &what)
            .await?;
        let response = self
            .send(&Access::Pull(repo.into()), &what, &|c| {
                c.get(&url)
                    .header(reqwest::header::ACCEPT, media_type::MANIFEST_ACCEPT)
            })
            .await?;
        if !response.status().is_success() {
            return Err(self.status_error("GET", &what, response).await);
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let header_digest = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Digest>().ok());
        if response
            .content_length()
            .is_some_and(|n| n > MAX_MANIFEST_BYTES)
        {
            return Err(RegistryError::ManifestTooLarge {
                registry: self.name.clone(),
                what,
            });
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.transport(&e))?;
            body.extend_from_slice(&chunk);
            if body.len() as u64 > MAX_MANIFEST_BYTES {
                return Err(RegistryError::ManifestTooLarge {
                    registry: self.name.clone(),
                    what,
                });
            }
        }
        let actual = Digest::of(&body);
        let expected = reference.parse::<Digest>().ok().or(header_digest);
        if let Some(expected) = expected
            && expected != actual
        {
            return Err(RegistryError::Content {
                registry: self.name.clone(),
                what,
                source: crate::oci::DigestError::Mismatch { expected, actual },
            });
        }
        RawManifest::new(Bytes::from(body), content_type.as_deref()).map_err(|source| {
            RegistryError::Manifest {
                registry: self.name.clone(),
                source,
            }
        })
    }

    /// HEAD of a manifest: its digest and media type if it exists.
    pub async fn head_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<Digest>, RegistryError> {
        let what = format!("manifest `{repo}:{reference}`");
        let url = self
            .endpoint_url(repo, Endpoint::Manifest(reference), &what)
            .await?;
        let response = self
            .send(&Access::Pull(repo.into()), &what, &|c| {
                c.head(&url)
                    .header(reqwest::header::ACCEPT, media_type::MANIFEST_ACCEPT)
            })
            .await?;
        match response.status() {
            s if s.is_success() => Ok(response
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())),
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
        let what = format!("blob {} in `{repo}`", desc.digest);
        let url = self
            .endpoint_url(repo, Endpoint::Blob(&desc.digest), &what)
            .await?;
        let response = self
            .send(&Access::Pull(repo.into()), &what, &|c| c.get(&url))
            .await?;
        if !response.status().is_success() {
            return Err(self.status_error("GET", &what, response).await);
        }
        let (registry, host) = (self.name.clone(), self.host.clone());
        Ok(response.bytes_stream().map(move |r| {
            r.map_err(|e| RegistryError::Connect {
                registry: registry.clone(),
                host: host.clone(),
                cause: transport::classify(&e),
            })
        }))
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

/// `METHOD URL` of a request, for `-vv`. The query is left out: an upload session's
/// state rides there, and a token endpoint's parameters; credentials travel only in
/// headers, which are never logged.
fn request_line(request: &reqwest::Request) -> String {
    let url = request.url();
    format!("{} {}", request.method(), &url[..url::Position::AfterPath])
}

/// Registry clients by name, created on first use and shared. When dropped, it warns
/// about per-host flags that named no registry it reached: a flag that silently matches
/// nothing (`--insecure-skip-verify 127.0.0.1` for `127.0.0.1:5000`) costs an operator
/// an hour.
pub struct Registries {
    options: TransportOptions,
    credentials: ExplicitCredentials,
    clients: tokio::sync::Mutex<HashMap<String, Arc<Registry>>>,
}

impl Drop for Registries {
    fn drop(&mut self) {
        let clients = self.clients.get_mut();
        if clients.is_empty() {
            return;
        }
        let mut reached: Vec<&str> = clients
            .values()
            .flat_map(|c| [c.name.as_str(), c.host.as_str()])
            .collect();
        reached.sort();
        reached.dedup();
        for (flag, named) in &self.options.flags {
            let port = if flag == "--plain-http" { 80 } else { 443 };
            if !reached.iter().any(|r| http::same_host(named, r, port)) {
                crate::output::problem(&format!(
                    "warning: {flag} `{named}` matched no registry this run reached ({}); name the port unless it is the default",
                    reached
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
}

impl Registries {
    /// A factory with these settings.
    pub fn new(options: TransportOptions, credentials: ExplicitCredentials) -> Registries {
        Registries {
            options,
            credentials,
            clients: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The client for `name`.
    pub async fn get(&self, name: &str) -> Result<Arc<Registry>, RegistryError> {
        let mut clients = self.clients.lock().await;
        if let Some(c) = clients.get(name) {
            return Ok(c.clone());
        }
        let client = Arc::new(Registry::connect(name, &self.options, &self.credentials).await?);
        clients.insert(name.to_owned(), client.clone());
        Ok(client)
    }
}
