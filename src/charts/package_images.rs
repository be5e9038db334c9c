//! The images a chart package names, read from the package without rendering it: the
//! top chart's `Chart.yaml` annotation and `values.yaml` (with the operator's `-f` files
//! and `--set` overrides applied over it, as `helm install` would), and the same for each
//! subchart it packages in `charts/` (folders and `.tgz`, one level down, each with the
//! parent's values under the subchart's name merged over its own, as Helm does).

use super::values_images::{apply_set, in_annotation, in_values, merge};
use super::{ChartError, FoundImage};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;

/// Largest file read from a package (`Chart.yaml`, `values.yaml`, a subchart `.tgz`).
const MAX_FILE: u64 = 16 << 20;
/// Entries looked at in one package.
const MAX_ENTRIES: usize = 20_000;

/// A chart's two files that name images.
#[derive(Default)]
struct ChartFiles {
    chart_yaml: Option<Value>,
    values: Option<Value>,
}

/// The operator's overrides: `-f` files' contents (parsed) and `--set` assignments.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Values files, merged in order.
    pub files: Vec<Value>,
    /// `a.b=c`, applied in order after the files.
    pub set: Vec<String>,
}

fn parse_yaml(text: &str, what: &str) -> Result<Value, ChartError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_saphyr::from_str(text).map_err(|e| ChartError::Invalid {
        what: what.to_owned(),
        reason: e.to_string(),
    })
}

/// Reads `<top>/Chart.yaml`, `<top>/values.yaml`, and per subchart the same, from a
/// package; subchart `.tgz`s are read recursively once (`depth`).
fn read(
    package: &[u8],
    what: &str,
    depth: usize,
) -> Result<(ChartFiles, BTreeMap<String, ChartFiles>), ChartError> {
    let invalid = |reason: String| ChartError::Invalid {
        what: what.to_owned(),
        reason,
    };
    let mut top = ChartFiles::default();
    let mut subs: BTreeMap<String, ChartFiles> = BTreeMap::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(package));
    let entries = archive
        .entries()
        .map_err(|e| invalid(format!("not a gzip tar: {e}")))?;
    for entry in entries.take(MAX_ENTRIES) {
        let entry = entry.map_err(|e| invalid(format!("not a gzip tar: {e}")))?;
        let path = entry.path().map_err(|e| invalid(e.to_string()))?;
        let parts: Vec<String> = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let named = |p: &str| p == "Chart.yaml" || p == "values.yaml";
        let wanted = match parts.len() {
            2 => named(&parts[1]),
            3 => parts[1] == "charts" && parts[2].ends_with(".tgz") && depth > 0,
            4 => parts[1] == "charts" && named(&parts[3]),
            _ => false,
        };
        if !wanted {
            continue;
        }
        let mut body = Vec::new();
        entry
            .take(MAX_FILE)
            .read_to_end(&mut body)
            .map_err(|e| invalid(e.to_string()))?;
        let text = String::from_utf8_lossy(&body);
        let file = parts.join("/");
        match parts.len() {
            2 if parts[1] == "Chart.yaml" => top.chart_yaml = Some(parse_yaml(&text, &file)?),
            2 => top.values = Some(parse_yaml(&text, &file)?),
            4 => {
                let sub = subs.entry(parts[2].clone()).or_default();
                if parts[3] == "Chart.yaml" {
                    sub.chart_yaml = Some(parse_yaml(&text, &file)?);
                } else {
                    sub.values = Some(parse_yaml(&text, &file)?);
                }
            }
            _ => {
                let (inner, _) = read(&body, &file, depth - 1)?;
                let name = inner
                    .chart_yaml
                    .as_ref()
                    .and_then(|c| c.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| parts[2].trim_end_matches(".tgz").to_owned());
                subs.insert(name, inner);
            }
        }
    }
    Ok((top, subs))
}

fn app_version(chart_yaml: Option<&Value>) -> Option<String> {
    chart_yaml
        .and_then(|c| c.get("appVersion"))
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

/// The images the package `package` names (`what`: the chart as the user named it,
/// which every "found at" begins with).
pub fn in_package(
    package: &[u8],
    what: &str,
    overrides: &Overrides,
) -> Result<Vec<FoundImage>, ChartError> {
    let (top, subs) = read(package, what, 1)?;
    let chart_yaml = top.chart_yaml.ok_or_else(|| ChartError::Invalid {
        what: what.to_owned(),
        reason: "no `<chart>/Chart.yaml` in it: not a Helm chart package".into(),
    })?;
    let mut values = top
        .values
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    for file in &overrides.files {
        merge(&mut values, file.clone());
    }
    for assignment in &overrides.set {
        apply_set(&mut values, assignment)?;
    }
    let mut found = in_annotation(&chart_yaml, &format!("{what} Chart.yaml"))?;
    found.extend(in_values(
        &values,
        app_version(Some(&chart_yaml)).as_deref(),
        &format!("{what} values.yaml"),
    ));
    for (name, sub) in subs {
        if let Some(c) = &sub.chart_yaml {
            found.extend(in_annotation(
                c,
                &format!("{what} charts/{name}/Chart.yaml"),
            )?);
        }
        let mut sub_values = sub
            .values
            .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
        if let Some(global) = values.get("global") {
            merge(&mut sub_values, serde_json::json!({ "global": global }));
        }
        if let Some(own) = values.get(&name) {
            merge(&mut sub_values, own.clone());
        }
        found.extend(in_values(
            &sub_values,
            app_version(sub.chart_yaml.as_ref()).as_deref(),
            &format!("{what} charts/{name}/values.yaml"),
        ));
    }
    Ok(found)
}
