//! A classic Helm chart repository's `index.yaml`: every version of every chart with the
//! URLs of its package and its digest. A range (`1.2.3`, `^1.2`, `>=1.0 <2.0`, `~1.4 ||
//! ^2`) is resolved to the highest version it admits, pre-releases only when asked for by
//! name, as Helm does (Helm's ranges are Masterminds semver: space-separated comparators
//! are all required, `||` separates alternatives).

use super::ChartError;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `index.yaml`, as much of it as carrying a chart needs.
#[derive(Debug, Deserialize)]
pub struct RepositoryIndex {
    /// Chart name → its versions.
    #[serde(default)]
    pub entries: BTreeMap<String, Vec<ChartVersion>>,
}

/// One version of a chart in the index.
#[derive(Clone, Debug, Deserialize)]
pub struct ChartVersion {
    /// `1.2.3`.
    pub version: String,
    /// Where the package is: absolute, or relative to the repository URL.
    #[serde(default)]
    pub urls: Vec<String>,
    /// The package's sha256 (hex), when the index gives it.
    #[serde(default)]
    pub digest: Option<String>,
    /// The app version, which charts often use as their images' default tag.
    #[serde(default, rename = "appVersion")]
    pub app_version: Option<String>,
}

/// Largest `index.yaml` read: big public repositories' indexes are tens of MiB.
pub const MAX_INDEX_BYTES: u64 = 64 << 20;

impl RepositoryIndex {
    /// Parses an index (`what` names it in errors).
    pub fn parse(text: &str, what: &str) -> Result<RepositoryIndex, ChartError> {
        serde_saphyr::from_str(text).map_err(|e| ChartError::Invalid {
            what: what.to_owned(),
            reason: e.to_string(),
        })
    }

    /// The highest version of `name` that `range` admits (`None` or empty: the highest
    /// release).
    pub fn choose(
        &self,
        name: &str,
        range: Option<&str>,
        repository: &str,
    ) -> Result<&ChartVersion, ChartError> {
        let versions = self
            .entries
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let wanted = range.map(str::trim).filter(|r| !r.is_empty());
        let alternatives = match wanted {
            Some(r) => parse_range(r).map_err(|reason| ChartError::Invalid {
                what: format!("version range `{r}` of chart `{name}`"),
                reason,
            })?,
            None => vec![semver::VersionReq::STAR],
        };
        versions
            .iter()
            .filter_map(|v| {
                let parsed = semver::Version::parse(v.version.trim_start_matches('v')).ok()?;
                alternatives
                    .iter()
                    .any(|req| req.matches(&parsed))
                    .then_some((parsed, v))
            })
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, v)| v)
            .ok_or_else(|| {
                let mut some: Vec<&str> = versions
                    .iter()
                    .map(|v| v.version.as_str())
                    .take(8)
                    .collect();
                if some.is_empty() {
                    some.push("no versions of it");
                }
                ChartError::NoVersion {
                    name: name.to_owned(),
                    range: wanted.unwrap_or("*").to_owned(),
                    repository: repository.to_owned(),
                    available: some.join(", "),
                }
            })
    }
}

/// A Masterminds-style range as alternatives of Rust semver requirements: `||` separates
/// alternatives; within one, comparators separated by spaces or commas all apply. A bare
/// version means exactly that version (Helm's `--version 1.2.3`).
fn parse_range(range: &str) -> Result<Vec<semver::VersionReq>, String> {
    range
        .split("||")
        .map(|alternative| {
            let mut parts: Vec<String> = Vec::new();
            let mut pending_op: Option<String> = None;
            for word in alternative.split([' ', ',']).filter(|w| !w.is_empty()) {
                // `>= 1.0` (operator and version apart) joins back into one comparator.
                if word.chars().all(|c| "<>=~^!".contains(c)) {
                    pending_op = Some(word.to_owned());
                    continue;
                }
                let word = word.trim_start_matches('v');
                let comparator = match pending_op.take() {
                    Some(op) => format!("{op}{word}"),
                    None if word.starts_with(|c: char| c.is_ascii_digit())
                        && !word.contains('*')
                        && !word.contains('x') =>
                    {
                        format!("={word}")
                    }
                    None => word.to_owned(),
                };
                parts.push(comparator);
            }
            if parts.is_empty() {
                return Err("an empty alternative".to_owned());
            }
            semver::VersionReq::parse(&parts.join(", ")).map_err(|e| e.to_string())
        })
        .collect()
}

/// The package URL of `version`, made absolute against the repository URL.
pub fn package_url(repository: &str, version: &ChartVersion) -> Option<String> {
    let first = version.urls.first()?;
    if first.contains("://") {
        return Some(first.clone());
    }
    let base = url::Url::parse(&format!("{}/", repository.trim_end_matches('/'))).ok()?;
    base.join(first).ok().map(|u| u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"
apiVersion: v1
entries:
  app:
    - version: 1.10.0
      urls: [charts/app-1.10.0.tgz]
      digest: aaaa
    - version: 1.2.3
      urls: [https://cdn.example/app-1.2.3.tgz]
    - version: 2.0.0-rc.1
      urls: [app-2.0.0-rc.1.tgz]
    - version: 1.9.1
      urls: [app-1.9.1.tgz]
"#;

    #[test]
    fn a_range_resolves_to_its_highest_release() {
        let index = RepositoryIndex::parse(INDEX, "index.yaml").expect("parses");
        let pick = |r: Option<&str>| {
            index
                .choose("app", r, "https://charts.example")
                .map(|v| v.version.clone())
        };
        assert_eq!(pick(None).expect("any"), "1.10.0");
        assert_eq!(pick(Some("1.2.3")).expect("exact"), "1.2.3");
        assert_eq!(pick(Some("~1.9")).expect("tilde"), "1.9.1");
        assert_eq!(pick(Some(">= 1.0 < 1.10")).expect("and"), "1.9.1");
        assert_eq!(pick(Some("^3 || ~1.2")).expect("or"), "1.2.3");
        assert_eq!(
            pick(Some("2.0.0-rc.1")).expect("named pre-release"),
            "2.0.0-rc.1"
        );
        let e = pick(Some("^5")).expect_err("none").to_string();
        assert!(e.contains("`^5`") && e.contains("1.10.0"), "{e}");
        assert!(index.choose("other", None, "r").is_err());
    }

    #[test]
    fn package_urls_are_made_absolute() {
        let index = RepositoryIndex::parse(INDEX, "index.yaml").expect("parses");
        let v = index.choose("app", Some("1.10.0"), "r").expect("v");
        assert_eq!(
            package_url("https://charts.example/stable", v).as_deref(),
            Some("https://charts.example/stable/charts/app-1.10.0.tgz")
        );
        let v = index.choose("app", Some("1.2.3"), "r").expect("v");
        assert_eq!(
            package_url("https://charts.example", v).as_deref(),
            Some("https://cdn.example/app-1.2.3.tgz")
        );
    }
}
