//! Naming what went wrong with a registry: transport causes, rejected credentials versus
//! a missing login versus missing permission, and the one access check per registry
//! ([`Registry::ready`]) that lets a command fail once instead of once per blob.

use super::access::Access;
use super::auth::{self, Challenge};
use super::client::Registry;
use super::credentials::Credential;
use super::error::RegistryError;
use super::transport;
use reqwest::Response;
use std::sync::Arc;

impl Registry {
    /// The error for a failed request: the cause named, with its fix.
    pub(super) fn transport(&self, e: &reqwest::Error) -> RegistryError {
        RegistryError::Connect {
            registry: self.name.clone(),
            host: self.host.clone(),
            cause: transport::classify(e),
        }
    }

    /// Who the credentials say they are, for messages.
    pub(super) fn username(&self) -> Option<String> {
        match &self.credential {
            Some(Credential::Basic { username, .. }) => Some(username.clone()),
            Some(Credential::IdentityToken(_)) => Some("(identity token)".into()),
            None => None,
        }
    }

    /// A token endpoint's refusal in the registry's terms: credentials rejected, or login
    /// required when none were sent.
    pub(super) fn token_error(&self, e: auth::AuthError) -> RegistryError {
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

    pub(super) async fn status_error(
        &self,
        method: &str,
        what: &str,
        response: Response,
    ) -> RegistryError {
        let status = response.status().as_u16();
        let registry = self.name.clone();
        // Another origin (a `Link` the registry named, a redirect) was sent no credentials:
        // its refusal says nothing about the user's.
        if matches!(status, 401 | 403) && !self.is_own(response.url()) {
            let url = response.url();
            return RegistryError::Status {
                registry,
                method: method.into(),
                what: what.into(),
                status,
                body: format!(
                    "answered by `{}`, another origin than the registry's, which outrider sends no credentials",
                    crate::output::sanitize(&url.origin().ascii_serialization())
                ),
            };
        }
        // A write refused for a rule of the registry's own (immutable tag, missing
        // project) is said as that rule; its answer is read only for these statuses.
        let write = matches!(method, "PUT" | "PATCH" | "POST");
        if write && matches!(status, 400 | 403 | 404 | 412) {
            let body = tokio::time::timeout(
                self.stall_timeout,
                super::body::read_prefix(response, super::body::ERROR_LIMIT),
            )
            .await
            .unwrap_or_default();
            let body = String::from_utf8_lossy(&body);
            if let Some(rule) = super::write_rules::WriteRule::recognise(status, &body) {
                return RegistryError::WriteRule {
                    registry,
                    what: what.to_owned(),
                    rule,
                };
            }
            return self.plain_status_error(method, what, status, &body);
        }
        self.plain_status_error_of(method, what, response).await
    }

    /// [`Registry::status_error`] for an answer that is no write rule.
    async fn plain_status_error_of(
        &self,
        method: &str,
        what: &str,
        response: Response,
    ) -> RegistryError {
        let status = response.status().as_u16();
        match status {
            401 | 403 | 404 => self.plain_status_error(method, what, status, ""),
            _ => {
                // An upload's answer comes without a read timeout: its body gets one here,
                // so a registry that sends headers and then nothing cannot hold us.
                let body = tokio::time::timeout(
                    self.stall_timeout,
                    super::body::read_prefix(response, super::body::ERROR_LIMIT),
                )
                .await
                .unwrap_or_default();
                self.plain_status_error(method, what, status, &String::from_utf8_lossy(&body))
            }
        }
    }

    /// The error for `status` to `method` on `what`, its answer's start being `body`.
    fn plain_status_error(
        &self,
        method: &str,
        what: &str,
        status: u16,
        body: &str,
    ) -> RegistryError {
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
                // Only a write can be refused for want of storage; a 503 "quota" on a read
                // is a rate limit.
                let write = matches!(method, "PUT" | "PATCH" | "POST");
                if let Some(cause) =
                    super::storage::StorageFailure::recognise(status, body).filter(|_| write)
                {
                    return RegistryError::Storage {
                        registry,
                        what: what.to_owned(),
                        cause,
                    };
                }
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
}
