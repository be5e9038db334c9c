//! A chart package (`.tgz`) as the OCI artifact Helm itself pushes (`helm push`, Helm
//! 3.8+): a config blob holding the chart's metadata as JSON
//! (`application/vnd.cncf.helm.config.v1+json`) and the package, byte for byte, as the one
//! layer (`application/vnd.cncf.helm.chart.content.v1.tar+gzip`). `helm pull oci://` and
//! `helm install oci://` read it at the far side. No creation time is written, so the same
//! package gives the same manifest digest on every pack (what `--since` compares).

use super::ChartError;
use crate::oci::Digest;
use serde_json::{Map, Value, json};
use std::io::Read;

/// Helm's config media type.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
/// Helm's chart content (layer) media type.
pub const CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// Annotations that record where a chart came from.
pub const SOURCE_REPOSITORY: &str = "dev.outrider.chart.repository";
/// The chart's name and version as the repository named them.
pub const SOURCE_CHART: &str = "dev.outrider.chart.reference";

/// Largest `Chart.yaml` read from a package.
const MAX_CHART_YAML: u64 = 1 << 20;
/// Entries looked at before giving up on finding `Chart.yaml` (it is among the first).
const MAX_ENTRIES: usize = 10_000;

/// The fields of Helm's `chart.Metadata`, in the order Helm's JSON writes them.
const METADATA_FIELDS: [&str; 17] = [
    "name",
    "home",
    "sources",
    "version",
    "description",
    "keywords",
    "maintainers",
    "icon",
    "apiVersion",
    "condition",
    "tags",
    "appVersion",
    "deprecated",
    "annotations",
    "kubeVersion",
    "dependencies",
    "type",
];

/// `Chart.yaml` of a package: the top folder's, read from the gzip tar stream.
pub fn chart_yaml(package: impl Read, what: &str) -> Result<Value, ChartError> {
    let invalid = |reason: String| ChartError::Invalid {
        what: what.to_owned(),
        reason,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(package));
    let entries = archive
        .entries()
        .map_err(|e| invalid(format!("not a gzip tar: {e}")))?;
    for entry in entries.take(MAX_ENTRIES) {
        let entry = entry.map_err(|e| invalid(format!("not a gzip tar: {e}")))?;
        let path = entry
            .path()
            .map_err(|e| invalid(e.to_string()))?
            .into_owned();
        let parts: Vec<_> = path.components().collect();
        if parts.len() == 2 && parts[1].as_os_str() == "Chart.yaml" {
            let mut text = String::new();
            entry
                .take(MAX_CHART_YAML)
                .read_to_string(&mut text)
                .map_err(|e| invalid(format!("Chart.yaml: {e}")))?;
            return serde_saphyr::from_str(&text).map_err(|e| invalid(format!("Chart.yaml: {e}")));
        }
    }
    Err(invalid(
        "no `<chart>/Chart.yaml` in it: not a Helm chart package".into(),
    ))
}

/// The config blob Helm writes for `chart_yaml`: its metadata fields as JSON.
pub fn config(chart_yaml: &Value) -> Vec<u8> {
    let mut out = Map::new();
    for field in METADATA_FIELDS {
        match chart_yaml.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::Array(a)) if a.is_empty() => {}
            Some(Value::Object(o)) if o.is_empty() => {}
            Some(Value::Bool(false)) => {}
            Some(v) => {
                out.insert(field.to_owned(), v.clone());
            }
        }
    }
    Value::Object(out).to_string().into_bytes()
}

/// The chart's name and version from its `Chart.yaml`.
pub fn name_and_version(chart_yaml: &Value, what: &str) -> Result<(String, String), ChartError> {
    let field = |f: &str| {
        chart_yaml
            .get(f)
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ChartError::Invalid {
                what: what.to_owned(),
                reason: format!("Chart.yaml has no `{f}`"),
            })
    };
    Ok((field("name")?, field("version")?))
}

/// The manifest for a chart whose config blob is `config` and package `package`
/// (digest, size); `origin` (repository URL, `name:version`) is recorded when given.
pub fn manifest(
    config: (&Digest, u64),
    package: (&Digest, u64),
    name: &str,
    version: &str,
    origin: Option<(&str, &str)>,
) -> Vec<u8> {
    let mut annotations = Map::new();
    annotations.insert("org.opencontainers.image.title".into(), json!(name));
    annotations.insert("org.opencontainers.image.version".into(), json!(version));
    if let Some((repository, chart)) = origin {
        annotations.insert(SOURCE_REPOSITORY.into(), json!(repository));
        annotations.insert(SOURCE_CHART.into(), json!(chart));
    }
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": CONFIG_MEDIA_TYPE, "digest": config.0.as_str(), "size": config.1 },
        "layers": [{ "mediaType": CONTENT_MEDIA_TYPE, "digest": package.0.as_str(), "size": package.1 }],
        "annotations": annotations,
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(chart_yaml: &str) -> Vec<u8> {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::default(),
        ));
        for (path, body) in [
            ("app/Chart.yaml", chart_yaml),
            ("app/values.yaml", "image: nginx:1\n"),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, path, body.as_bytes())
                .expect("append");
        }
        tar.into_inner().expect("tar").finish().expect("gzip")
    }

    #[test]
    fn a_package_becomes_helms_config_and_manifest() {
        let tgz = package(
            "apiVersion: v2\nname: app\nversion: 1.2.3\nappVersion: \"4.5\"\ntype: application\nkeywords: []\n",
        );
        let meta = chart_yaml(tgz.as_slice(), "app-1.2.3.tgz").expect("chart");
        assert_eq!(
            name_and_version(&meta, "x").expect("named"),
            ("app".to_owned(), "1.2.3".to_owned())
        );
        let config = config(&meta);
        assert_eq!(
            String::from_utf8(config.clone()).expect("utf8"),
            r#"{"name":"app","version":"1.2.3","apiVersion":"v2","appVersion":"4.5","type":"application"}"#
        );
        let d = Digest::of(&config);
        let p = Digest::of(&tgz);
        let m: Value = serde_json::from_slice(&manifest(
            (&d, config.len() as u64),
            (&p, tgz.len() as u64),
            "app",
            "1.2.3",
            Some(("https://charts.example", "app:1.2.3")),
        ))
        .expect("json");
        assert_eq!(m["config"]["mediaType"], CONFIG_MEDIA_TYPE);
        assert_eq!(m["layers"][0]["digest"], p.as_str());
        assert_eq!(
            m["annotations"][SOURCE_REPOSITORY],
            "https://charts.example"
        );
    }

    #[test]
    fn something_else_is_not_a_chart() {
        assert!(chart_yaml(&b"not gzip"[..], "x.tgz").is_err());
        let tgz = package("name: app\n");
        let meta = chart_yaml(tgz.as_slice(), "x").expect("yaml");
        assert!(name_and_version(&meta, "x").is_err());
    }
}
