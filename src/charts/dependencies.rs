//! The dependencies a chart declares in `Chart.yaml` (Helm 3; `requirements.yaml` for
//! apiVersion v1 charts) and whether each already rides inside the package, in
//! `charts/` (a folder or a `.tgz` of that name). One that does not is carried as a chart
//! of its own when its repository can be reached without Helm's configuration: an
//! `https://` classic repository or an `oci://` registry. `file://` and `@alias`
//! repositories are local to the author's machine and are said, not guessed.

use super::ChartError;
use serde_json::Value;
use std::io::Read;

/// Entries looked at in one package.
const MAX_ENTRIES: usize = 20_000;
/// Largest `Chart.yaml` / `requirements.yaml` read.
const MAX_FILE: u64 = 1 << 20;

/// One declared dependency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// Its chart name.
    pub name: String,
    /// The version or range asked for.
    pub version: String,
    /// Its repository as written (`https://…`, `oci://…`, `file://…`, `@alias`, empty).
    pub repository: String,
    /// Whether the package holds it in `charts/`.
    pub packaged: bool,
}

impl Dependency {
    /// The `pack` request that carries it, when its repository is reachable as written.
    pub fn request(&self) -> Option<String> {
        let repo = self.repository.trim_end_matches('/');
        if repo.starts_with("https://") || repo.starts_with("http://") {
            Some(format!("chart:{repo}/{}:{}", self.name, self.version))
        } else if repo.starts_with("oci://") {
            // An OCI chart is a tag: only an exact version names one.
            semver::Version::parse(self.version.trim_start_matches('v'))
                .ok()
                .map(|_| format!("{repo}/{}:{}", self.name, self.version.replace('+', "_")))
        } else {
            None
        }
    }
}

fn list(doc: &Value) -> Vec<(String, String, String)> {
    doc.get("dependencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let text = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let name = text("name");
            (!name.is_empty()).then(|| (name, text("version"), text("repository")))
        })
        .collect()
}

/// The dependencies `package` declares, each marked packaged or not.
pub fn declared(package: &[u8], what: &str) -> Result<Vec<Dependency>, ChartError> {
    let invalid = |reason: String| ChartError::Invalid {
        what: what.to_owned(),
        reason,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(package));
    let entries = archive
        .entries()
        .map_err(|e| invalid(format!("not a gzip tar: {e}")))?;
    let mut declared = Vec::new();
    let mut inside: Vec<String> = Vec::new();
    for entry in entries.take(MAX_ENTRIES) {
        let entry = entry.map_err(|e| invalid(format!("not a gzip tar: {e}")))?;
        let parts: Vec<String> = entry
            .path()
            .map_err(|e| invalid(e.to_string()))?
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.len() >= 3 && parts[1] == "charts" {
            inside.push(parts[2].clone());
            continue;
        }
        if parts.len() == 2 && (parts[1] == "Chart.yaml" || parts[1] == "requirements.yaml") {
            let mut text = String::new();
            entry
                .take(MAX_FILE)
                .read_to_string(&mut text)
                .map_err(|e| invalid(e.to_string()))?;
            let doc: Value =
                serde_saphyr::from_str(&text).map_err(|e| invalid(format!("{}: {e}", parts[1])))?;
            declared.extend(list(&doc));
        }
    }
    Ok(declared
        .into_iter()
        .map(|(name, version, repository)| {
            let packaged = inside.iter().any(|f| {
                f == &name
                    || f.strip_prefix(&format!("{name}-"))
                        .is_some_and(|rest| rest.ends_with(".tgz"))
            });
            Dependency {
                name,
                version,
                repository,
                packaged,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_only_for_reachable_repositories() {
        let d = |repo: &str, version: &str| Dependency {
            name: "redis".into(),
            version: version.into(),
            repository: repo.into(),
            packaged: false,
        };
        assert_eq!(
            d("https://charts.example/", "^17").request().as_deref(),
            Some("chart:https://charts.example/redis:^17")
        );
        assert_eq!(
            d("oci://reg.example/charts", "17.1.0").request().as_deref(),
            Some("oci://reg.example/charts/redis:17.1.0")
        );
        assert_eq!(d("oci://reg.example/charts", "^17").request(), None);
        assert_eq!(d("file://../redis", "1.0.0").request(), None);
        assert_eq!(d("@bitnami", "1.0.0").request(), None);
    }
}
