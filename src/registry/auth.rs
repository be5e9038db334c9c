//! Registry authentication: parsing `WWW-Authenticate` challenges and the token flow of
//! the distribution spec ("Token Authentication Specification"): GET the realm with
//! `service` and `scope` (basic credentials if any), or POST a refresh token for OAuth2.
//! Tokens are cached per scope and never logged.

use super::credentials::Credential;
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::HashMap;

/// What a 401 asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm=…`: send credentials on every request.
    Basic,
    /// `Bearer realm=…,service=…`: fetch a token from `realm`.
    Bearer {
        /// Token endpoint URL.
        realm: String,
        /// Service name to pass through.
        service: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value (RFC 7235 auth-params, quoted or not).
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
        }),
        _ => None,
    }
}

fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            continue;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_owned();
        }
        out.insert(key.trim().to_ascii_lowercase(), value);
    }
    out
}

#[derive(Deserialize)]
struct TokenReply {
    token: Option<String>,
    access_token: Option<String>,
}

/// Why a token could not be had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token endpoint refused (usually bad credentials).
    #[error("token endpoint `{realm}` answered {status} for scope `{scope}`{hint}")]
    Refused {
        /// Realm URL.
        realm: String,
        /// The scope asked for.
        scope: String,
        /// HTTP status.
        status: u16,
        /// A hint for the user.
        hint: &'static str,
    },
    /// The reply went on past `body::TOKEN_LIMIT`; reading stopped there.
    #[error("token reply from `{realm}` is over {limit} bytes; refused")]
    TooLarge {
        /// Realm URL.
        realm: String,
        /// The limit it went past.
        limit: u64,
    },
    /// The endpoint could not be reached or answered nonsense.
    #[error("token endpoint `{realm}`: {reason}")]
    Failed {
        /// Realm URL.
        realm: String,
        /// What went wrong.
        reason: String,
    },
}

/// Fetches a bearer token for `scope` from a challenge's realm.
pub async fn fetch_token(
    http: &reqwest::Client,
    realm: &str,
    service: Option<&str>,
    scope: &str,
    credential: Option<&Credential>,
) -> Result<Secret<String>, AuthError> {
    let failed = |reason: String| AuthError::Failed {
        realm: realm.into(),
        reason,
    };
    let request = match credential {
        Some(Credential::IdentityToken(refresh)) => {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("client_id", "outrider"),
                ("refresh_token", refresh.expose().as_str()),
            ];
            if let Some(s) = service {
                form.push(("service", s));
            }
            form.push(("scope", scope));
            let body = form
                .iter()
                .map(|(k, v)| format!("{k}={}", url_encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            http.post(realm)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
        }
        other => {
            let mut url = url::Url::parse(realm).map_err(|e| failed(format!("not a URL: {e}")))?;
            {
                let mut q = url.query_pairs_mut();
                if let Some(s) = service {
                    q.append_pair("service", s);
                }
                // One `scope` parameter per scope, as docker sends them.
                for one in scope.split(' ') {
                    q.append_pair("scope", one);
                }
                q.append_pair("client_id", "outrider");
            }
            let req = http.get(url);
            match other {
                Some(Credential::Basic { username, password }) => {
                    req.basic_auth(username, Some(password.expose()))
                }
                _ => req,
            }
        }
    };
    let response = request
        .send()
        .await
        .map_err(|e| failed(super::http::describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        let hint = if status.as_u16() == 401 || status.as_u16() == 403 {
            if credential.is_some() {
                "; hint: check the username and password"
            } else {
                "; hint: this registry needs credentials (--username, or docker login)"
            }
        } else {
            ""
        };
        return Err(AuthError::Refused {
            realm: realm.into(),
            scope: scope.into(),
            status: status.as_u16(),
            hint,
        });
    }
    let limit = super::body::TOKEN_LIMIT;
    let bytes = super::body::read_bounded(response, limit)
        .await
        .map_err(|e| match e {
            super::body::BodyError::TooLarge => AuthError::TooLarge {
                realm: realm.into(),
                limit,
            },
            super::body::BodyError::Transport(e) => failed(super::http::describe(&e)),
        })?;
    let reply: TokenReply =
        serde_json::from_slice(&bytes).map_err(|e| failed(format!("unreadable reply: {e}")))?;
    let token = reply
        .token
        .or(reply.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| failed("reply holds no token".into()))?;
    // It goes into an `Authorization` header as it is: a token that could not is refused
    // here, by name, rather than failing every request later.
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(failed(
            "reply holds a token with characters no HTTP header may carry".into(),
        ));
    }
    Ok(Secret::new(token))
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into())
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="basic-realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge("bearer realm=http://x/t"),
            Some(Challenge::Bearer {
                realm: "http://x/t".into(),
                service: None
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }
}
