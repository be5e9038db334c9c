//! Bundle → docker-save tar: chooses, per image, what `index.json` points at and which
//! platform `manifest.json` names, then streams the tar (optionally zstd or gzip) to a
//! temporary name renamed when complete, or into a program's standard input (`ctr
//! import`, `docker load`). What each far-side output does with the tar is its sink's
//! (`crate::sinks`).

use crate::blob_store::BlobStore;
use crate::bundle::index::{BundleIndex, ImageEntry};
use crate::docker_archive::{self, ArchiveImage};
use crate::oci::{Descriptor, Digest, ParsedManifest, Platform};
use std::path::{Path, PathBuf};

/// Output compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compress {
    /// Plain tar.
    None,
    /// zstd (window ≤ 32 MiB, which k3s's decoder requires).
    Zstd,
    /// gzip.
    Gzip,
}

impl Compress {
    /// From an output name: `.tar.zst`/`.tzst` → zstd, `.tar.gz`/`.tgz` → gzip, else none.
    pub fn from_name(path: &Path) -> Compress {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if name.ends_with(".zst") || name.ends_with(".tzst") {
            Compress::Zstd
        } else if name.ends_with(".gz") || name.ends_with(".tgz") {
            Compress::Gzip
        } else {
            Compress::None
        }
    }

    /// The usual file suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Compress::None => ".tar",
            Compress::Zstd => ".tar.zst",
            Compress::Gzip => ".tar.gz",
        }
    }
}

/// The tar name for an image: its reference with a tag. An image pinned only by digest
/// gets the tag `sha256-<first 12 hex>` (returned as a note).
pub fn archive_name(image: &ImageEntry) -> (String, Option<String>) {
    let base = image
        .reference
        .split('@')
        .next()
        .unwrap_or(&image.reference);
    let last_slash = base.rfind('/').map_or(0, |i| i + 1);
    if image.tag.is_some() && base[last_slash..].contains(':') {
        return (base.to_owned(), None);
    }
    let name = format!("{base}:sha256-{}", image.digest.short());
    (
        name.clone(),
        Some(format!(
            "`{}` has no tag; named `{name}` in the tar",
            image.reference
        )),
    )
}

fn descriptor(index: &BundleIndex, digest: &Digest) -> Option<Descriptor> {
    let m = index.manifest(digest)?;
    Some(Descriptor {
        media_type: m.media_type.clone(),
        digest: digest.clone(),
        size: m.size,
    })
}

/// Everything below `top`: blobs and child manifests, each once, the manifests children
/// first (from the index, which `bundle::agreement` has checked against the manifests).
fn contents(index: &BundleIndex, top: &Digest, out: &mut Vec<Descriptor>) {
    let closure = index.closure(top);
    let blobs = closure.blobs.iter().filter_map(|b| {
        index.blob(b).map(|entry| Descriptor {
            media_type: entry.media_type.clone(),
            digest: b.clone(),
            size: entry.size,
        })
    });
    let manifests = closure
        .manifests
        .iter()
        .filter_map(|d| descriptor(index, d));
    let mut seen: std::collections::HashSet<Digest> =
        out.iter().map(|d| d.digest.clone()).collect();
    for d in blobs.chain(manifests) {
        if seen.insert(d.digest.clone()) {
            out.push(d);
        }
    }
}

/// Every blob and manifest `image` needs (from the index alone, no bytes read).
pub fn needed(index: &BundleIndex, image: &ImageEntry) -> Vec<Descriptor> {
    let mut out = Vec::new();
    contents(index, &image.digest, &mut out);
    out
}

/// Image manifests under `top` with their platforms.
fn platform_manifests(
    index: &BundleIndex,
    top: &Digest,
    out: &mut Vec<(Digest, Option<Platform>)>,
) {
    for d in index.closure(top).manifests {
        if let Some(m) = index.manifest(&d)
            && m.children.is_empty()
            && !crate::oci::media_type::is_index(&m.media_type)
        {
            out.push((d, m.platform.clone()));
        }
    }
}

/// Decides how `image` goes into a tar. `platform` names the one `manifest.json` uses.
pub fn archive_image(
    store: &BlobStore<'_>,
    index: &BundleIndex,
    image: &ImageEntry,
    platform: &Platform,
) -> Result<(ArchiveImage, Vec<String>), String> {
    let (name, naming_note) = archive_name(image);
    let mut notes: Vec<String> = naming_note.into_iter().collect();
    let top_entry = index
        .manifest(&image.digest)
        .ok_or_else(|| format!("manifest {} is not in the bundle", image.digest))?;
    let mut made = Vec::new();
    // What index.json points at: containerd imports every child of an index, so it never
    // points at an index whose children are not all in the tar.
    let top = if crate::bundle::partial_index::is_partial(top_entry) {
        if top_entry.children.len() == 1 {
            descriptor(index, &top_entry.children[0])
                .ok_or("child manifest missing from the index")?
        } else {
            let original = store.manifest(&image.digest)?;
            let reduced = crate::bundle::partial_index::arrival(top_entry, &original)?
                .and_then(|a| a.reduced)
                .ok_or("a partly carried index with several children yields a reduced index")?;
            let desc = reduced.descriptor();
            made.push(reduced);
            desc
        }
    } else {
        descriptor(index, &image.digest).ok_or("top manifest missing from the index")?
    };
    let mut all = Vec::new();
    if made.is_empty() {
        contents(index, &top.digest, &mut all);
    } else {
        for c in &top_entry.children {
            contents(index, c, &mut all);
        }
    }
    // manifest.json: the manifest for the platform asked for (attestations never).
    let mut candidates = Vec::new();
    platform_manifests(index, &top.digest, &mut candidates);
    if !made.is_empty() {
        for c in &top_entry.children {
            platform_manifests(index, c, &mut candidates);
        }
    }
    let chosen = if candidates.len() == 1
        && candidates[0].1.as_ref().is_none_or(|p| !p.is_unknown())
    {
        candidates[0].0.clone()
    } else {
        let found = candidates.iter().find(|(_, p)| {
            p.as_ref()
                .is_some_and(|p| !p.is_unknown() && platform.matches(p))
        });
        match found {
            Some((d, _)) => d.clone(),
            None => {
                let has: Vec<String> = candidates
                    .iter()
                    .filter_map(|(_, p)| p.as_ref())
                    .filter(|p| !p.is_unknown())
                    .map(ToString::to_string)
                    .collect();
                return Err(format!(
                    "`{}` has no {platform} manifest in the bundle (has: {}); hint: choose with --platform",
                    image.reference,
                    has.join(", ")
                ));
            }
        }
    };
    let chosen_manifest = store.manifest(&chosen)?;
    let ParsedManifest::Image { config, layers } =
        chosen_manifest.parse().map_err(|e| e.to_string())?
    else {
        return Err(format!("{chosen} is not an image manifest"));
    };
    if candidates.len() > 1 {
        notes.push(format!("`{name}`: manifest.json names {platform}"));
    }
    Ok((
        ArchiveImage {
            name,
            top,
            config,
            layers,
            contents: all,
            made,
            position: 0,
        },
        notes,
    ))
}

/// Writes a tar of `images` to `output` (compressed as asked) via `<output>.partial`,
/// fsynced and renamed when complete; a failure removes the partial file.
pub fn write_file(
    output: &Path,
    compress: Compress,
    store: &BlobStore<'_>,
    images: &[ArchiveImage],
) -> Result<PathBuf, String> {
    let how = FileWrite {
        durable: true,
        summed: false,
    };
    write_file_as(output, compress, store, images, how).map(|(path, _)| path)
}

/// How [`write_file_as`] writes.
#[derive(Clone, Copy, Debug)]
pub struct FileWrite {
    /// fsync before the rename: off only for a private file that outlives no crash (the
    /// tar staged for SSH targets in a temporary folder).
    pub durable: bool,
    /// Sum the file's bytes (POSIX `cksum`) as they are written.
    pub summed: bool,
}

/// [`write_file`], fsynced or not, returning the file's POSIX `cksum` when asked for.
pub fn write_file_as(
    output: &Path,
    compress: Compress,
    store: &BlobStore<'_>,
    images: &[ArchiveImage],
    how: FileWrite,
) -> Result<(PathBuf, Option<crate::cksum::Sum>), String> {
    let temp = crate::atomic_file::partial_path(output);
    let result = (|| -> Result<Option<crate::cksum::Sum>, String> {
        let file = crate::cksum::Summing {
            inner: fs_err::File::create(&temp).map_err(|e| e.to_string())?,
            sum: how.summed.then(crate::cksum::Cksum::new),
        };
        // Written on a thread of its own (in 1 MiB chunks): reading and hashing the blobs
        // here overlaps with copying the tar into the page cache there.
        let behind = crate::write_behind::WriteBehind::new(file).map_err(|e| e.to_string())?;
        let done = match compress {
            Compress::None => {
                docker_archive::write(behind, store, images).map_err(|e| e.to_string())?
            }
            Compress::Zstd => {
                let mut encoder = zstd::Encoder::new(behind, 3).map_err(|e| e.to_string())?;
                // k3s's decoder refuses windows over 32 MiB (2^25).
                encoder.window_log(23).map_err(|e| e.to_string())?;
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
                encoder.multithread(threads).map_err(|e| e.to_string())?;
                docker_archive::write(encoder, store, images)
                    .map_err(|e| e.to_string())?
                    .finish()
                    .map_err(|e| e.to_string())?
            }
            Compress::Gzip => {
                let encoder = flate2::write::GzEncoder::new(behind, flate2::Compression::fast());
                docker_archive::write(encoder, store, images)
                    .map_err(|e| e.to_string())?
                    .finish()
                    .map_err(|e| e.to_string())?
            }
        };
        let file = done.finish().map_err(|e| e.to_string())?;
        if how.durable {
            file.inner.sync_all().map_err(|e| e.to_string())?;
        }
        Ok(file.sum.map(|s| s.sum()))
    })();
    match result {
        Ok(sum) => match fs_err::rename(&temp, output) {
            Ok(()) => Ok((output.to_owned(), sum)),
            Err(e) => {
                // Nothing half-done stays behind: not even the complete `.partial`.
                let _ = std::fs::remove_file(&temp);
                Err(format!("writing `{}`: {e}", output.display()))
            }
        },
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(format!("writing `{}`: {e}", output.display()))
        }
    }
}

/// Most of a consumer's stdout or stderr that is kept; the rest is read and dropped.
const KEPT_OUTPUT: u64 = 1 << 20;

/// Reads `stream` to its end on a thread of its own, keeping its first [`KEPT_OUTPUT`]
/// bytes: a consumer that prints while it reads (`docker load`, `ctr import` name each
/// image) must never block on a full pipe while outrider blocks feeding its stdin.
fn drain(mut stream: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    use std::io::Read as _;
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let _ = (&mut stream).take(KEPT_OUTPUT).read_to_end(&mut kept);
        let _ = std::io::copy(&mut stream, &mut std::io::sink());
        kept
    })
}

/// Streams a plain tar of `images` into `program args…` on its standard input (no
/// temporary file) and returns what it printed on stdout.
pub fn pipe(
    program: &str,
    args: &[&str],
    store: &BlobStore<'_>,
    images: &[ArchiveImage],
) -> Result<String, String> {
    let shown = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let stdout = drain(child.stdout.take().ok_or("no stdout")?);
    let stderr = drain(child.stderr.take().ok_or("no stderr")?);
    // As in `write_file_as`: the pipe is fed on a thread of its own; `finish` closes it.
    let written = crate::write_behind::WriteBehind::new(stdin)
        .map_err(docker_archive::ArchiveError::from)
        .and_then(|behind| docker_archive::write(behind, store, images))
        .map(|behind| behind.finish().map(drop));
    let status = child.wait().map_err(|e| e.to_string())?;
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        let stderr = crate::output::sanitize(String::from_utf8_lossy(&stderr).trim());
        return Err(format!("`{shown}` failed ({status}): {stderr}"));
    }
    written
        .map_err(|e| format!("streaming into `{shown}`: {e}"))?
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&stdout).into_owned())
}
