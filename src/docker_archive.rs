//! A docker-save tar as Docker 25+ writes it, which every consumer loads: an OCI image
//! layout (`oci-layout`, `index.json`, `blobs/sha256/…`) whose index points at the
//! original manifest bytes (so containerd and k3s keep the registry's digest), plus
//! Docker's `manifest.json` and `repositories` pointing into `blobs/` for `docker load`
//! and `podman load`. Layers are copied as they are, each blob once. Written with plain
//! `std::io` to any writer (a file, a compressor, `docker load`'s stdin); every blob is
//! re-hashed on the way.

use crate::blob_store::BlobStore;
use crate::oci::{Descriptor, Digest, RawManifest};
use std::collections::BTreeSet;
use std::io::Write;

/// One image as it goes into the tar.
#[derive(Clone, Debug)]
pub struct ArchiveImage {
    /// `RepoTags` name and `io.containerd.image.name`: the full normalised reference with a tag.
    pub name: String,
    /// What `index.json` points at: the original manifest or index, a reduced index, or
    /// the one platform manifest carried.
    pub top: Descriptor,
    /// The platform manifest `manifest.json` names: its config and layers.
    pub config: Descriptor,
    /// Layers of that manifest, in order.
    pub layers: Vec<Descriptor>,
    /// Every blob and manifest the tar must hold for this image (index targets included).
    pub contents: Vec<Descriptor>,
    /// Manifests made here (reduced indexes) rather than read from a bundle.
    pub made: Vec<RawManifest>,
    /// Its image's position in the bundle's list (artifacts leave gaps).
    pub position: usize,
}

/// A tar could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Writing or reading failed (a failed digest check surfaces here too).
    #[error("writing the tar: {0}")]
    Io(#[from] std::io::Error),
    /// A blob needed is in no bundle given.
    #[error("blob {0} is external to this bundle and in no --base bundle given")]
    Missing(Digest),
}

fn header(size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(kind);
    h.set_cksum();
    h
}

fn file<W: Write>(tar: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> std::io::Result<()> {
    tar.append_data(
        &mut header(bytes.len() as u64, 0o644, tar::EntryType::Regular),
        path,
        bytes,
    )
}

/// Bytes of a blob read at once.
const CHUNK: usize = 1 << 20;

/// Appends one blob as a regular file, read in [`CHUNK`]s. The tar crate copies an entry
/// through an 8 KiB buffer behind `dyn Read`, which cost a system call and a hash update
/// per 8 KiB of every layer; the header and padding are the ones it writes.
fn blob_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    desc: &Descriptor,
    mut reader: impl std::io::Read,
    chunk: &mut [u8],
) -> std::io::Result<()> {
    let mut h = header(desc.size, 0o644, tar::EntryType::Regular);
    // `blobs/sha256/<64 hex>`: 77 ASCII bytes, within the ustar name field.
    h.set_path(blob_path(&desc.digest))?;
    h.set_cksum();
    let out = tar.get_mut();
    out.write_all(h.as_bytes())?;
    let mut copied = 0u64;
    loop {
        let n = reader.read(chunk)?;
        if n == 0 {
            break;
        }
        copied += n as u64;
        if copied > desc.size {
            break;
        }
        out.write_all(&chunk[..n])?;
    }
    if copied != desc.size {
        return Err(std::io::Error::other(format!(
            "blob {} gave {copied} bytes where its descriptor says {}",
            desc.digest, desc.size
        )));
    }
    let padding = (512 - desc.size % 512) % 512;
    out.write_all(&[0u8; 512][..padding as usize])
}

/// Path of a blob inside the tar.
pub fn blob_path(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

/// Writes all `images` into one tar on `out` and returns the writer.
pub fn write<W: Write>(
    out: W,
    store: &BlobStore<'_>,
    images: &[ArchiveImage],
) -> Result<W, ArchiveError> {
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    for dir in ["blobs/", "blobs/sha256/"] {
        tar.append_data(
            &mut header(0, 0o755, tar::EntryType::Directory),
            dir,
            std::io::empty(),
        )?;
    }
    file(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut written = BTreeSet::new();
    let mut chunk = vec![0u8; CHUNK];
    for image in images {
        for made in &image.made {
            if written.insert(made.digest.clone()) {
                file(&mut tar, &blob_path(&made.digest), &made.bytes)?;
            }
        }
        for desc in &image.contents {
            if !written.insert(desc.digest.clone()) {
                continue;
            }
            if !store.has(&desc.digest) {
                return Err(ArchiveError::Missing(desc.digest.clone()));
            }
            let reader = store
                .reader(&desc.digest, desc.size)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            blob_entry(&mut tar, desc, reader, &mut chunk)?;
        }
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": crate::oci::media_type::OCI_INDEX,
        "manifests": images.iter().map(|i| {
            let tag = i.name.rsplit_once(':').map_or("latest", |(_, t)| t);
            serde_json::json!({
                "mediaType": i.top.media_type, "digest": i.top.digest, "size": i.top.size,
                "annotations": { "io.containerd.image.name": i.name, "org.opencontainers.image.ref.name": tag },
            })
        }).collect::<Vec<_>>(),
    });
    file(
        &mut tar,
        "index.json",
        &serde_json::to_vec(&index).map_err(std::io::Error::other)?,
    )?;
    let manifest = images
        .iter()
        .map(|i| {
            serde_json::json!({
                "Config": blob_path(&i.config.digest),
                "RepoTags": [i.name],
                "Layers": i.layers.iter().map(|l| blob_path(&l.digest)).collect::<Vec<_>>(),
            })
        })
        .collect::<Vec<_>>();
    file(
        &mut tar,
        "manifest.json",
        &serde_json::to_vec(&manifest).map_err(std::io::Error::other)?,
    )?;
    let mut repositories = serde_json::Map::new();
    for i in images {
        if let (Some((repo, tag)), Some(last)) = (i.name.rsplit_once(':'), i.layers.last()) {
            let entry = repositories
                .entry(repo.to_owned())
                .or_insert_with(|| serde_json::json!({}));
            entry[tag] = serde_json::json!(last.digest.hex());
        }
    }
    file(
        &mut tar,
        "repositories",
        &serde_json::to_vec(&repositories).map_err(std::io::Error::other)?,
    )?;
    Ok(tar.into_inner()?)
}
