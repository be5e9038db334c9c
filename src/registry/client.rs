//! The client for one registry: connecting (mirrors, TLS, credentials), choosing HTTPS or
//! HTTP, building URLs, and [`Registry::send`], where authentication and retries happen so
//! every verb gets them. The verbs themselves (`read`, `push`, `listing`), the readiness
//! check (`diagnose`) and the origin rules (`origin`) add methods from the files above.

use super::access::Access;
use super::auth::{self, Challenge};
use super::credentials::{self, Credential, ExplicitCredentials};
use super::endpoint::{self, Endpoint};
use super::error::RegistryError;
use super::http::{self, TransportOptions};
use super::{body, limiter, stall, storage, transport};
use crate::secret::Secret;
use reqwest::{RequestBuilder, Response, StatusCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A client for one registry, shared by every task talking to it.
pub struct Registry {
    /// The registry as references name it (`docker.io`, `localhost:5000`).
    pub name: String,
    pub(super) host: String,
    ns: Option<String>,
    /// Set once: true for HTTPS. Decided by the first request (see [`Registry::scheme`]).
    https: tokio::sync::OnceCell<bool>,
    plain: bool,
    /// The user's `--plain-http` hosts: a token realm among them may get credentials
    /// over plain HTTP (see [`Registry::realm_credential`]).
    pub(super) plain_hosts: Vec<String>,
    /// Realms on another origin reached over plain HTTP because `--plain-http` named
    /// them, so that flag is not reported as matching nothing.
    pub(super) plain_realms: Mutex<Vec<String>>,
    fallback_allowed: bool,
    pub(super) http: reqwest::Client,
    /// For uploads: no read timeout (an upload reads nothing until the registry answers);
    /// a [`stall::StallWatch`] on the body decides when it stopped moving.
    upload_http: reqwest::Client,
    /// `--timeout`: silence after which an upload counts as stalled.
    pub(super) stall_timeout: std::time::Duration,
    pub(super) credential: Option<Credential>,
    pub(super) challenge: Mutex<Option<Challenge>>,
    tokens: Mutex<HashMap<String, Secret<String>>>,
    retries: u32,
    /// Set once the registry has answered any request: from then on a refused connection
    /// is a restart worth waiting for, not a wrong address.
    answered: std::sync::atomic::AtomicBool,
    /// The outcome of the first [`Registry::ready`], shared by every later caller.
    pub(super) ready: tokio::sync::OnceCell<Result<(), Arc<RegistryError>>>,
    /// How many requests it is sent at once (lowered by 429s).
    pub(super) limiter: limiter::Limiter,
}

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
        let credential = match &ns {
            Some(_) => credentials::lookup_mirrored(name, &host, explicit).await?,
            None => credentials::lookup(name, explicit).await?,
        };
        Ok(Registry {
            name: name.to_owned(),
            http: http::build_client(options, &host, true)?,
            upload_http: http::build_client(options, &host, false)?,
            stall_timeout: options.stall_timeout,
            fallback_allowed: !plain && http::is_loopback(&host),
            https: tokio::sync::OnceCell::new(),
            plain,
            plain_hosts: options.plain_http.clone(),
            plain_realms: Mutex::new(Vec::new()),
            host,
            ns,
            credential,
            challenge: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
            retries: options.retries,
            answered: std::sync::atomic::AtomicBool::new(false),
            limiter: limiter::Limiter::default(),
            ready: tokio::sync::OnceCell::new(),
        })
    }

    /// HTTPS or HTTP, decided once. Plain HTTP when the user said so. For a loopback
    /// registry, Docker's rule: ping `/v2/` over HTTPS and use HTTP when the handshake
    /// fails for any reason but the certificate (a certificate that fails verification is
    /// a refusal, never a reason to drop TLS).
    pub(super) async fn scheme(&self) -> bool {
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

    pub(super) fn base(&self) -> String {
        let https = self.https.get().copied().unwrap_or(!self.plain);
        format!("{}://{}", if https { "https" } else { "http" }, self.host)
    }

    /// URL of `endpoint` in `repo`: names checked by [`endpoint::path`], the only way a
    /// repository or reference reaches a URL. `what` names the request in the error.
    pub(super) async fn endpoint_url(
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
    pub(super) async fn url(&self, path: &str) -> String {
        self.scheme().await;
        let mut url = format!("{}/v2/{path}", self.base());
        if let Some(ns) = &self.ns {
            url.push_str(if url.contains('?') { "&ns=" } else { "?ns=" });
            url.push_str(ns);
        }
        url
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
                let credential = self.realm_credential(&realm);
                let token =
                    auth::fetch_token(&self.http, &realm, service.as_deref(), &scope, credential)
                        .await
                        .map_err(|e| self.withheld_or_token_error(&realm, credential, e))?;
                let header = Secret::new(format!("Bearer {}", token.expose()));
                self.tokens
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(scope, token);
                Ok(Some(header))
            }
        }
    }

    /// Sends a request built by `build` (called again for each attempt), adding auth on
    /// the registry's own origin only (see `registry::origin`), answering one 401 challenge of
    /// that origin, retrying connection errors, 429 and 5xx with backoff
    /// (a 429 also lowers how many requests the registry is sent at once), and falling back to plain HTTP for loopback registries whose HTTPS fails.
    pub async fn send(
        &self,
        access: &Access,
        what: &str,
        build: &(dyn Fn(&reqwest::Client) -> RequestBuilder + Send + Sync),
    ) -> Result<Response, RegistryError> {
        self.send_watched(access, what, build, None).await
    }

    /// [`Registry::send`] for an upload whose body marks `watch` as it moves: sent without
    /// a read timeout, failed with [`RegistryError::Stalled`] only when nothing moved for
    /// `--timeout`, and never retried here, since a broken upload must first ask the
    /// registry where it stands (the session may be gone, or hold part of the bytes).
    pub async fn send_watched(
        &self,
        access: &Access,
        what: &str,
        build: &(dyn Fn(&reqwest::Client) -> RequestBuilder + Send + Sync),
        watch: Option<&stall::StallWatch>,
    ) -> Result<Response, RegistryError> {
        let mut attempt = 0;
        let mut challenged = false;
        let retries = if watch.is_some() { 0 } else { self.retries };
        let client = if watch.is_some() {
            &self.upload_http
        } else {
            &self.http
        };
        loop {
            let mut request = build(client).build().map_err(|e| self.transport(&e))?;
            // Credentials go to the registry's own origin only: a URL it named elsewhere
            // (a `Link`, a `Location`) is asked without them.
            if self.is_own(request.url())
                && let Some(h) = self.auth_header(access).await?
            {
                request.headers_mut().insert(
                    reqwest::header::AUTHORIZATION,
                    header_value(&self.name, &h)?,
                );
            }
            let line = request_line(&request);
            let write = matches!(request.method().as_str(), "PUT" | "PATCH" | "POST");
            let started = std::time::Instant::now();
            let slot = self.limiter.slot().await;
            let sent = match watch {
                None => self.http.execute(request).await,
                Some(w) => match w.guard(client.execute(request), self.stall_timeout).await {
                    Ok(sent) => sent,
                    Err(stall::Stalled { secs }) => {
                        return Err(RegistryError::Stalled {
                            registry: self.name.clone(),
                            what: what.to_owned(),
                            secs,
                        });
                    }
                },
            };
            drop(slot);
            match sent {
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
                    // Another origin's challenge is not the registry's: taking it would let
                    // that origin choose where the credentials go next.
                    if status == StatusCode::UNAUTHORIZED
                        && !challenged
                        && self.is_own(response.url())
                    {
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
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        self.limiter.throttled(&self.name);
                    } else {
                        self.limiter.answered(
                            &self.name,
                            response
                                .headers()
                                .get("ratelimit-remaining")
                                .and_then(|v| v.to_str().ok()),
                        );
                    }
                    if http::retryable_status(status.as_u16()) && attempt < retries {
                        attempt += 1;
                        let wait = http::backoff(attempt, http::retry_after(&response).as_deref());
                        // A write refused by a full, over-quota or read-only registry
                        // stays refused: no retries.
                        if status.is_server_error() && write {
                            let body = body::read_prefix(response, body::ERROR_LIMIT).await;
                            let body = String::from_utf8_lossy(&body);
                            if let Some(cause) =
                                storage::StorageFailure::recognise(status.as_u16(), &body)
                            {
                                return Err(RegistryError::Storage {
                                    registry: self.name.clone(),
                                    what: what.to_owned(),
                                    cause,
                                });
                            }
                        }
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
                    if attempt < retries && cause.transient(answered) {
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
}

/// An `Authorization` value marked sensitive (hyper then keeps it out of its own logs).
/// Basic values are base64 and tokens were checked when fetched, so this cannot fail in
/// practice; were it to, the request fails rather than going out without credentials.
fn header_value(
    registry: &str,
    secret: &Secret<String>,
) -> Result<reqwest::header::HeaderValue, RegistryError> {
    let mut value = reqwest::header::HeaderValue::from_str(secret.expose()).map_err(|_| {
        RegistryError::Auth(auth::AuthError::Failed {
            realm: registry.to_owned(),
            reason: "its credentials are not a valid HTTP header value".into(),
        })
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// `METHOD URL` of a request, for `-vv`. The query is left out: an upload session's
/// state rides there, and a token endpoint's parameters; credentials travel only in
/// headers, which are never logged.
fn request_line(request: &reqwest::Request) -> String {
    let url = request.url();
    format!("{} {}", request.method(), &url[..url::Position::AfterPath])
}
