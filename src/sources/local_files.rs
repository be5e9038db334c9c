//! The files of a local image source: a directory (`oci:DIR`), or the entries of an
//! uncompressed tar (`oci-archive:FILE`, `docker-archive:FILE`) read in place by offset.
//! A tar is scanned once for its headers; nothing is extracted, so packing from a 20 GB
//! `docker save` tar needs no second 20 GB. Plumbing the local sources share; no source
//! itself.

use super::local_error::LocalError;
use crate::oci::{Digest, Verifier};
use bytes::Bytes;
use futures_util::Stream;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Most entries a tar input may list: far beyond any image's files, and a bound on the
/// header scan's memory.
const MAX_TAR_ENTRIES: usize = 1_000_000;

/// A compression a file's first bytes announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
    /// bzip2.
    Bzip2,
    /// xz.
    Xz,
}

impl Compression {
    /// From a file's first (up to 4) bytes; `None` for uncompressed data.
    pub fn sniff(head: &[u8]) -> Option<Compression> {
        match head {
            [0x1f, 0x8b, ..] => Some(Compression::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
            [b'B', b'Z', b'h', ..] => Some(Compression::Bzip2),
            [0xfd, b'7', b'z', b'X', ..] => Some(Compression::Xz),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        }
    }

    fn decompressor(self) -> &'static str {
        match self {
            Compression::Gzip => "gunzip",
            Compression::Zstd => "unzstd",
            Compression::Bzip2 => "bunzip2",
            Compression::Xz => "unxz",
        }
    }
}

/// Where a local source's files are.
#[derive(Clone, Debug)]
pub enum LocalFiles {
    /// A directory.
    Dir(PathBuf),
    /// Entries of a tar file: name → (data offset, size).
    Tar {
        /// The tar file.
        path: PathBuf,
        /// Regular files by normalised name, links resolved.
        entries: Arc<HashMap<String, (u64, u64)>>,
    },
}

/// `a/./b/../c` → `a/c`; `None` when it climbs above the root.
fn normalise(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Refuses, by its type and before it is opened, anything at `path` but a regular file
/// (a symbolic link counts as what it points to): opening a FIFO for reading waits for a
/// writer forever, a device reads without end, and a socket cannot be opened at all.
pub fn refuse_special(path: &Path) -> Result<(), LocalError> {
    use std::os::unix::fs::FileTypeExt;
    let kind = match std::fs::metadata(path) {
        Ok(m) => m.file_type(),
        // Let the open that follows say what is wrong (missing, no permission).
        Err(_) => return Ok(()),
    };
    let what = if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        return Ok(());
    };
    Err(LocalError::Invalid {
        path: path.to_owned(),
        reason: format!(
            "it is {what}, not a regular file; outrider reads only regular files from a local source (copy the content into a file)"
        ),
    })
}

impl LocalFiles {
    /// Scans a tar's headers. A compressed tar is refused with the command that fixes it:
    /// reading in place needs the entries' bytes at fixed offsets.
    pub fn open_tar(path: &Path) -> Result<LocalFiles, LocalError> {
        let io = |source| LocalError::Io {
            path: path.to_owned(),
            source,
        };
        let invalid = |reason: String| LocalError::Invalid {
            path: path.to_owned(),
            reason,
        };
        refuse_special(path)?;
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut magic = [0u8; 4];
        let n = file.read(&mut magic).map_err(io)?;
        if let Some(c) = Compression::sniff(&magic[..n]) {
            return Err(invalid(format!(
                "the archive is compressed with {}: decompress it first with `{}` (outrider reads archives in place)",
                c.name(),
                c.decompressor()
            )));
        }
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut archive = tar::Archive::new(std::io::BufReader::new(file));
        let mut files = HashMap::new();
        let mut links: Vec<(String, String)> = Vec::new();
        let bad_tar = |e: std::io::Error| invalid(format!("not a readable tar: {e}"));
        for entry in archive.entries_with_seek().map_err(bad_tar)? {
            let entry = entry.map_err(bad_tar)?;
            if files.len() + links.len() >= MAX_TAR_ENTRIES {
                return Err(invalid(format!("more than {MAX_TAR_ENTRIES} entries")));
            }
            let raw = entry.path_bytes();
            let name = String::from_utf8_lossy(&raw).into_owned();
            let Some(name) = normalise(&name) else {
                return Err(invalid(format!(
                    "entry `{}` climbs out of the archive",
                    crate::output::sanitize(&name)
                )));
            };
            let kind = entry.header().entry_type();
            if kind.is_file() || kind == tar::EntryType::Continuous {
                files.insert(name, (entry.raw_file_position(), entry.size()));
            } else if kind.is_symlink() || kind.is_hard_link() {
                let Some(target) = entry.link_name_bytes() else {
                    continue;
                };
                let target = String::from_utf8_lossy(&target).into_owned();
                // A symlink is relative to its directory; a hard link to the root.
                let full = if kind.is_symlink() && !target.starts_with('/') {
                    match name.rsplit_once('/') {
                        Some((dir, _)) => format!("{dir}/{target}"),
                        None => target,
                    }
                } else {
                    target
                };
                if let Some(full) = normalise(&full) {
                    links.push((name, full));
                }
            }
        }
        // Links to links: a few rounds resolve any chain a real archive has.
        for _ in 0..8 {
            let mut progressed = false;
            for (name, target) in &links {
                if !files.contains_key(name)
                    && let Some(span) = files.get(target).copied()
                {
                    files.insert(name.clone(), span);
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
        Ok(LocalFiles::Tar {
            path: path.to_owned(),
            entries: Arc::new(files),
        })
    }

    /// The directory or tar file.
    pub fn path(&self) -> &Path {
        match self {
            LocalFiles::Dir(p) | LocalFiles::Tar { path: p, .. } => p,
        }
    }

    /// Where `name` is: a file path, or the tar with the entry's span.
    fn locate(&self, name: &str) -> Result<(PathBuf, u64, Option<u64>), LocalError> {
        match self {
            LocalFiles::Dir(root) => Ok((root.join(name), 0, None)),
            LocalFiles::Tar { path, entries } => match entries.get(name) {
                Some(&(offset, size)) => Ok((path.clone(), offset, Some(size))),
                None => Err(LocalError::Io {
                    path: path.join(name),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "no such entry in the archive",
                    ),
                }),
            },
        }
    }

    /// Whether the source has a file `name`.
    pub fn exists(&self, name: &str) -> bool {
        match self {
            LocalFiles::Dir(root) => root.join(name).is_file(),
            LocalFiles::Tar { entries, .. } => entries.contains_key(name),
        }
    }

    /// The files directly in directory `dir` (`blobs/sha256`), as names under the root,
    /// sorted; none when it is missing.
    pub fn list(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let mut names: Vec<String> = match self {
            LocalFiles::Dir(root) => std::fs::read_dir(root.join(dir))
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                        .map(|e| format!("{prefix}{}", e.file_name().to_string_lossy()))
                        .collect()
                })
                .unwrap_or_default(),
            LocalFiles::Tar { entries, .. } => entries
                .keys()
                .filter(|n| n.strip_prefix(&prefix).is_some_and(|r| !r.contains('/')))
                .cloned()
                .collect(),
        };
        names.sort();
        names
    }

    /// Size of file `name`.
    pub fn size(&self, name: &str) -> Result<u64, LocalError> {
        let (path, _, size) = self.locate(name)?;
        match size {
            Some(s) => Ok(s),
            None => {
                refuse_special(&path)?;
                fs_err::metadata(&path)
                    .map(|m| m.len())
                    .map_err(|source| LocalError::Io { path, source })
            }
        }
    }

    /// Opens `name` positioned at its first byte, with its length.
    fn open(&self, name: &str) -> Result<(PathBuf, std::io::Take<std::fs::File>), LocalError> {
        let (path, offset, size) = self.locate(name)?;
        let io = |source| LocalError::Io {
            path: path.clone(),
            source,
        };
        if size.is_none() {
            refuse_special(&path)?;
        }
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let size = match size {
            Some(s) => s,
            None => file.metadata().map_err(io)?.len(),
        };
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        let shown = match self {
            LocalFiles::Dir(_) => path.clone(),
            LocalFiles::Tar { path, .. } => path.join(name),
        };
        Ok((shown, file.take(size)))
    }

    /// Reads all of `name`, refusing more than `limit` bytes.
    pub fn read(&self, name: &str, limit: u64) -> Result<Vec<u8>, LocalError> {
        let size = self.size(name)?;
        if size > limit {
            return Err(LocalError::Invalid {
                path: self.path().join(name),
                reason: format!("{size} bytes, more than the {limit} a metadata file may hold"),
            });
        }
        self.head(name, size as usize)
    }

    /// The first bytes of `name` (fewer when it is shorter).
    pub fn head(&self, name: &str, n: usize) -> Result<Vec<u8>, LocalError> {
        let (shown, reader) = self.open(name)?;
        let mut bytes = Vec::with_capacity(n);
        reader
            .take(n as u64)
            .read_to_end(&mut bytes)
            .map_err(|source| LocalError::Io {
                path: shown,
                source,
            })?;
        Ok(bytes)
    }

    /// sha256 and size of `name`, read through once.
    pub fn digest(&self, name: &str) -> Result<(Digest, u64), LocalError> {
        let (shown, reader) = self.open(name)?;
        Digest::of_reader(reader).map_err(|source| LocalError::Io {
            path: shown,
            source,
        })
    }

    /// Reads `name` whole and checks it against `digest` and `size`.
    pub fn read_verified(
        &self,
        name: &str,
        digest: &Digest,
        size: u64,
        limit: u64,
    ) -> Result<Vec<u8>, LocalError> {
        let bytes = self.read(name, limit)?;
        let mut v = Verifier::new(digest, size);
        v.update(&bytes)
            .and_then(|()| v.finish())
            .map_err(|source| LocalError::Content {
                path: self.path().to_owned(),
                source,
            })?;
        Ok(bytes)
    }

    /// Streams `name` in 1 MiB chunks (the caller verifies).
    pub fn stream(
        &self,
        name: &str,
    ) -> impl Stream<Item = Result<Bytes, LocalError>> + Send + 'static + use<> {
        let opened = self.open(name);
        futures_util::stream::unfold(Some(opened), |state| async move {
            let (shown, mut reader) = match state? {
                Ok(r) => r,
                Err(e) => return Some((Err(e), None)),
            };
            let result = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0; 1024 * 1024];
                let n = reader.read(&mut buf)?;
                buf.truncate(n);
                Ok::<_, std::io::Error>((buf, reader))
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            match result {
                Ok((buf, _)) if buf.is_empty() => None,
                Ok((buf, reader)) => Some((Ok(Bytes::from(buf)), Some(Ok((shown, reader))))),
                Err(source) => Some((
                    Err(LocalError::Io {
                        path: shown,
                        source,
                    }),
                    None,
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn normalises_names() {
        assert_eq!(super::normalise("./a/./b/../c").as_deref(), Some("a/c"));
        assert_eq!(super::normalise("a/../../etc"), None);
    }
}
