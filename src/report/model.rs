//! The report's model: every fact the approver's document states, gathered from the
//! bundles (their indexes, manifests read and verified from the bundle, files re-hashed)
//! and from the signature checks asked for. The renderers only format it.

use super::facts::{self, ArtifactFacts, ImageSignature, Verifier};
use crate::blob_store::BlobStore;
use crate::bundle::index::{BundleIndex, Closure, ImageEntry};
use crate::bundle::reader::BundleReader;
use crate::lineage::{PackedWith, Parent};
use crate::oci::Digest;
use serde::Serialize;

/// The whole report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// When the report was made, UTC (RFC 3339).
    pub generated: String,
    /// `outrider <version>` that made it.
    pub reporter: String,
    /// Totals over every bundle.
    pub summary: Summary,
    /// One entry per bundle (a volume set is one bundle).
    pub bundles: Vec<BundleFacts>,
    /// Every image of every bundle, in bundle order then index order.
    pub images: Vec<ImageFacts>,
}

/// Totals over every bundle.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Bundles reported on.
    pub bundles: usize,
    /// Images (and artifacts requested as images).
    pub images: usize,
    /// Artifacts attached to them: signatures, attestations, SBOMs, others.
    pub artifacts: usize,
    /// SBOMs among them.
    pub sboms: usize,
    /// Attestations among them.
    pub attestations: usize,
    /// Image signatures among them.
    pub signatures: usize,
    /// Images whose signature verified.
    pub images_verified: usize,
    /// Images whose signature was checked and did not verify.
    pub images_failed: usize,
    /// Images whose signature was not checked (no keys given).
    pub images_not_checked: usize,
    /// Bytes the bundles store (blobs and manifests, each once per bundle).
    pub carried_bytes: u64,
    /// Bytes listed as already at the far side.
    pub external_bytes: u64,
    /// Sum over images of their carried bytes, less what is stored: saved by sharing.
    pub saved_by_sharing: u64,
    /// Bytes of the files on disk.
    pub file_bytes: u64,
}

/// One bundle file (or volume).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileFacts {
    /// The path as given or found.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// sha256 of the whole file, as `sha256sum` prints it (`sha256:` prefixed here).
    pub sha256: Digest,
}

/// The bundle's own signature.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleSignature {
    /// Whether it carries `outrider.json.sig`.
    pub signed: bool,
    /// The signing key's fingerprint the index names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// `verified` (checked against a trusted key), `not checked` or `unsigned`.
    pub verdict: String,
    /// The trusted key file it verified with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_key: Option<String>,
}

/// One bundle.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleFacts {
    /// Its file name (the first volume's for a set).
    pub name: String,
    /// Each file, with size and sha256.
    pub files: Vec<FileFacts>,
    /// Volumes of the set not found (a set reported on is then incomplete).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_volumes: Vec<String>,
    /// `formatVersion`.
    pub format_version: u32,
    /// The outrider that wrote it (`tool`).
    pub tool: String,
    /// Its signature.
    pub signature: BundleSignature,
    /// `lineage.created`, when recorded.
    pub created: Option<String>,
    /// `lineage.series`.
    pub series: Option<String>,
    /// `lineage.sequence`.
    pub sequence: Option<u64>,
    /// `lineage.expires`.
    pub expires: Option<String>,
    /// `lineage.parents`.
    pub parents: Vec<Parent>,
    /// `packedWith`: the options that shaped it, when recorded.
    pub packed_with: Option<PackedWith>,
    /// `registryPath`.
    pub registry_path: bool,
    /// Images it lists.
    pub images: usize,
    /// Bytes it stores.
    pub carried_bytes: u64,
    /// Bytes it lists as already at the far side.
    pub external_bytes: u64,
    /// Saved by storing shared blobs once.
    pub saved_by_sharing: u64,
}

/// One image.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageFacts {
    /// The bundle it is in (its `name`).
    pub bundle: String,
    /// Normalised reference.
    pub reference: String,
    /// As the packer wrote it.
    pub requested: String,
    /// Top-level manifest digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Platforms carried.
    pub platforms: Vec<String>,
    /// For an artifact requested as an image: its type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Where it was read (provenance only).
    pub source: String,
    /// Its name at the destination (no prefix): `repository:tag` or `repository@digest`.
    pub destination: String,
    /// Bytes of it (with its artifacts) the bundle stores.
    pub carried_bytes: u64,
    /// Bytes of it already at the far side.
    pub external_bytes: u64,
    /// Its cosign signature's verdict.
    pub signature: ImageSignature,
    /// Its signatures, attestations, SBOMs and other artifacts.
    pub artifacts: Vec<ArtifactFacts>,
}

/// Bytes of `closure`: (carried, external).
fn closure_bytes(index: &BundleIndex, closure: &Closure) -> (u64, u64) {
    let (mut carried, mut external) = (0u64, 0u64);
    for d in closure.manifests.iter().chain(&closure.blobs) {
        let size = index.size_of(d).unwrap_or(0);
        if index.carries(d) {
            carried = carried.saturating_add(size);
        } else {
            external = external.saturating_add(size);
        }
    }
    (carried, external)
}

/// The far-side name of `image`, without a prefix.
fn destination(index: &BundleIndex, image: &ImageEntry) -> String {
    let repo = crate::destination::Naming::new(None, index.registry_path).repository(image);
    match &image.tag {
        Some(t) => format!("{repo}:{t}"),
        None => format!("{repo}@{}", image.digest),
    }
}

/// Gathers the report over `readers` (each a bundle or volume set), re-hashing each file
/// and checking image signatures with `verifier`.
pub fn build(readers: &[BundleReader], verifier: &Verifier<'_>) -> std::io::Result<Report> {
    let mut report = Report {
        generated: crate::lineage::format_time(crate::lineage::now_secs()),
        reporter: concat!("outrider ", env!("CARGO_PKG_VERSION")).into(),
        summary: Summary::default(),
        bundles: Vec::new(),
        images: Vec::new(),
    };
    for reader in readers {
        let (bundle, images) = bundle_facts(reader, verifier)?;
        report.images.extend(images);
        report.bundles.push(bundle);
    }
    let s = &mut report.summary;
    s.bundles = report.bundles.len();
    s.images = report.images.len();
    for b in &report.bundles {
        s.carried_bytes += b.carried_bytes;
        s.external_bytes += b.external_bytes;
        s.saved_by_sharing += b.saved_by_sharing;
        s.file_bytes += b.files.iter().map(|f| f.size).sum::<u64>();
    }
    for i in &report.images {
        s.artifacts += i.artifacts.len();
        for a in &i.artifacts {
            match a.category {
                facts::Category::Sbom => s.sboms += 1,
                facts::Category::Attestation => s.attestations += 1,
                facts::Category::Signature => s.signatures += 1,
                facts::Category::Other => {}
            }
        }
        match i.signature.verdict.as_str() {
            facts::VERIFIED => s.images_verified += 1,
            facts::NOT_CHECKED => s.images_not_checked += 1,
            _ => s.images_failed += 1,
        }
    }
    Ok(report)
}

fn bundle_facts(
    reader: &BundleReader,
    verifier: &Verifier<'_>,
) -> std::io::Result<(BundleFacts, Vec<ImageFacts>)> {
    let index = &reader.index;
    let name = reader
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut files = Vec::new();
    for path in reader.opened() {
        let sum = crate::bundle::checksums::sum_file(path, true)?;
        files.push(FileFacts {
            path: path.display().to_string(),
            size: sum.size,
            sha256: sum.sha256.unwrap_or_else(|| Digest::of(b"")),
        });
    }
    let store = BlobStore::new(reader, &[]);
    let mut images = Vec::new();
    let mut images_bytes = 0u64;
    for image in &index.images {
        let (closure, artifacts) = index.closure_with_artifacts(image);
        let (carried, external) = closure_bytes(index, &closure);
        images_bytes = images_bytes.saturating_add(carried);
        let read = |d: &Digest| reader.manifest(d).map_err(|e| e.to_string());
        images.push(ImageFacts {
            bundle: name.clone(),
            reference: image.reference.clone(),
            requested: image.requested.clone(),
            digest: image.digest.clone(),
            media_type: image.media_type.clone(),
            platforms: image.platforms.iter().map(ToString::to_string).collect(),
            artifact_type: crate::bundle::image_kind::artifact_kind(index, image, read)
                .unwrap_or(None),
            source: image.source.clone(),
            destination: destination(index, image),
            carried_bytes: carried,
            external_bytes: external,
            signature: facts::image_signature(&store, index, image, verifier),
            artifacts: artifacts
                .iter()
                .map(|r| {
                    let (c, e) = closure_bytes(index, &index.closure(&r.digest));
                    facts::artifact(reader, r, c.saturating_add(e))
                })
                .collect(),
        });
    }
    let (mut stored, mut external) = (0u64, 0u64);
    let sizes = index
        .blobs
        .iter()
        .map(|b| (b.size, b.entry.is_some()))
        .chain(index.manifests.iter().map(|m| (m.size, m.entry.is_some())));
    for (size, carried) in sizes {
        if carried {
            stored = stored.saturating_add(size);
        } else {
            external = external.saturating_add(size);
        }
    }
    let seal = reader.seal().to_json();
    let signed = seal["signed"].as_bool().unwrap_or(false);
    let checked = seal["checked"].as_bool().unwrap_or(false);
    let lineage = index.lineage.clone();
    let bundle = BundleFacts {
        name,
        files,
        missing_volumes: reader
            .missing_volumes()
            .iter()
            .map(|(n, p)| format!("volume {n} (`{}`)", p.display()))
            .collect(),
        format_version: index.format_version,
        tool: index.tool.clone(),
        signature: BundleSignature {
            signed,
            signer: seal["signer"].as_str().map(str::to_owned),
            verdict: match (signed, checked) {
                (false, _) => "unsigned",
                (true, false) => facts::NOT_CHECKED,
                (true, true) => facts::VERIFIED,
            }
            .into(),
            trusted_key: seal["trustedKey"].as_str().map(str::to_owned),
        },
        created: lineage.as_ref().map(|l| l.created.clone()),
        series: lineage.as_ref().and_then(|l| l.series.clone()),
        sequence: lineage.as_ref().and_then(|l| l.sequence),
        expires: lineage.as_ref().and_then(|l| l.expires.clone()),
        parents: lineage.map(|l| l.parents).unwrap_or_default(),
        packed_with: index.packed_with.clone(),
        registry_path: index.registry_path,
        images: index.images.len(),
        carried_bytes: stored,
        external_bytes: external,
        saved_by_sharing: images_bytes.saturating_sub(stored),
    };
    Ok((bundle, images))
}
