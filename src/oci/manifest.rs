//! Manifests kept as the exact bytes received. Parsed views derive from the bytes and are
//! never serialised back: re-serialising would change the digest.

use super::digest::{Descriptor, Digest};
use super::media_type;
use super::platform::Platform;
use bytes::Bytes;
use serde::Deserialize;

/// Largest manifest accepted, as the distribution registry itself caps them (4 MiB): a
/// registry that streams more is not sending a manifest.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// A manifest exactly as received, with its verified digest.
#[derive(Clone, Debug)]
pub struct RawManifest {
    /// The bytes as the registry or bundle held them.
    pub bytes: Bytes,
    /// Media type (from the JSON, else from the Content-Type it arrived with).
    pub media_type: String,
    /// sha256 of `bytes`.
    pub digest: Digest,
}

/// Why manifest bytes cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("manifest {digest} is not valid JSON of a known shape: {source}")]
    Json {
        /// Digest of the offending bytes.
        digest: Digest,
        /// Parser error.
        source: serde_json::Error,
    },
    /// Docker image manifest schema 1: signed per request, so its bytes never hash to the
    /// same digest twice, and no current runtime pulls it.
    #[error(
        "Docker image manifest schema 1 is deprecated and not supported; re-push the image with a current client (docker push, podman push, or `skopeo copy --format v2s2`) and pack that"
    )]
    Schema1,
    /// An index whose `manifests` is null or missing: nothing to carry.
    #[error("index {digest} lists no manifests (`manifests` is null or missing)")]
    NoManifests {
        /// Digest of the index.
        digest: Digest,
    },
    /// A media type outrider cannot carry.
    #[error(
        "manifest {digest} has media type `{media_type}`, which outrider cannot carry (supported: OCI and Docker schema 2 manifests and indexes)"
    )]
    Unsupported {
        /// Digest of the manifest.
        digest: Digest,
        /// Its media type.
        media_type: String,
    },
}

/// The parts of a manifest outrider acts on.
#[derive(Clone, Debug)]
pub enum ParsedManifest {
    /// An image manifest: one config and its layers.
    Image {
        /// Config blob.
        config: Descriptor,
        /// Layer blobs, in order.
        layers: Vec<Descriptor>,
    },
    /// An index / manifest list: child manifests with their platforms.
    Index {
        /// Child entries, in order.
        manifests: Vec<IndexEntry>,
    },
}

/// One child of an index, with the entry's JSON kept whole so a reduced index can copy it.
#[derive(Clone, Debug)]
pub struct IndexEntry {
    /// The child's descriptor.
    pub descriptor: Descriptor,
    /// Platform, when the entry names one.
    pub platform: Option<Platform>,
    /// The entry exactly as a JSON object.
    pub json: serde_json::Value,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    #[serde(rename = "schemaVersion")]
    schema_version: Option<u32>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    manifests: Option<Vec<serde_json::Value>>,
}

impl RawManifest {
    /// Wraps bytes whose digest is already known to be right, taking the media type from
    /// the JSON when it names one and from `content_type` otherwise.
    pub fn new(bytes: Bytes, content_type: Option<&str>) -> Result<RawManifest, ManifestError> {
        let declared = content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_owned());
        if declared.as_deref().is_some_and(is_schema1) {
            return Err(ManifestError::Schema1);
        }
        let digest = Digest::of(&bytes);
        let probe: Probe =
            serde_json::from_slice(&bytes).map_err(|source| ManifestError::Json {
                digest: digest.clone(),
                source,
            })?;
        if probe.schema_version == Some(1) {
            return Err(ManifestError::Schema1);
        }
        let media_type = match (probe.media_type, declared) {
            (Some(m), _) => m,
            (None, Some(c)) if media_type::is_index(&c) || media_type::is_image_manifest(&c) => c,
            (None, _) if probe.manifests.is_some() => media_type::OCI_INDEX.to_owned(),
            (None, _) if probe.config.is_some() => media_type::OCI_MANIFEST.to_owned(),
            (None, c) => c.unwrap_or_else(|| "unknown".into()),
        };
        let supported = probe.schema_version == Some(2)
            && (media_type::is_index(&media_type) || media_type::is_image_manifest(&media_type));
        if !supported {
            return Err(ManifestError::Unsupported { digest, media_type });
        }
        if media_type::is_index(&media_type) && probe.manifests.is_none() {
            return Err(ManifestError::NoManifests { digest });
        }
        Ok(RawManifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// The parsed view of the bytes.
    pub fn parse(&self) -> Result<ParsedManifest, ManifestError> {
        let err = |source| ManifestError::Json {
            digest: self.digest.clone(),
            source,
        };
        let probe: Probe = serde_json::from_slice(&self.bytes).map_err(err)?;
        if media_type::is_index(&self.media_type) {
            let mut manifests = Vec::new();
            for json in probe.manifests.unwrap_or_default() {
                let descriptor: Descriptor = serde_json::from_value(json.clone()).map_err(err)?;
                let platform = json
                    .get("platform")
                    .cloned()
                    .map(serde_json::from_value::<Platform>)
                    .transpose()
                    .map_err(err)?;
                manifests.push(IndexEntry {
                    descriptor,
                    platform,
                    json,
                });
            }
            Ok(ParsedManifest::Index { manifests })
        } else {
            let config = probe
                .config
                .ok_or_else(|| err(serde::de::Error::missing_field("config")))?;
            Ok(ParsedManifest::Image {
                config,
                layers: probe.layers,
            })
        }
    }

    /// True when this is an index or manifest list.
    pub fn is_index(&self) -> bool {
        media_type::is_index(&self.media_type)
    }

    /// A descriptor pointing at this manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.bytes.len() as u64,
        }
    }
}

/// Whether a Content-Type names Docker's schema 1 (`…manifest.v1+prettyjws`, `…v1+json`).
fn is_schema1(content_type: &str) -> bool {
    content_type.starts_with("application/vnd.docker.distribution.manifest.v1+")
}

/// Builds an index of the same media type holding only `entries`, each copied as it
/// stood in the original. Used when only some platforms of an index were carried.
pub fn reduced_index(
    original: &RawManifest,
    entries: &[&IndexEntry],
) -> Result<RawManifest, ManifestError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(&original.bytes).map_err(|source| ManifestError::Json {
            digest: original.digest.clone(),
            source,
        })?;
    let list = entries.iter().map(|e| e.json.clone()).collect();
    value["manifests"] = serde_json::Value::Array(list);
    let bytes = Bytes::from(
        serde_json::to_vec(&value).map_err(|source| ManifestError::Json {
            digest: original.digest.clone(),
            source,
        })?,
    );
    RawManifest::new(bytes, Some(&original.media_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_from_json_or_header() {
        let idx = br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":3,"platform":{"os":"linux","architecture":"amd64"}}]}"#;
        let m = RawManifest::new(Bytes::from_static(idx), None).unwrap();
        assert!(m.is_index());
        match m.parse().unwrap() {
            ParsedManifest::Index { manifests } => assert_eq!(
                manifests[0].platform.as_ref().unwrap().to_string(),
                "linux/amd64"
            ),
            _ => panic!("not an index"),
        }
        let v1 = br#"{"schemaVersion":1,"name":"x"}"#;
        assert!(matches!(
            RawManifest::new(Bytes::from_static(v1), None),
            Err(ManifestError::Schema1)
        ));
        let null = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":null}"#;
        assert!(matches!(
            RawManifest::new(Bytes::from_static(null), None),
            Err(ManifestError::NoManifests { .. })
        ));
    }
}
