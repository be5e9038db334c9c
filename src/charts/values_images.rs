//! The images a chart's values name, without rendering its templates: the shapes charts
//! commonly use for an image, found anywhere in `values.yaml` (after `-f` files and
//! `--set` overrides are applied, as `helm install` would):
//!
//! - `image: nginx:1.27` (a string);
//! - `image: {registry, repository, tag, digest}` (Bitnami and most charts; `registry`
//!   may come from `global.imageRegistry`; an empty tag defaults to the chart's
//!   `appVersion`, which is what those charts' templates do);
//! - `image: {name, tag}` where there is no `repository`;
//!
//! plus the chart's `artifacthub.io/images` annotation (a YAML list of `{name, image}`).
//! Values that hold a template (`{{ … }}`) are left out and said, since only rendering
//! could tell them.

use super::{ChartError, FoundImage};
use serde_json::Value;

/// Images in `values` (already merged), with `app_version` as the default tag.
pub fn in_values(values: &Value, app_version: Option<&str>, file: &str) -> Vec<FoundImage> {
    let global_registry = values
        .pointer("/global/imageRegistry")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let mut found = Vec::new();
    walk(values, &mut Vec::new(), &mut |path, key, value| {
        if key != "image" {
            return;
        }
        let at = format!("{file}: {}", path.join("."));
        if let Some(reference) = image_of(value, global_registry, app_version) {
            found.push(FoundImage {
                reference,
                found_at: at,
            });
        }
    });
    found.sort();
    found.dedup();
    found
}

fn walk(value: &Value, path: &mut Vec<String>, visit: &mut dyn FnMut(&[String], &str, &Value)) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                path.push(key.clone());
                visit(path, key, child);
                walk(child, path, visit);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(format!("[{i}]"));
                walk(child, path, visit);
                path.pop();
            }
        }
        _ => {}
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The reference one `image` value names, if it is one of the known shapes.
fn image_of(
    value: &Value,
    global_registry: Option<&str>,
    app_version: Option<&str>,
) -> Option<String> {
    let reference = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Object(map) => {
            let repository = text(map.get("repository")).or_else(|| text(map.get("name")))?;
            let registry = text(map.get("registry")).or(global_registry.map(str::to_owned));
            let tag = text(map.get("tag")).or(app_version.map(str::to_owned));
            let digest = text(map.get("digest"));
            let mut r = match registry {
                Some(reg) if !repository.starts_with(&format!("{reg}/")) => {
                    format!("{reg}/{repository}")
                }
                _ => repository,
            };
            if let Some(tag) = tag.filter(|_| !r.rsplit('/').next().unwrap_or("").contains(':')) {
                r.push(':');
                r.push_str(&tag);
            }
            if let Some(digest) = digest {
                r.push('@');
                r.push_str(&digest);
            }
            r
        }
        _ => return None,
    };
    let plain = !reference.is_empty()
        && !reference.contains("{{")
        && !reference.contains(char::is_whitespace);
    plain.then_some(reference)
}

/// `base` with `overlay` merged in (maps merge key by key, anything else replaces), as
/// Helm merges `-f` files over the chart's values.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// Applies one `--set a.b.c=value` (dotted keys, a plain value; `true`/`false`/numbers
/// as Helm reads them).
pub fn apply_set(values: &mut Value, assignment: &str) -> Result<(), ChartError> {
    let (path, raw) = assignment
        .split_once('=')
        .ok_or_else(|| ChartError::Invalid {
            what: format!("--set {assignment}"),
            reason: "not KEY=VALUE".into(),
        })?;
    let value = match raw {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        r => r
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(r.to_owned())),
    };
    let mut at = values;
    let keys: Vec<&str> = path.split('.').collect();
    for (i, key) in keys.iter().enumerate() {
        if key.is_empty() {
            return Err(ChartError::Invalid {
                what: format!("--set {assignment}"),
                reason: "an empty key".into(),
            });
        }
        if !at.is_object() {
            *at = Value::Object(serde_json::Map::new());
        }
        let map = at.as_object_mut().ok_or_else(|| ChartError::Invalid {
            what: format!("--set {assignment}"),
            reason: "not a map".into(),
        })?;
        if i + 1 == keys.len() {
            map.insert((*key).to_owned(), value);
            return Ok(());
        }
        at = map
            .entry((*key).to_owned())
            .or_insert(Value::Object(serde_json::Map::new()));
    }
    Ok(())
}

/// Images in a `Chart.yaml`'s `artifacthub.io/images` annotation.
pub fn in_annotation(chart_yaml: &Value, file: &str) -> Result<Vec<FoundImage>, ChartError> {
    let Some(text) = chart_yaml
        .pointer("/annotations/artifacthub.io~1images")
        .and_then(Value::as_str)
    else {
        return Ok(Vec::new());
    };
    let list: Vec<Value> = serde_saphyr::from_str(text).map_err(|e| ChartError::Invalid {
        what: format!("{file}: annotations.artifacthub.io/images"),
        reason: e.to_string(),
    })?;
    Ok(list
        .iter()
        .filter_map(|item| {
            let image = item.get("image")?.as_str()?.trim().to_owned();
            let name = item.get("name").and_then(Value::as_str).unwrap_or("");
            Some(FoundImage {
                reference: image,
                found_at: format!("{file}: annotations.artifacthub.io/images {name}")
                    .trim_end()
                    .to_owned(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_common_shapes_are_found_with_where() {
        let values: Value = serde_saphyr::from_str(
            r#"
global: {imageRegistry: ""}
image: {registry: docker.io, repository: bitnami/redis, tag: 7.2.4-debian-12-r9, digest: ""}
sidecar:
  image: busybox:1.36
metrics:
  image: {repository: quay.io/org/exporter}
init:
  containers:
    - image: {name: alpine, tag: 3.19}
templated:
  image: "{{ .Values.x }}"
"#,
        )
        .expect("yaml");
        let found = in_values(&values, Some("1.5.0"), "values.yaml");
        let refs: Vec<&str> = found.iter().map(|f| f.reference.as_str()).collect();
        assert_eq!(
            refs,
            [
                "alpine:3.19",
                "busybox:1.36",
                "docker.io/bitnami/redis:7.2.4-debian-12-r9",
                "quay.io/org/exporter:1.5.0"
            ]
        );
        let sidecar = found
            .iter()
            .find(|f| f.reference == "busybox:1.36")
            .expect("found");
        assert_eq!(sidecar.found_at, "values.yaml: sidecar.image");
    }

    #[test]
    fn overrides_apply_before_images_are_read() {
        let mut values = json!({"image": {"repository": "app", "tag": "1"}});
        merge(&mut values, json!({"image": {"tag": "2"}}));
        apply_set(&mut values, "image.registry=site.example").expect("set");
        let found = in_values(&values, None, "values.yaml");
        assert_eq!(found[0].reference, "site.example/app:2");
        assert!(apply_set(&mut values, "noequals").is_err());
    }

    #[test]
    fn the_artifacthub_annotation_is_read() {
        let chart = json!({"annotations": {"artifacthub.io/images": "- name: app\n  image: ghcr.io/org/app:1.0\n"}});
        let found = in_annotation(&chart, "Chart.yaml").expect("list");
        assert_eq!(found[0].reference, "ghcr.io/org/app:1.0");
    }
}
