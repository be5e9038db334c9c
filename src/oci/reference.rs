//! Image references, parsed and normalised exactly as docker does
//! (distribution/reference `ParseNormalizedNamed`): `nginx` is
//! `docker.io/library/nginx:latest`.

use super::digest::Digest;
use std::fmt;
use std::str::FromStr;

/// Docker Hub's canonical name in references.
pub const DOCKER_HUB: &str = "docker.io";

/// A fully normalised image reference: registry, repository path, and a tag, a digest or
/// both (the digest decides what is fetched; the tag is kept for naming).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    /// Registry host with optional port, e.g. `docker.io`, `localhost:5000`.
    pub registry: String,
    /// Repository path, e.g. `library/nginx`.
    pub repository: String,
    /// Tag; `latest` when neither tag nor digest was given.
    pub tag: Option<String>,
    /// Pinned manifest digest.
    pub digest: Option<Digest>,
}

/// Why a reference was refused. Every variant carries the text as the user wrote it.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// Empty text.
    #[error("empty image reference")]
    Empty,
    /// Upper-case letters in the repository path.
    #[error("invalid reference `{0}`: repository name must be lowercase")]
    Uppercase(String),
    /// A path component with characters docker does not allow.
    #[error(
        "invalid reference `{0}`: path component `{1}` must be lowercase letters, digits and single separators (. _ __ -)"
    )]
    Component(String, String),
    /// A tag outside `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    #[error("invalid reference `{0}`: tag `{1}` must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")]
    Tag(String, String),
    /// A digest that is not sha256.
    #[error("invalid reference `{0}`: {1}")]
    Digest(String, super::digest::DigestError),
    /// A registry host that is not host[:port].
    #[error("invalid reference `{0}`: registry `{1}` is not host[:port]")]
    Registry(String, String),
    /// Over 255 characters of name.
    #[error("invalid reference `{0}`: repository name is longer than 255 characters")]
    TooLong(String),
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let s = text.trim();
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (
                r,
                Some(
                    d.parse::<Digest>()
                        .map_err(|e| ReferenceError::Digest(s.into(), e))?,
                ),
            ),
            None => (s, None),
        };
        // The tag is after the last ':' that follows the last '/', so a port is not a tag.
        let (name, tag) = split_tag(rest);
        let tag = tag.map(str::to_owned);
        let (mut registry, mut repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), path.to_owned())
            }
            _ => (DOCKER_HUB.to_owned(), name.to_owned()),
        };
        if registry == "index.docker.io" || registry == "registry-1.docker.io" {
            registry = DOCKER_HUB.to_owned();
        }
        if registry == DOCKER_HUB && !repository.contains('/') {
            repository = format!("library/{repository}");
        }
        validate_registry(s, &registry)?;
        if repository.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(s.into()));
        }
        for component in repository.split('/') {
            if !valid_component(component) {
                return Err(ReferenceError::Component(s.into(), component.into()));
            }
        }
        if name.len() > 255 {
            return Err(ReferenceError::TooLong(s.into()));
        }
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(ReferenceError::Tag(s.into(), t.clone()));
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_owned())
        } else {
            tag
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

/// Splits `name:tag` where the tag is after the last `:` that follows the last `/`, so a
/// registry port (`localhost:5000/app`) or a directory name is never taken for a tag.
pub fn split_tag(text: &str) -> (&str, Option<&str>) {
    let last_slash = text.rfind('/').map_or(0, |i| i + 1);
    match text[last_slash..].rfind(':') {
        Some(i) => (&text[..last_slash + i], Some(&text[last_slash + i + 1..])),
        None => (text, None),
    }
}

/// Whether `registry` is `host[:port]` (or `[v6]:port`) as references name registries.
pub fn valid_registry(registry: &str) -> bool {
    validate_registry(registry, registry).is_ok()
}

fn validate_registry(text: &str, registry: &str) -> Result<(), ReferenceError> {
    let bad = || ReferenceError::Registry(text.into(), registry.into());
    let (host, port, bracketed) = if let Some(inner) = registry.strip_prefix('[') {
        let (h, rest) = inner.split_once(']').ok_or_else(bad)?;
        (h, rest.strip_prefix(':'), true)
    } else {
        match registry.rsplit_once(':') {
            Some((h, p)) => (h, Some(p), false),
            None => (registry, None, false),
        }
    };
    // A host name has no empty label: `.`, `..` and `a..b` are not hosts (and would be
    // path components where a registry names a folder, as in containerd's hosts.d).
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b))
        && (bracketed || host.split('.').all(|label| !label.is_empty()));
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Whether `path` is a repository path the distribution spec allows: components
/// separated by `/`, each `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`, at most 255 bytes in
/// all. Such a path cannot hold `..`, `?`, `#`, `%` or an empty segment.
pub fn valid_repository(path: &str) -> bool {
    !path.is_empty() && path.len() <= 255 && path.split('/').all(valid_component)
}

/// distribution/reference: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Whether `t` is a tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}` (distribution spec).
pub fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || b"_.-".contains(&x))
}

impl ImageRef {
    /// What to ask the registry for: the digest when pinned, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// `registry/repository`, the full name without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        s.parse::<ImageRef>().unwrap().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(norm("nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(norm("bitnami/redis"), "docker.io/bitnami/redis:latest");
        assert_eq!(
            norm("index.docker.io/library/nginx"),
            "docker.io/library/nginx:latest"
        );
        assert_eq!(norm("localhost/app"), "localhost/app:latest");
        assert_eq!(norm("localhost:5000/app:2"), "localhost:5000/app:2");
        assert_eq!(norm("ghcr.io/org/app:2.3"), "ghcr.io/org/app:2.3");
        assert_eq!(
            norm("registry.example.com:5443/team/api"),
            "registry.example.com:5443/team/api:latest"
        );
        assert_eq!(norm("[::1]:5000/app"), "[::1]:5000/app:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            norm(&format!("nginx@{d}")),
            format!("docker.io/library/nginx@{d}")
        );
        let r: ImageRef = format!("nginx:1.27@{d}").parse().unwrap();
        assert_eq!(r.manifest_reference(), d);
        assert_eq!(r.tag.as_deref(), Some("1.27"));
        assert_eq!(
            norm("a__b/c-d---e/f.g_h:TAG_1.x-y"),
            "docker.io/a__b/c-d---e/f.g_h:TAG_1.x-y"
        );
    }

    #[test]
    fn refuses_bad_references() {
        for bad in [
            "",
            "Nginx",
            "nginx:",
            "nginx:-x",
            "nginx@sha256:abc",
            "a//b",
            "a/-b",
            "a/b_",
            "a:5000x/b/c:t:t",
            "my.reg:port/x",
        ] {
            let e = bad.parse::<ImageRef>();
            assert!(e.is_err(), "{bad} was accepted as {:?}", e);
        }
        for host in ["..", ".", "a..b", ".a:5000", "..:5000"] {
            assert!(!valid_registry(host), "{host} was accepted as a registry");
        }
        assert!(valid_registry("[::1]:5000") && valid_registry("reg.example:5000"));
        let e = "Nginx".parse::<ImageRef>().unwrap_err().to_string();
        assert!(e.contains("`Nginx`") && e.contains("lowercase"), "{e}");
        assert!("a".repeat(256).parse::<ImageRef>().is_err());
    }
}
