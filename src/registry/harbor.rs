//! Harbor's projects API, for `unpack --push --create-repositories`: a Harbor registry
//! refuses a push into a project that does not exist, and documents an API to make one
//! (`POST /api/v2.0/projects`). A registry is taken for a Harbor when `GET
//! /api/v2.0/ping` answers `Pong`. The API takes the registry's basic credentials, sent
//! to the registry's own origin only, as every request here is.

use super::client::Registry;
use super::credentials::Credential;
use super::error::RegistryError;
use reqwest::StatusCode;

impl Registry {
    /// Whether the registry answers Harbor's `GET /api/v2.0/ping` with `Pong`.
    pub async fn is_harbor(&self) -> bool {
        self.scheme().await;
        let url = format!("{}/api/v2.0/ping", self.base());
        match self.harbor_request(self.http.get(&url)).send().await {
            // Harbor answers `"Pong"`; a peer is read no further than a few bytes past it.
            Ok(r) if r.status().is_success() => {
                let body = super::body::read_prefix(r, 64).await;
                String::from_utf8_lossy(&body).contains("Pong")
            }
            _ => false,
        }
    }

    /// Makes the private Harbor project `name` unless it exists (`HEAD
    /// /api/v2.0/projects?project_name=`, then `POST /api/v2.0/projects`; a `409` answer
    /// means another made it first). Returns whether this call made it.
    pub async fn create_harbor_project(&self, name: &str) -> Result<bool, RegistryError> {
        let plain = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !plain {
            return Err(RegistryError::InvalidName {
                registry: self.name.clone(),
                what: format!("Harbor project `{name}`"),
                reason: "a Harbor project name is lowercase letters, digits, `.`, `_` and `-`"
                    .into(),
            });
        }
        self.scheme().await;
        let base = self.base();
        let what = format!("Harbor project `{name}`");
        let head = self
            .harbor_request(
                self.http
                    .head(format!("{base}/api/v2.0/projects?project_name={name}")),
            )
            .send()
            .await
            .map_err(|e| self.transport(&e))?;
        if head.status().is_success() {
            return Ok(false);
        }
        let body = serde_json::json!({
            "project_name": name,
            "metadata": { "public": "false" },
        });
        let response = self
            .harbor_request(self.http.post(format!("{base}/api/v2.0/projects")))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| self.transport(&e))?;
        match response.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::CONFLICT => Ok(false),
            _ => Err(self.status_error("POST", &what, response).await),
        }
    }

    /// `request` with the registry's basic credentials, if it has any.
    fn harbor_request(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credential {
            Some(Credential::Basic { username, password }) => {
                request.basic_auth(username, Some(password.expose()))
            }
            _ => request,
        }
    }
}
