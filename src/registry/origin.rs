//! Credentials are scoped to the registry's origin (scheme, host, port), as docker's and
//! containerd's authorizers scope them: a registry (or whoever answers in its place) names
//! URLs — pagination `Link`s, upload `Location`s, token realms — and none of them may carry
//! the user's password or the registry's tokens to anyone else.
//!
//! - Any request to another origin is sent without `Authorization`, and a 401 from there
//!   is not taken as the registry's challenge ([`Registry::send`]).
//! - A listing's next page (`Link`) on another origin is followed, without credentials: a
//!   GET sends nothing of the user's, and the page is checked as any other.
//! - An upload `Location` on another origin is refused ([`Registry::upload_url`]):
//!   following it would send the image's bytes to a host the user never named, and no
//!   registry needs that (one behind a proxy that does not know its public URL names a
//!   wrong scheme or host, which the error then points at).
//! - A token realm on another origin gets the credentials only over HTTPS, or over plain
//!   HTTP when the user named its host with `--plain-http`; otherwise it is asked for an
//!   anonymous token and a warning names it, once per run. The realm on the registry's own
//!   origin is unchanged. A mirror is the registry the user configured it for: its origin
//!   is the mirror's, and it gets that registry's credentials.

use super::client::Registry;
use super::credentials::Credential;
use super::error::RegistryError;
use super::{auth, http};
use std::sync::Mutex;

/// Realms already warned about in this run.
static WARNED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// `host:port` of a URL, the port always named, as `--plain-http` is matched.
fn host_port(url: &url::Url) -> Option<String> {
    Some(format!(
        "{}:{}",
        url.host_str()?,
        url.port_or_known_default()?
    ))
}

/// A URL without its query (an upload session's state, a signed URL's signature).
fn without_query(url: &url::Url) -> String {
    url[..url::Position::AfterPath].to_owned()
}

impl Registry {
    /// The registry's own origin: the scheme its first request settled on, and its host.
    fn own_origin(&self) -> Option<url::Origin> {
        url::Url::parse(&self.base()).ok().map(|u| u.origin())
    }

    /// Whether `url` is on the registry's own origin, the only one credentials go to.
    pub(super) fn is_own(&self, url: &url::Url) -> bool {
        self.own_origin().is_some_and(|o| o == url.origin())
    }

    /// A `Location` or `Link` target, absolute or relative to the registry.
    fn resolve(&self, target: &str) -> Option<url::Url> {
        let base = url::Url::parse(&self.base()).ok()?;
        match url::Url::parse(target) {
            Ok(u) => Some(u),
            Err(_) => Some(base.join(target).unwrap_or(base)),
        }
    }

    /// An upload session's URL from its `Location`, with query parameters added; refused
    /// when it is on another origin (see the module notes). `what` names the upload.
    pub(super) fn upload_url(
        &self,
        location: &str,
        params: &[(&str, &str)],
        what: &str,
    ) -> Result<String, RegistryError> {
        let mut url = self
            .resolve(location)
            .ok_or_else(|| RegistryError::Status {
                registry: self.name.clone(),
                method: "POST".into(),
                what: what.into(),
                status: 202,
                body: "its upload Location is not a URL".into(),
            })?;
        if !self.is_own(&url) {
            return Err(RegistryError::ForeignLocation {
                registry: self.name.clone(),
                what: what.into(),
                location: crate::output::sanitize(&without_query(&url)),
                origin: self.base(),
            });
        }
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
        }
        Ok(url.to_string())
    }

    /// A listing's next page from its `Link` target: followed on any origin, and
    /// [`Registry::send`] adds credentials only on the registry's own.
    pub(super) fn page_url(&self, target: &str) -> Option<String> {
        let url = self.resolve(target)?;
        if !self.is_own(&url) {
            tracing::debug!(registry = %self.name, page = %without_query(&url), "next page is on another origin: asked without credentials");
        }
        Some(url.to_string())
    }

    /// The credentials a token realm may be sent: all of them on the registry's own origin
    /// or over HTTPS; over plain HTTP elsewhere only when `--plain-http` names the realm's
    /// host. Otherwise none, and a warning naming the realm, once per run.
    pub(super) fn realm_credential(&self, realm: &str) -> Option<&Credential> {
        let credential = self.credential.as_ref()?;
        let url = url::Url::parse(realm).ok()?;
        if self.is_own(&url) || url.scheme() == "https" {
            return Some(credential);
        }
        let host = host_port(&url)?;
        if url.scheme() == "http"
            && self
                .plain_hosts
                .iter()
                .any(|h| http::same_host(h, &host, 80))
        {
            let mut seen = self.plain_realms.lock().unwrap_or_else(|e| e.into_inner());
            if !seen.contains(&host) {
                seen.push(host);
            }
            return Some(credential);
        }
        let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
        if !warned.iter().any(|r| r == realm) {
            warned.push(realm.to_owned());
            drop(warned);
            crate::output::problem(&format!(
                "warning: `{}` sends logins to the token server `{realm}`, on another origin over plain HTTP: asking it for tokens without the credentials; if that server is yours, allow it with `--plain-http {host}`",
                self.name
            ));
        }
        None
    }

    /// A token endpoint's failure; when it refused because the credentials were withheld
    /// from it, the error says so and names the fix.
    pub(super) fn withheld_or_token_error(
        &self,
        realm: &str,
        sent: Option<&Credential>,
        e: auth::AuthError,
    ) -> RegistryError {
        let refused = matches!(
            e,
            auth::AuthError::Refused {
                status: 401 | 403,
                ..
            }
        );
        let host = url::Url::parse(realm).ok().and_then(|u| host_port(&u));
        match (refused, sent, self.username(), host) {
            (true, None, Some(username), Some(host)) => RegistryError::CredentialsWithheld {
                registry: self.name.clone(),
                realm: realm.to_owned(),
                username,
                host,
            },
            _ => self.token_error(e),
        }
    }

    /// Hosts of token realms reached over plain HTTP because `--plain-http` named them.
    pub(super) fn plain_realms(&self) -> Vec<String> {
        self.plain_realms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::super::credentials::ExplicitCredentials;
    use super::super::http::TransportOptions;
    use super::*;
    use crate::secret::Secret;

    fn basic(user: &str) -> Credential {
        Credential::Basic {
            username: user.into(),
            password: Secret::new("pw".into()),
        }
    }

    async fn client(name: &str, options: &TransportOptions, given: &[(&str, &str)]) -> Registry {
        let explicit = ExplicitCredentials {
            by_host: given
                .iter()
                .map(|(h, u)| (h.to_string(), basic(u)))
                .collect(),
            auth_file: None,
        };
        Registry::connect(name, options, &explicit)
            .await
            .expect("connect")
    }

    #[tokio::test]
    async fn credentials_stay_on_the_registry_origin() {
        let options = TransportOptions {
            plain_http: vec!["auth.example:5001".into()],
            ..TransportOptions::default()
        };
        let r = client("reg.example", &options, &[("reg.example", "alice")]).await;
        let url = |u: &str| url::Url::parse(u).expect("url");
        assert!(r.is_own(&url("https://reg.example:443/v2/a/tags/list")));
        for other in [
            "http://reg.example/v2/",
            "https://reg.example:5000/v2/",
            "https://other.example/v2/",
        ] {
            assert!(!r.is_own(&url(other)), "{other}");
        }
        assert!(
            r.upload_url("/v2/a/blobs/uploads/1?s=x", &[("digest", "d")], "w")
                .expect("own origin")
                .starts_with("https://reg.example/v2/a/blobs/uploads/1?s=x&digest=d")
        );
        assert!(matches!(
            r.upload_url("http://reg.example/v2/a/blobs/uploads/1", &[], "w"),
            Err(RegistryError::ForeignLocation { .. })
        ));
        assert!(
            r.page_url("https://other.example/v2/_catalog?last=a")
                .is_some()
        );
        assert!(r.realm_credential("https://reg.example/token").is_some());
        assert!(r.realm_credential("https://auth.example/token").is_some());
        assert!(
            r.realm_credential("http://auth.example:5001/token")
                .is_some()
        );
        assert_eq!(r.plain_realms(), ["auth.example:5001"]);
        assert!(
            r.realm_credential("http://auth.example:5002/token")
                .is_none()
        );
        assert!(r.realm_credential("http://reg.example/token").is_none());
    }

    #[tokio::test]
    async fn a_mirror_gets_its_own_credentials_first_then_the_registry_s() {
        let options = TransportOptions {
            mirrors: vec![("reg.example".into(), "mirror.example:5000".into())],
            ..TransportOptions::default()
        };
        let both = [
            ("reg.example", "reg-user"),
            ("mirror.example:5000", "mirror-user"),
        ];
        let r = client("reg.example", &options, &both).await;
        assert_eq!(r.username().as_deref(), Some("mirror-user"));
        let r = client("reg.example", &options, &both[..1]).await;
        assert_eq!(r.username().as_deref(), Some("reg-user"));
        assert!(r.is_own(&url::Url::parse("https://mirror.example:5000/v2/").expect("url")));
    }
}
