//! `chart:…`: a Helm chart as a source, carried as the OCI artifact `helm push` writes
//! (`crate::charts::helm_artifact`) so `helm pull oci://` and `helm install oci://` work
//! at the far side. Three kinds:
//!
//! - `chart:https://REPO/NAME[:RANGE]`: a classic repository. Its `index.yaml` is read
//!   (at most `MAX_INDEX_BYTES`), RANGE (Helm's semver ranges; none: the newest release)
//!   chosen as one version, which the note and the manifest's annotations record; the
//!   package is fetched and checked against the index's digest when it gives one.
//!   Credentials (`--auth-for HOST`, the login files, `user:pass@` in the URL) and the
//!   TLS flags apply as for a registry (`super::web`).
//! - `chart:PATH.tgz`: a packaged chart, carried byte for byte.
//! - `chart:DIR`: a chart folder, packaged deterministically
//!   (`crate::charts::package_folder`).
//!
//! (`chart:oci://…` is an image reference at a registry: `location.rs` reads it there.)
//! Each is named `HOST/charts/NAME:VERSION` (`localhost` for local ones; `+` in the
//! version becomes `_`, as Helm does for OCI tags); `as` renames it like an image.

use super::built::{BlobAt, Built};
use super::source::{Source, SourceError};
use super::web::{Web, host_port, shown};
use crate::charts::helm_artifact;
use crate::charts::repository_index::{MAX_INDEX_BYTES, RepositoryIndex, package_url};
use crate::charts::{ChartError, package_folder};
use crate::oci::{Digest, ImageRef, RawManifest};
use crate::registry::Registries;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The prefix users write: `chart:…`.
pub const PREFIX: &str = "chart";

/// Largest chart package read.
pub const MAX_PACKAGE_BYTES: u64 = 64 << 20;

/// Where a chart is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChartAt {
    /// A classic repository: its URL, the chart's name and the range asked for.
    Repository {
        /// `https://charts.example/stable`.
        repository: String,
        /// `app`.
        name: String,
        /// `1.2.3`, `^1.2`; `None`: the newest release.
        range: Option<String>,
    },
    /// A `.tgz` or a chart folder.
    Local(PathBuf),
}

/// Parses what follows `chart:`.
pub fn parse(rest: &str) -> Result<ChartAt, String> {
    if !(rest.starts_with("https://") || rest.starts_with("http://")) {
        return Ok(ChartAt::Local(PathBuf::from(rest)));
    }
    let (scheme, after) = rest.split_once("://").unwrap_or(("https", rest));
    let Some((base, last)) = after.rsplit_once('/') else {
        return Err(format!(
            "`chart:{rest}`: name the chart after the repository URL (`chart:https://REPO/NAME[:VERSION]`)"
        ));
    };
    let (name, range) = match last.split_once(':') {
        Some((n, r)) => (n, Some(r.trim().to_owned()).filter(|r| !r.is_empty())),
        None => (last, None),
    };
    if name.is_empty() || base.is_empty() {
        return Err(format!(
            "`chart:{rest}`: name the chart after the repository URL (`chart:https://REPO/NAME[:VERSION]`)"
        ));
    }
    Ok(ChartAt::Repository {
        repository: format!("{scheme}://{base}"),
        name: name.to_owned(),
        range,
    })
}

/// Helm's OCI tag for a chart version: `+` is not allowed in a tag, `_` stands for it.
pub fn tag_of(version: &str) -> String {
    version.replace('+', "_")
}

fn name_at(host: &str, name: &str, version: &str, what: &str) -> Result<ImageRef, SourceError> {
    format!(
        "{host}/charts/{}:{}",
        name.to_ascii_lowercase(),
        tag_of(version)
    )
    .parse()
    .map_err(|e: crate::oci::ReferenceError| {
        ChartError::Invalid {
            what: what.to_owned(),
            reason: format!("its name and version make no image name: {e}"),
        }
        .into()
    })
}

/// The artifact a package becomes: config and manifest built, everything in memory.
/// `origin`: the repository URL and the chart name asked of it.
fn build(
    describe: String,
    host: &str,
    package: Bytes,
    origin: Option<(&str, &str)>,
    notes: Vec<String>,
    what: &str,
) -> Result<Built, SourceError> {
    let meta = helm_artifact::chart_yaml(package.as_ref(), what)?;
    let (name, version) = helm_artifact::name_and_version(&meta, what)?;
    // The index and the package must name the same chart.
    if let Some((_, asked)) = origin
        && asked != name
    {
        return Err(ChartError::Invalid {
            what: what.to_owned(),
            reason: format!("the package holds chart `{name}`, not `{asked}`"),
        }
        .into());
    }
    let config = Bytes::from(helm_artifact::config(&meta));
    let (config_digest, package_digest) = (Digest::of(&config), Digest::of(&package));
    let origin_chart = origin.map(|(r, _)| (r, format!("{name}:{version}")));
    let manifest = helm_artifact::manifest(
        (&config_digest, config.len() as u64),
        (&package_digest, package.len() as u64),
        &name,
        &version,
        origin_chart.as_ref().map(|(r, c)| (*r, c.as_str())),
    );
    let top = RawManifest::new(Bytes::from(manifest), None).map_err(|e| ChartError::Invalid {
        what: what.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(Built {
        describe,
        name: name_at(host, &name, &version, what)?,
        top,
        blobs: vec![
            (config_digest, BlobAt::Memory(config)),
            (package_digest, BlobAt::Memory(package)),
        ],
        web: None,
        notes,
    })
}

/// A local package or folder.
fn open_local(path: &Path) -> Result<Built, SourceError> {
    let what = path.display().to_string();
    let package = if path.is_dir() {
        package_folder::package(path)?
    } else {
        let meta = fs_err::metadata(path).map_err(|source| super::local_error::LocalError::Io {
            path: path.to_owned(),
            source,
        })?;
        if meta.len() > MAX_PACKAGE_BYTES {
            return Err(ChartError::Invalid {
                what,
                reason: format!("larger than {MAX_PACKAGE_BYTES} bytes: not a chart package"),
            }
            .into());
        }
        fs_err::read(path).map_err(|source| super::local_error::LocalError::Io {
            path: path.to_owned(),
            source,
        })?
    };
    build(
        format!("{PREFIX}:{what}"),
        "localhost",
        Bytes::from(package),
        None,
        Vec::new(),
        &what,
    )
}

/// A chart of a classic repository: index read, version chosen, package fetched and
/// checked.
async fn open_repository(
    repository: &str,
    name: &str,
    range: Option<&str>,
    registries: &Registries,
) -> Result<Built, SourceError> {
    let bad_url = |e: url::ParseError| SourceError::Fetch {
        url: repository.to_owned(),
        reason: format!("not a URL: {e}"),
        transient: false,
    };
    let repo_url =
        url::Url::parse(&format!("{}/", repository.trim_end_matches('/'))).map_err(bad_url)?;
    let web = Web::connect(&repo_url, registries).await?;
    let index_url = repo_url.join("index.yaml").map_err(bad_url)?;
    let text = web.bytes(&index_url, MAX_INDEX_BYTES).await?;
    let shown_repo = shown(&repo_url).trim_end_matches('/').to_owned();
    let index = RepositoryIndex::parse(&String::from_utf8_lossy(&text), &shown(&index_url))?;
    let chosen = index.choose(name, range, &shown_repo)?;
    let package_at = package_url(repo_url.as_str(), chosen)
        .and_then(|u| url::Url::parse(&u).ok())
        .ok_or_else(|| ChartError::Invalid {
            what: shown(&index_url),
            reason: format!("version {} of `{name}` has no package URL", chosen.version),
        })?;
    let package = web.bytes(&package_at, MAX_PACKAGE_BYTES).await?;
    if let Some(want) = chosen.digest.as_deref().filter(|d| !d.is_empty()) {
        let got = Digest::of(&package);
        if !got
            .hex()
            .eq_ignore_ascii_case(want.trim_start_matches("sha256:"))
        {
            return Err(SourceError::Fetch {
                url: shown(&package_at),
                reason: format!(
                    "its sha256 is {}, not the {want} the repository's index.yaml gives",
                    got.hex()
                ),
                transient: false,
            });
        }
    }
    // The version the index chose must be the one the package holds: an index that names
    // 1.2.3 for a 1.0.0 package would otherwise carry another chart than the note says.
    let meta = helm_artifact::chart_yaml(package.as_ref(), &shown(&package_at))?;
    let (_, held) = helm_artifact::name_and_version(&meta, &shown(&package_at))?;
    if held.trim_start_matches('v') != chosen.version.trim_start_matches('v') {
        return Err(SourceError::Fetch {
            url: shown(&package_at),
            reason: format!(
                "the package holds version {held} of `{name}`, not the {} the repository's index.yaml gives",
                chosen.version
            ),
            transient: false,
        });
    }
    let asked = range.unwrap_or("the newest release");
    let note = format!(
        "chart `{name}` from {shown_repo}: {asked} → version {}",
        chosen.version
    );
    build(
        format!("{PREFIX}:{shown_repo}/{name}"),
        &host_port(&repo_url),
        package,
        Some((shown_repo.as_str(), name)),
        vec![note],
        &shown(&package_at),
    )
}

/// Opens `chart:REST` (REST without the prefix).
pub fn open<'a>(
    rest: &'a str,
    registries: &'a Registries,
) -> BoxFuture<'a, Result<Arc<dyn Source>, SourceError>> {
    Box::pin(async move {
        let at = parse(rest).map_err(|reason| ChartError::Invalid {
            what: format!("{PREFIX}:{rest}"),
            reason,
        })?;
        let built = match at {
            ChartAt::Local(path) => open_local(&path)?,
            ChartAt::Repository {
                repository,
                name,
                range,
            } => open_repository(&repository, &name, range.as_deref(), registries).await?,
        };
        Ok(Arc::new(built) as Arc<dyn Source>)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repository_name_and_range() {
        assert_eq!(
            parse("https://charts.example/stable/app:^1.2").expect("parses"),
            ChartAt::Repository {
                repository: "https://charts.example/stable".into(),
                name: "app".into(),
                range: Some("^1.2".into()),
            }
        );
        assert_eq!(
            parse("http://127.0.0.1:8080/app").expect("parses"),
            ChartAt::Repository {
                repository: "http://127.0.0.1:8080".into(),
                name: "app".into(),
                range: None,
            }
        );
        assert!(parse("https://charts.example").is_err());
        assert_eq!(
            parse("./x/app-1.0.0.tgz").expect("local"),
            ChartAt::Local("./x/app-1.0.0.tgz".into())
        );
        assert_eq!(tag_of("1.0.0+build.1"), "1.0.0_build.1");
    }
}
