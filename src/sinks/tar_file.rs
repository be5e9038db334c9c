//! A docker-archive written to a file, as every file-writing tar sink does it
//! (`--docker-save`, `--k3s`, the tar for `-c` targets): written whole under a temporary
//! name and renamed ([`crate::copy::to_archive::write_file`]), then named on stderr with
//! its size; and the folder whose file system must hold it.

use crate::blob_store::BlobStore;
use crate::copy::to_archive::{self, Compress};
use crate::docker_archive::ArchiveImage;
use crate::output;
use std::path::{Path, PathBuf};

/// A tar could not be written (the message names the file and the cause).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WriteFailed(pub String);

/// Writes `images` into `path`, compressed as asked; returns the path written.
pub fn write(
    path: &Path,
    compress: Compress,
    store: &BlobStore<'_>,
    images: &[ArchiveImage],
) -> Result<PathBuf, WriteFailed> {
    to_archive::write_file(path, compress, store, images).map_err(WriteFailed)
}

/// [`write`], fsynced only when `durable`, returning the file's POSIX `cksum`.
pub fn write_summed(
    path: &Path,
    durable: bool,
    store: &BlobStore<'_>,
    images: &[ArchiveImage],
) -> Result<(PathBuf, crate::cksum::Sum), WriteFailed> {
    let how = to_archive::FileWrite {
        durable,
        summed: true,
    };
    match to_archive::write_file_as(path, Compress::None, store, images, how) {
        Ok((path, Some(sum))) => Ok((path, sum)),
        Ok((path, None)) => Err(WriteFailed(format!(
            "writing `{}`: no checksum was kept",
            path.display()
        ))),
        Err(e) => Err(WriteFailed(e)),
    }
}

/// Says on stderr what was written: the file, its images, its size.
pub fn report_written(path: &Path, images: usize) {
    let size = fs_err::metadata(path).map(|m| m.len()).unwrap_or(0);
    output::note(&format!(
        "wrote `{}`: {images} images, {}",
        path.display(),
        output::bytes(size)
    ));
}

/// The folder a file is written into (`.` for a bare name): its file system must hold it.
pub fn parent(path: &Path) -> PathBuf {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}
