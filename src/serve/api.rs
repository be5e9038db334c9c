//! The read side of the OCI distribution API (v2) over a [`Catalog`]: `/v2/`, manifests
//! and blobs by GET and HEAD (blob ranges answered 206), tag lists and the catalog with
//! `n`/`last` paging, and the OCI 1.1 referrers list. Every other method is refused with
//! 405 and an `UNSUPPORTED` error body: the bundle is read-only.
//!
//! Repository names may hold slashes and the words `manifests` or `blobs`, so the path is
//! split at the last `/manifests/`, `/blobs/`, … rather than by a router pattern.

use super::catalog::{Catalog, ManifestSource, Repository};
use super::manifests::Manifests;
use super::verified::Verification;
use crate::oci::Digest;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// What every handler shares.
pub struct Served {
    /// What is served.
    pub catalog: Arc<Catalog>,
    /// What is known of each blob's bytes.
    pub verification: Arc<Verification>,
    /// Manifests' verified bytes, kept.
    pub manifests: Manifests,
}

/// The router: `/v2/` and everything under it.
pub fn router(served: Arc<Served>) -> axum::Router {
    use axum::routing::any;
    axum::Router::new()
        .route("/v2", any(v2))
        .route("/v2/", any(v2))
        .route("/v2/{*rest}", any(v2))
        .fallback(any(|| async {
            error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "not an OCI distribution path",
            )
            .into_response()
        }))
        .with_state(served)
}

/// An OCI error response, boxed so that results carrying one stay small.
struct Refusal(Box<Response>);

impl Refusal {
    /// Adds a header (`Allow`, `Content-Range`) to the refusal.
    fn with(mut self, name: header::HeaderName, value: &str) -> Refusal {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.0.headers_mut().insert(name, v);
        }
        self
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// An OCI error: `{"errors": [{"code", "message"}]}` with `status`.
fn error(status: StatusCode, code: &str, message: &str) -> Refusal {
    let body = json!({ "errors": [{ "code": code, "message": message }] });
    Refusal(Box::new(
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response(),
    ))
}

/// A request's query parameters, decoded.
struct Query(Vec<(String, String)>);

impl Query {
    fn of(uri: &Uri) -> Query {
        Query(
            url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first value of `key`.
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The endpoints, by path.
enum Endpoint<'a> {
    Root,
    Catalog,
    Tags(&'a str),
    Manifest(&'a str, &'a str),
    Blob(&'a str, &'a str),
    Referrers(&'a str, &'a str),
}

fn endpoint(path: &str) -> Option<Endpoint<'_>> {
    let rest = path.strip_prefix("/v2")?.trim_start_matches('/');
    if rest.is_empty() {
        return Some(Endpoint::Root);
    }
    if rest == "_catalog" {
        return Some(Endpoint::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Endpoint::Tags(name));
    }
    if let Some((name, r)) = rest.rsplit_once("/manifests/") {
        return Some(Endpoint::Manifest(name, r));
    }
    if let Some((name, d)) = rest.rsplit_once("/referrers/") {
        return Some(Endpoint::Referrers(name, d));
    }
    if let Some((name, d)) = rest.rsplit_once("/blobs/") {
        return Some(Endpoint::Blob(name, d));
    }
    None
}

async fn v2(
    State(served): State<Arc<Served>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "this registry is served from a bundle and is read-only",
        )
        .with(header::ALLOW, "GET, HEAD")
        .into_response();
    }
    let query = Query::of(&uri);
    let param = |k: &str| query.get(k);
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let catalog = &served.catalog;
    let Some(endpoint) = endpoint(uri.path()) else {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "not an OCI distribution path",
        )
        .into_response();
    };
    let resolve = |name: &str| {
        catalog.resolve(name, param("ns"), host).ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                "NAME_UNKNOWN",
                &format!("repository `{name}` is not in the bundles served"),
            )
        })
    };
    let head = method == Method::HEAD;
    let result = match endpoint {
        Endpoint::Root => Ok(([(header::CONTENT_TYPE, "application/json")], "{}").into_response()),
        Endpoint::Catalog => {
            let names: Vec<&str> = catalog.repositories.keys().map(String::as_str).collect();
            Ok(page("/v2/_catalog", "repositories", None, &names, &query))
        }
        Endpoint::Tags(name) => resolve(name).map(|repo| {
            let tags: Vec<&str> = repo.tags.keys().map(String::as_str).collect();
            page(
                &format!("/v2/{name}/tags/list"),
                "tags",
                Some(name),
                &tags,
                &query,
            )
        }),
        Endpoint::Manifest(name, reference) => match resolve(name) {
            Ok(repo) => manifest(&served, name, repo, reference, head).await,
            Err(e) => Err(e),
        },
        Endpoint::Blob(name, digest) => match resolve(name) {
            Ok(repo) => blob(&served, name, repo, digest, head, &headers).await,
            Err(e) => Err(e),
        },
        Endpoint::Referrers(name, digest) => {
            resolve(name).and_then(|repo| referrers(repo, digest, param("artifactType")))
        }
    };
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    response.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

/// One page of a sorted list (`n` entries after `last`), with a `Link` to the next.
fn page(path: &str, field: &str, name: Option<&str>, all: &[&str], query: &Query) -> Response {
    let param = |k| query.get(k);
    let after = param("last");
    let start = after.map_or(0, |last| all.partition_point(|x| *x <= last));
    let limit = param("n").and_then(|n| n.parse::<usize>().ok());
    let end = limit.map_or(all.len(), |n| start.saturating_add(n).min(all.len()));
    let items = &all[start..end];
    let mut body = json!({ field: items });
    if let Some(name) = name {
        body["name"] = json!(name);
    }
    let mut response = (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let (Some(n), Some(last)) = (limit, items.last())
        && end < all.len()
    {
        let next: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("last", last)
            .append_pair("n", &n.to_string())
            .finish();
        if let Ok(v) = HeaderValue::from_str(&format!("<{path}?{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    response
}

fn digest_headers(
    builder: axum::http::response::Builder,
    digest: &Digest,
    media_type: &str,
    size: u64,
) -> axum::http::response::Builder {
    builder
        .header(header::CONTENT_TYPE, media_type)
        .header(header::CONTENT_LENGTH, size)
        .header("Docker-Content-Digest", digest.as_str())
        .header(header::ETAG, format!("\"{digest}\""))
}

async fn manifest(
    served: &Served,
    repo: &str,
    r: &Repository,
    reference: &str,
    head: bool,
) -> Result<Response, Refusal> {
    let unknown = || {
        error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            &format!("`{repo}` has no manifest `{reference}` in the bundles served"),
        )
    };
    let digest = match reference.parse::<Digest>() {
        Ok(d) if r.manifests.contains(&d) => d,
        Ok(_) => return Err(unknown()),
        Err(_) => r.tags.get(reference).cloned().ok_or_else(unknown)?,
    };
    let catalog = &served.catalog;
    let source = catalog.manifests.get(&digest).ok_or_else(unknown)?;
    let (media_type, size) = match source {
        ManifestSource::Stored {
            media_type, size, ..
        } => (media_type.clone(), *size),
        ManifestSource::Built(m) => (m.media_type.clone(), m.bytes.len() as u64),
    };
    let builder = digest_headers(Response::builder(), &digest, &media_type, size);
    let body = match source {
        _ if head => Body::empty(),
        ManifestSource::Built(m) => Body::from(m.bytes.clone()),
        ManifestSource::Stored { bundle, .. } => {
            match served.manifests.bytes(catalog, *bundle, &digest).await {
                Ok(bytes) => Body::from(bytes),
                Err(e) => {
                    tracing::error!("manifest {digest} is not served: {e}");
                    return Err(error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "UNKNOWN",
                        &format!("manifest {digest} cannot be read from its bundle"),
                    ));
                }
            }
        }
    };
    builder
        .body(body)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", &e.to_string()))
}

/// A `Range: bytes=…` header as (start, length) within `size`: `Ok(None)` for no header
/// or one this server answers whole (another unit, several ranges, malformed: RFC 9110
/// lets a server ignore those), `Err` when it cannot be satisfied.
fn byte_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
        .filter(|s| !s.contains(','))
    else {
        return Ok(None);
    };
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    let (start, end) = match (first.trim().is_empty(), number(first), number(last)) {
        (true, _, Some(suffix)) if suffix > 0 => (size.saturating_sub(suffix), size),
        (true, _, Some(_)) => return Err(()),
        (false, Some(start), None) if last.trim().is_empty() => (start, size),
        (false, Some(start), Some(last)) if last >= start => {
            (start, last.saturating_add(1).min(size))
        }
        _ => return Ok(None),
    };
    if start >= size {
        return Err(());
    }
    Ok(Some((start, end - start)))
}

/// The end of the 404 message for a blob found damaged.
const DAMAGED: &str = "that is readable: it is damaged in its bundle (see the server log)";

async fn blob(
    served: &Served,
    repo: &str,
    r: &Repository,
    digest: &str,
    head: bool,
    headers: &HeaderMap,
) -> Result<Response, Refusal> {
    let catalog = &served.catalog;
    let unknown = |why: &str| {
        error(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            &format!("`{repo}` has no blob `{digest}` {why}"),
        )
    };
    let Ok(d) = digest.parse::<Digest>() else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            &format!("`{digest}` is not a sha256 digest"),
        ));
    };
    if !r.blobs.contains(&d) {
        return Err(unknown("in the bundles served"));
    }
    let at = *catalog
        .blobs
        .get(&d)
        .ok_or_else(|| unknown("in the bundles served"))?;
    if served.verification.damage(&d).is_some() {
        return Err(unknown(DAMAGED));
    }
    let octets = "application/octet-stream";
    let range = byte_range(headers, at.size).map_err(|()| {
        error(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "BLOB_UNKNOWN",
            "the range asked for is outside the blob",
        )
        .with(header::CONTENT_RANGE, &format!("bytes */{}", at.size))
    })?;
    let builder = Response::builder().header(header::ACCEPT_RANGES, "bytes");
    let verification = &served.verification;
    let built = match range {
        _ if head => digest_headers(builder, &d, octets, at.size).body(Body::empty()),
        Some((start, len)) => digest_headers(builder, &d, octets, len)
            .status(StatusCode::PARTIAL_CONTENT)
            .header(
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{}", start + len - 1, at.size),
            )
            .body(Body::from_stream(
                verification.body(catalog, &d, at, start, len),
            )),
        None => digest_headers(builder, &d, octets, at.size).body(Body::from_stream(
            verification.body(catalog, &d, at, 0, at.size),
        )),
    };
    built.map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", &e.to_string()))
}

fn referrers(
    repo: &Repository,
    digest: &str,
    artifact_type: Option<&str>,
) -> Result<Response, Refusal> {
    let Ok(d) = digest.parse::<Digest>() else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            &format!("`{digest}` is not a sha256 digest"),
        ));
    };
    let all = repo.referrers.get(&d).map_or(&[][..], Vec::as_slice);
    let kept: Vec<&serde_json::Value> = all
        .iter()
        .filter(|r| artifact_type.is_none_or(|t| r["artifactType"] == t))
        .collect();
    let body = json!({
        "schemaVersion": 2,
        "mediaType": crate::oci::media_type::OCI_INDEX,
        "manifests": kept,
    });
    let mut response = (
        [(header::CONTENT_TYPE, crate::oci::media_type::OCI_INDEX)],
        body.to_string(),
    )
        .into_response();
    if artifact_type.is_some() {
        response.headers_mut().insert(
            "OCI-Filters-Applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).expect("header"));
        byte_range(&h, size)
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(range("bytes=0-9", 100), Ok(Some((0, 10))));
        assert_eq!(range("bytes=90-", 100), Ok(Some((90, 10))));
        assert_eq!(range("bytes=-5", 100), Ok(Some((95, 5))));
        assert_eq!(range("bytes=95-500", 100), Ok(Some((95, 5))));
        assert_eq!(range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(range("bytes=100-", 100), Err(()));
        assert_eq!(range("bytes=-0", 100), Err(()));
        assert_eq!(range("bytes=5-2", 100), Ok(None));
        assert_eq!(range("items=0-1", 100), Ok(None));
    }

    #[test]
    fn paths_split_at_the_last_keyword() {
        assert!(matches!(
            endpoint("/v2/a/manifests/b/manifests/latest"),
            Some(Endpoint::Manifest("a/manifests/b", "latest"))
        ));
        assert!(matches!(endpoint("/v2/"), Some(Endpoint::Root)));
        assert!(matches!(
            endpoint("/v2/x/blobs/sha256:00"),
            Some(Endpoint::Blob("x", _))
        ));
        assert!(endpoint("/v3/x").is_none());
    }
}
