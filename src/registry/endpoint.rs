//! The one place where a repository name and a reference become part of a request URL.
//! Names reach the registry client from users, configs and bundles; a bundle is untrusted,
//! so every path is built here from checked parts: the repository must match the
//! distribution spec's grammar and the reference must be a tag or a digest, which together
//! cannot spell `..`, `?`, `#`, `%` or an empty segment. A bad name is refused before any
//! request is made.

use crate::oci::Digest;
use crate::oci::reference::{valid_repository, valid_tag};

/// One `/v2/<name>/…` endpoint (distribution spec, "Endpoints").
#[derive(Clone, Copy, Debug)]
pub enum Endpoint<'a> {
    /// `manifests/<reference>`: a tag or a digest.
    Manifest(&'a str),
    /// `blobs/<digest>`.
    Blob(&'a Digest),
    /// `blobs/uploads/`: start an upload.
    Uploads,
    /// `blobs/uploads/?mount=<digest>&from=<repository>`.
    Mount {
        /// The blob.
        digest: &'a Digest,
        /// The repository it is mounted from.
        from: &'a str,
    },
    /// `tags/list?n=1000`.
    Tags,
    /// `referrers/<digest>`: the OCI 1.1 referrers API.
    Referrers(&'a Digest),
}

/// The path below `/v2/` for `endpoint` in `repo`, or why a name is refused.
pub fn path(repo: &str, endpoint: Endpoint<'_>) -> Result<String, String> {
    let repository = |r: &str| {
        if valid_repository(r) {
            Ok(())
        } else {
            Err(format!(
                "`{}` is not a repository name",
                crate::output::sanitize(r)
            ))
        }
    };
    repository(repo)?;
    Ok(match endpoint {
        Endpoint::Manifest(reference) => {
            if !valid_tag(reference) && reference.parse::<Digest>().is_err() {
                return Err(format!(
                    "`{}` is neither a tag nor a digest",
                    crate::output::sanitize(reference)
                ));
            }
            format!("{repo}/manifests/{reference}")
        }
        Endpoint::Blob(digest) => format!("{repo}/blobs/{digest}"),
        Endpoint::Uploads => format!("{repo}/blobs/uploads/"),
        Endpoint::Mount { digest, from } => {
            repository(from)?;
            format!("{repo}/blobs/uploads/?mount={digest}&from={from}")
        }
        Endpoint::Tags => format!("{repo}/tags/list?n=1000"),
        Endpoint::Referrers(digest) => format!("{repo}/referrers/{digest}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_escape_are_refused() {
        let d: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        assert_eq!(
            path("library/nginx", Endpoint::Manifest("1.27")).unwrap(),
            "library/nginx/manifests/1.27"
        );
        assert!(path("library/nginx", Endpoint::Manifest(d.as_str())).is_ok());
        for repo in [
            "../../v2/other",
            "a/../b",
            "a//b",
            "a/",
            "/a",
            "a?x=1",
            "A/b",
            "a#b",
            "a%2e",
        ] {
            assert!(path(repo, Endpoint::Blob(&d)).is_err(), "{repo}");
        }
        for tag in ["../x", "x/manifests/y", "1.0?x", "", ".x", "a#b"] {
            assert!(path("a", Endpoint::Manifest(tag)).is_err(), "{tag}");
        }
        assert!(
            path(
                "a",
                Endpoint::Mount {
                    digest: &d,
                    from: "../b"
                }
            )
            .is_err()
        );
    }
}
