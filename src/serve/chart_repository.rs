//! `serve` as a classic Helm chart repository beside the OCI routes, so
//! `helm repo add site http://HOST:PORT/charts` works with no egress:
//! `GET /charts/index.yaml` lists every Helm chart artifact in the bundles (config media
//! type `application/vnd.cncf.helm.config.v1+json`), its metadata taken from the chart's
//! config blob, its `digest` the package's sha256 and its URL `NAME-VERSION.tgz`;
//! `GET /charts/NAME-VERSION.tgz` is the package, the artifact's layer, streamed as
//! verified bytes like any blob. The index is built once at start and written as JSON,
//! which is YAML and which Helm reads.

use super::api::Served;
use crate::charts::helm_artifact::{CONFIG_MEDIA_TYPE, CONTENT_MEDIA_TYPE};
use crate::oci::{Descriptor, Digest, ParsedManifest};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

/// Largest chart config blob read for the index.
const MAX_CONFIG: u64 = 1 << 20;

/// The charts served: file name → package descriptor, and the index's bytes.
struct Charts {
    packages: BTreeMap<String, Descriptor>,
    index: Vec<u8>,
}

/// The Helm charts among `served`'s images, read from their manifests and configs; a
/// manifest or config that cannot be read leaves its chart out (the OCI route reports
/// it when asked for).
fn charts(served: &Served) -> Charts {
    let catalog = &served.catalog;
    let mut entries: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut packages = BTreeMap::new();
    for bundle in &catalog.bundles {
        for image in &bundle.index.images {
            let Ok(manifest) = bundle.manifest(&image.digest) else {
                continue;
            };
            let Ok(ParsedManifest::Image { config, layers }) = manifest.parse() else {
                continue;
            };
            let Some(package) = layers.iter().find(|l| l.media_type == CONTENT_MEDIA_TYPE) else {
                continue;
            };
            if config.media_type != CONFIG_MEDIA_TYPE
                || config.size > MAX_CONFIG
                || !catalog.blobs.contains_key(&package.digest)
            {
                continue;
            }
            let mut body = Vec::new();
            let read = bundle
                .blob_reader(&config.digest, config.size)
                .map_err(|e| e.to_string())
                .and_then(|mut r| r.read_to_end(&mut body).map_err(|e| e.to_string()));
            let Ok(Value::Object(mut meta)) = read
                .and_then(|_| serde_json::from_slice::<Value>(&body).map_err(|e| e.to_string()))
            else {
                continue;
            };
            let (Some(name), Some(version)) = (
                meta.get("name").and_then(Value::as_str).map(str::to_owned),
                meta.get("version")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            ) else {
                continue;
            };
            let file = format!("{name}-{version}.tgz");
            if packages.contains_key(&file) {
                continue;
            }
            meta.insert("digest".into(), json!(package.digest.hex()));
            meta.insert("urls".into(), json!([file]));
            meta.entry("apiVersion").or_insert(json!("v2"));
            entries.entry(name).or_default().push(Value::Object(meta));
            packages.insert(file, package.clone());
        }
    }
    let entries: Map<String, Value> = entries
        .into_iter()
        .map(|(k, v)| (k, Value::Array(v)))
        .collect();
    let index = json!({ "apiVersion": "v1", "entries": entries }).to_string();
    Charts {
        packages,
        index: index.into_bytes(),
    }
}

async fn index(State(charts): State<Arc<(Arc<Served>, Charts)>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-yaml")],
        charts.1.index.clone(),
    )
        .into_response()
}

async fn package(
    State(charts): State<Arc<(Arc<Served>, Charts)>>,
    Path(file): Path<String>,
) -> Response {
    let (served, charts) = (&charts.0, &charts.1);
    let Some(desc) = charts.packages.get(&file) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no chart `{file}` is served\n"),
        )
            .into_response();
    };
    let digest: &Digest = &desc.digest;
    let Some(at) = served.catalog.blobs.get(digest).copied() else {
        return (
            StatusCode::NOT_FOUND,
            format!("no chart `{file}` is served\n"),
        )
            .into_response();
    };
    if served.verification.damage(digest).is_some() {
        return (
            StatusCode::NOT_FOUND,
            format!("`{file}` is damaged in its bundle (see the server log)\n"),
        )
            .into_response();
    }
    let body = served
        .verification
        .body(&served.catalog, digest, at, 0, at.size);
    Response::builder()
        .header(header::CONTENT_TYPE, "application/gzip")
        .header(header::CONTENT_LENGTH, at.size)
        .body(Body::from_stream(body))
        .unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}

/// The routes `/charts/index.yaml` and `/charts/{NAME-VERSION}.tgz`, and how many charts
/// they serve.
pub fn router(served: Arc<Served>) -> (axum::Router, usize) {
    use axum::routing::get;
    let charts = charts(&served);
    let count = charts.packages.len();
    let router = axum::Router::new()
        .route("/charts/index.yaml", get(index))
        .route("/charts/{file}", get(package))
        .with_state(Arc::new((served, charts)));
    (router, count)
}
