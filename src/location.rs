//! Where images are read from during `pack`, chosen by the text the user gave: a local
//! source `PREFIX:PATH[:REF]` registered in [`LOCAL`] (`oci:`, `oci-archive:`,
//! `docker-archive:`, `docker-charon:`), else an image reference at a registry. This is
//! the one place that knows the kinds of source: it parses the text and opens one, and
//! everything after it sees a `dyn` [`Source`]. Adding a source is one file in
//! `crate::sources` and one line in [`LOCAL`] (or in [`BUILT`], for a source that builds
//! its artifact and may reach the web: `chart:`, `file:`). A URL (`https://…#sha256=…`)
//! is a file; `oci://…` and `chart:oci://…` are references at a registry.

use crate::oci::ImageRef;
use crate::registry::Registries;
use crate::sources::{
    Source, SourceError, charon, chart, docker_archive, file, oci_archive, oci_layout,
};
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Opens a local source at a path.
pub type Open = fn(&Path) -> Result<Arc<dyn Source>, SourceError>;

/// Every local source, by the prefix users write: one line each.
pub const LOCAL: &[(&str, Open)] = &[
    (oci_layout::PREFIX, oci_layout::open),
    (oci_archive::PREFIX, oci_archive::open),
    (docker_archive::PREFIX, docker_archive::open),
    (charon::PREFIX, charon::open),
];

/// Opens a source that builds its artifact from what follows its prefix, reaching the
/// web with the registries' transport settings and credentials.
pub type OpenBuilt =
    for<'a> fn(&'a str, &'a Registries) -> BoxFuture<'a, Result<Arc<dyn Source>, SourceError>>;

/// Every source that builds its artifact, by the prefix users write: one line each.
pub const BUILT: &[(&str, OpenBuilt)] = &[(chart::PREFIX, chart::open), (file::PREFIX, file::open)];

/// A user's image argument, parsed.
#[derive(Clone, Debug)]
pub enum ImageSource {
    /// `registry/repo:tag@digest`.
    Registry(ImageRef),
    /// `PREFIX:PATH[:REF]`, PREFIX one of [`LOCAL`].
    Local {
        /// Which source reads it (its prefix).
        prefix: &'static str,
        /// The directory or file.
        path: PathBuf,
        /// The reference or tag, if given.
        reference: Option<String>,
    },
    /// `PREFIX:TEXT`, PREFIX one of [`BUILT`] (a URL: `file`, TEXT the URL).
    Built {
        /// Which source builds it (its prefix).
        prefix: &'static str,
        /// What follows the prefix.
        text: String,
        /// The web host it is read from (`host[:port]` of a URL), whose credentials are
        /// the default ones as a registry's are.
        host: Option<String>,
    },
}

/// Why an image argument cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Not a reference.
    #[error(transparent)]
    Reference(#[from] crate::oci::ReferenceError),
    /// `… as NAME` with a digest.
    #[error(
        "`as {0}`: a name given with `as` cannot hold a digest (the digest comes from the source); give REGISTRY/REPO:TAG"
    )]
    NameWithDigest(String),
}

/// A user's image argument with the name it should carry, when given as `SOURCE as NAME`.
#[derive(Clone, Debug)]
pub struct ImageRequest {
    /// Where to read it.
    pub source: ImageSource,
    /// The name it carries and is pushed under, instead of the source's own.
    pub name: Option<ImageRef>,
}

/// `PREFIX:PATH[:REF]` split into prefix, path and reference: the path is the longest
/// prefix that names an existing file or directory (a path may hold `:`), else
/// everything before the first `:`.
fn parse_local(text: &str) -> Option<(&'static str, PathBuf, Option<String>)> {
    let (prefix, rest) = LOCAL.iter().find_map(|(p, _)| {
        text.strip_prefix(p)
            .and_then(|r| r.strip_prefix(':'))
            .map(|r| (*p, r))
    })?;
    let cuts = rest.match_indices(':').map(|(i, _)| i);
    let split = std::iter::once(rest.len())
        .chain(cuts.collect::<Vec<_>>().into_iter().rev())
        .find(|&i| Path::new(&rest[..i]).exists())
        .or_else(|| rest.find(':'))
        .unwrap_or(rest.len());
    let reference = rest[split..].strip_prefix(':').filter(|r| !r.is_empty());
    Some((
        prefix,
        PathBuf::from(&rest[..split]),
        reference.map(str::to_owned),
    ))
}

/// `host[:port]` of a URL text (`https://…`), if it is one.
fn web_host(text: &str) -> Option<String> {
    if !file::is_url(text) {
        return None;
    }
    let url = url::Url::parse(text).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    })
}

impl ImageSource {
    /// Parses a local source (`PREFIX:PATH[:REF]`) or an image reference.
    pub fn parse(text: &str) -> Result<ImageSource, crate::oci::ReferenceError> {
        let oci = text
            .strip_prefix("chart:oci://")
            .or_else(|| text.strip_prefix("oci://"));
        if let Some(reference) = oci {
            return Ok(ImageSource::Registry(reference.parse()?));
        }
        if file::is_url(text) {
            return Ok(ImageSource::Built {
                prefix: file::PREFIX,
                text: text.to_owned(),
                host: web_host(text),
            });
        }
        let built = BUILT.iter().find_map(|(p, _)| {
            text.strip_prefix(p)
                .and_then(|r| r.strip_prefix(':'))
                .map(|r| (*p, r))
        });
        if let Some((prefix, rest)) = built {
            return Ok(ImageSource::Built {
                prefix,
                text: rest.to_owned(),
                host: web_host(rest),
            });
        }
        match parse_local(text) {
            Some((prefix, path, reference)) => Ok(ImageSource::Local {
                prefix,
                path,
                reference,
            }),
            None => Ok(ImageSource::Registry(text.parse()?)),
        }
    }

    /// The registry host this argument reads from, if it reads from one (whose
    /// credentials are then the default ones).
    pub fn registry_host(&self) -> Option<&str> {
        match self {
            ImageSource::Registry(r) => Some(&r.registry),
            ImageSource::Built { host, .. } => host.as_deref(),
            ImageSource::Local { .. } => None,
        }
    }

    /// The reference within the source that [`Source::resolve`] takes.
    pub fn reference(&self) -> Option<String> {
        match self {
            ImageSource::Registry(r) => Some(r.to_string()),
            ImageSource::Local { reference, .. } => reference.clone(),
            ImageSource::Built { .. } => None,
        }
    }

    /// What tells opened sources apart: a registry's host, `PREFIX:PATH`.
    fn key(&self) -> String {
        match self {
            ImageSource::Registry(r) => r.registry.clone(),
            ImageSource::Local { prefix, path, .. } => format!("{prefix}:{}", path.display()),
            ImageSource::Built { prefix, text, .. } => format!("{prefix}:{text}"),
        }
    }
}

impl ImageRequest {
    /// Parses `SOURCE` or `SOURCE as REGISTRY/REPO[:TAG]`.
    pub fn parse(text: &str) -> Result<ImageRequest, RequestError> {
        let (source, name) = match text.rsplit_once(" as ") {
            Some((s, n)) => (s.trim(), Some(n.trim())),
            None => (text, None),
        };
        let name = match name {
            Some(n) => {
                let r: ImageRef = n.parse()?;
                if r.digest.is_some() {
                    return Err(RequestError::NameWithDigest(n.to_owned()));
                }
                Some(r)
            }
            None => None,
        };
        Ok(ImageRequest {
            source: ImageSource::parse(source)?,
            name,
        })
    }
}

/// Opens sources, each once however many images name it: a tar is scanned once, a
/// registry's learned answers are shared, and what a legacy `docker save` tar yields is
/// shared by its images.
pub struct Sources<'a> {
    registries: &'a Registries,
    opened: Mutex<HashMap<String, Arc<dyn Source>>>,
}

impl<'a> Sources<'a> {
    /// Opens registries through `registries`.
    pub fn new(registries: &'a Registries) -> Sources<'a> {
        Sources {
            registries,
            opened: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, key: &str) -> Option<Arc<dyn Source>> {
        let opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        opened.get(key).cloned()
    }

    /// The source `at` names, opened on first use.
    pub async fn open(&self, at: &ImageSource) -> Result<Arc<dyn Source>, SourceError> {
        let key = at.key();
        if let Some(s) = self.cached(&key) {
            return Ok(s);
        }
        let opened: Arc<dyn Source> = match at {
            ImageSource::Registry(r) => Arc::new(crate::sources::registry::RegistrySource::new(
                self.registries.get(&r.registry).await?,
            )),
            ImageSource::Built { prefix, text, .. } => {
                // `prefix` came from BUILT, so it is there.
                match BUILT.iter().find(|(p, _)| p == prefix).map(|(_, o)| *o) {
                    Some(open) => open(text, self.registries).await?,
                    None => {
                        return Err(crate::sources::local_error::LocalError::Invalid {
                            path: PathBuf::from(text),
                            reason: format!("no source reads `{prefix}:`"),
                        }
                        .into());
                    }
                }
            }
            ImageSource::Local { prefix, path, .. } => {
                // `prefix` came from LOCAL, so it is there.
                let open = LOCAL.iter().find(|(p, _)| p == prefix).map(|(_, o)| *o);
                match open {
                    Some(open) => open(path)?,
                    None => {
                        return Err(crate::sources::local_error::LocalError::Invalid {
                            path: path.clone(),
                            reason: format!("no source reads `{prefix}:`"),
                        }
                        .into());
                    }
                }
            }
        };
        // Two images of one source opened at once: the first one kept is everyone's.
        let mut all = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        Ok(all.entry(key).or_insert(opened).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_location() {
        assert_eq!(
            parse_local("oci:fixtures/hello:1.0"),
            Some(("oci", "fixtures/hello".into(), Some("1.0".into())))
        );
        assert_eq!(
            parse_local("oci:./a.b/c"),
            Some(("oci", "./a.b/c".into(), None))
        );
        assert_eq!(
            parse_local("docker-archive:x.tar:docker.io/library/busybox:1.36"),
            Some((
                "docker-archive",
                "x.tar".into(),
                Some("docker.io/library/busybox:1.36".into())
            ))
        );
        assert_eq!(
            parse_local("docker-charon:p.zip:ubuntu:22.04"),
            Some(("docker-charon", "p.zip".into(), Some("ubuntu:22.04".into())))
        );
        assert_eq!(parse_local("nginx"), None);
        assert_eq!(parse_local("localhost:5000/app:1"), None);
        assert_eq!(parse_local("oci-archivex:y"), None);
    }

    #[test]
    fn every_registered_source_is_found_by_its_own_prefix() {
        for (prefix, _) in LOCAL {
            let parsed = ImageSource::parse(&format!("{prefix}:some/where:1")).unwrap();
            match parsed {
                ImageSource::Local {
                    prefix: found,
                    path,
                    reference,
                } => {
                    assert_eq!(found, *prefix);
                    assert_eq!(path, PathBuf::from("some/where"));
                    assert_eq!(reference.as_deref(), Some("1"));
                }
                other => panic!("{prefix}: {other:?}"),
            }
        }
        let r = ImageSource::parse("docker.io/library/nginx:1.27").unwrap();
        assert_eq!(r.registry_host(), Some("docker.io"));
        assert_eq!(
            r.reference().as_deref(),
            Some("docker.io/library/nginx:1.27")
        );
    }
}
