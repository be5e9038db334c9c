//! The index's `referrers`: which artifact describes which manifest. Like every other part
//! of the index they are untrusted: [`check`] proves the names and the graph sound before
//! anything walks them, and [`fault`] holds each relation against the artifact's verified
//! bytes before a push acts on it, so a bundle cannot attach an artifact to an image its
//! manifest does not name, nor push a tag outside cosign's scheme.

use super::index::{BundleIndex, ReferrerEntry};
use super::verified_bytes::Bytes;
use crate::oci::Digest;
use crate::oci::artifact::{artifact_type, cosign_kind, subject_of};
use std::collections::{HashMap, HashSet};

/// Longest chain of artifacts accepted: an image, its SBOM, the SBOM's signature is two.
/// `pack` follows referrers no deeper than this either.
pub const MAX_DEPTH: usize = 4;

/// What kind of artifact a relation names, for tables: `signature`, `attestation`, `sbom`
/// for cosign's tags, `referrer` for an OCI referrer.
pub fn kind(r: &ReferrerEntry) -> &'static str {
    r.tag
        .as_deref()
        .and_then(|t| cosign_kind(&r.subject, t))
        .unwrap_or("referrer")
}

/// Rule 2 for `referrers`: both ends are listed manifests and differ, each relation is
/// listed once, artifact types are media types, a tag is cosign's tag for its subject,
/// and the relation graph has no cycle and no chain longer than [`MAX_DEPTH`] (checked by
/// peeling sources off iteratively, so no chain can overflow a stack).
pub fn check(
    index: &BundleIndex,
    manifests: &HashMap<&Digest, usize>,
    media_type_text: impl Fn(&dyn std::fmt::Display, &str) -> Result<(), String>,
) -> Result<(), String> {
    let mut pairs = HashSet::new();
    for (i, r) in index.referrers.iter().enumerate() {
        let at = format!("referrers[{i}] ({} -> {})", r.subject, r.digest);
        for d in [&r.subject, &r.digest] {
            if !manifests.contains_key(d) {
                return Err(format!("{at}: {d} is not listed in `manifests`"));
            }
        }
        if r.subject == r.digest {
            return Err(format!("{at}: an artifact cannot describe itself"));
        }
        if !pairs.insert((&r.subject, &r.digest)) {
            return Err(format!("{at}: listed twice"));
        }
        media_type_text(&format!("{at}.artifactType"), &r.artifact_type)?;
        for name in &r.repositories {
            let valid = name.split_once('/').is_some_and(|(registry, path)| {
                crate::oci::reference::valid_registry(registry)
                    && crate::oci::reference::valid_repository(path)
            });
            if !valid {
                return Err(format!(
                    "{at}.repositories: `{}` is not `registry/repository`",
                    crate::output::sanitize(&name.chars().take(80).collect::<String>())
                ));
            }
        }
        if let Some(t) = &r.tag
            && cosign_kind(&r.subject, t).is_none()
        {
            return Err(format!(
                "{at}.tag `{}` is not cosign's tag for its subject (sha256-<hex>.sig, .att or .sbom)",
                crate::output::sanitize(t)
            ));
        }
    }
    // Kahn's algorithm: repeatedly take nodes nothing points at; what remains is a cycle.
    let mut incoming: HashMap<&Digest, usize> = HashMap::new();
    let mut out: HashMap<&Digest, Vec<&Digest>> = HashMap::new();
    for r in &index.referrers {
        *incoming.entry(&r.digest).or_default() += 1;
        incoming.entry(&r.subject).or_default();
        out.entry(&r.subject).or_default().push(&r.digest);
    }
    let mut depth: HashMap<&Digest, usize> = HashMap::new();
    let mut ready: Vec<&Digest> = incoming
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(d, _)| *d)
        .collect();
    let mut done = 0;
    while let Some(node) = ready.pop() {
        done += 1;
        let d = depth.get(node).copied().unwrap_or(0);
        for next in out.get(node).into_iter().flatten() {
            let nd = depth.entry(next).or_default();
            *nd = (*nd).max(d + 1);
            if *nd > MAX_DEPTH {
                return Err(format!(
                    "referrers: artifact {next} is more than {MAX_DEPTH} artifacts away from an image"
                ));
            }
            let n = incoming.entry(next).or_default();
            *n -= 1;
            if *n == 0 {
                ready.push(next);
            }
        }
    }
    if done != incoming.len() {
        return Err("referrers: the artifacts' relations form a cycle".into());
    }
    Ok(())
}

/// Rule 3 for one relation: the artifact's bytes (when at hand) have the artifact type the
/// index gives, and an OCI referrer's manifest names the subject in its `subject`.
pub fn fault(r: &ReferrerEntry, bytes: &dyn Bytes) -> Option<String> {
    let raw = match bytes.manifest(&r.digest)? {
        Ok(raw) => raw,
        Err(e) => return Some(format!("artifact {}: {e}", r.digest)),
    };
    let found = artifact_type(&raw);
    if found != r.artifact_type {
        return Some(format!(
            "artifact {}: the index says artifact type `{}`, the manifest says `{}`",
            r.digest,
            crate::output::sanitize(&r.artifact_type),
            crate::output::sanitize(&found)
        ));
    }
    if r.tag.is_none() && subject_of(&raw).as_ref() != Some(&r.subject) {
        return Some(format!(
            "artifact {}: the index lists it as a referrer of {}, but its manifest's `subject` does not name it",
            r.digest, r.subject
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::index::{BlobEntry, ManifestEntry};
    use crate::bundle::validate::check_index;

    fn d(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .expect("digest")
    }

    fn manifest(digest: Digest) -> ManifestEntry {
        ManifestEntry {
            entry: Some(crate::bundle::blob_entry(&digest)),
            digest,
            media_type: crate::oci::media_type::OCI_MANIFEST.into(),
            size: 100,
            platform: None,
            children: Vec::new(),
            complete: None,
            blobs: vec![d('f')],
            destination_repository: None,
        }
    }

    fn index(referrers: Vec<ReferrerEntry>) -> BundleIndex {
        let blob = BlobEntry {
            digest: d('f'),
            size: 2,
            media_type: "application/vnd.oci.empty.v1+json".into(),
            repositories: vec!["app".into()],
            entry: Some(crate::bundle::blob_entry(&d('f'))),
            destination_repository: None,
        };
        BundleIndex::new(
            "outrider test".into(),
            Vec::new(),
            ['a', 'b', 'c']
                .into_iter()
                .map(|c| manifest(d(c)))
                .collect(),
            vec![blob],
            referrers,
        )
    }

    fn rel(subject: char, digest: char, tag: Option<String>) -> ReferrerEntry {
        ReferrerEntry {
            subject: d(subject),
            digest: d(digest),
            artifact_type: "application/spdx+json".into(),
            tag,
            repositories: vec!["docker.io/library/app".into()],
        }
    }

    #[test]
    fn sound_relations_pass_and_every_bad_one_is_named() {
        let sig = Some(format!("sha256-{}.sig", "a".repeat(64)));
        let good = index(vec![rel('a', 'b', sig.clone()), rel('b', 'c', None)]);
        assert_eq!(
            good.format_version, 2,
            "no image shares a subject: version 2 places the same"
        );
        check_index(&good).expect("sound");
        let cases = [
            (vec![rel('a', 'e', None)], "is not listed"),
            (vec![rel('a', 'a', None)], "cannot describe itself"),
            (
                vec![rel('a', 'b', None), rel('a', 'b', None)],
                "listed twice",
            ),
            (
                vec![rel('a', 'b', Some("latest".into()))],
                "not cosign's tag",
            ),
            // cosign's tag, but for another subject: it would move that subject's tag.
            (vec![rel('b', 'c', sig)], "not cosign's tag"),
            (vec![rel('a', 'b', None), rel('b', 'a', None)], "cycle"),
            (
                vec![ReferrerEntry {
                    repositories: vec!["../etc".into()],
                    ..rel('a', 'b', None)
                }],
                "not `registry/repository`",
            ),
        ];
        for (relations, fault) in cases {
            let err = check_index(&index(relations.clone())).expect_err("refused");
            assert!(err.contains(fault), "{relations:?}: {err}");
        }
    }

    #[test]
    fn long_chains_are_refused() {
        let chain: Vec<ReferrerEntry> = (0..=MAX_DEPTH)
            .map(|i| ReferrerEntry {
                subject: d(char::from(b'0' + i as u8)),
                digest: d(char::from(b'1' + i as u8)),
                artifact_type: "application/spdx+json".into(),
                tag: None,
                repositories: Vec::new(),
            })
            .collect();
        let mut idx = index(chain);
        idx.manifests = (0..=MAX_DEPTH + 1)
            .map(|i| manifest(d(char::from(b'0' + i as u8))))
            .collect();
        let err = check_index(&idx).expect_err("refused");
        assert!(err.contains("more than"), "{err}");
    }
}
