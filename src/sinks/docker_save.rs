//! `unpack --docker-save`: bundle → docker-archive, as one tar file (compressed as its
//! name says, or as asked) or one tar per image in a folder (`--per-image`). Owns the
//! per-image file names, the checks made before anything is written (no directory where a
//! file goes, room for the tars), and a failed per-image run leaving no folder it made.

use super::tar_file::{self, WriteFailed};
use crate::blob_store::BlobStore;
use crate::bundle::index::ImageEntry;
use crate::copy::to_archive::{self, Compress};
use crate::docker_archive::ArchiveImage;
use std::path::{Path, PathBuf};

/// What `--docker-save` writes, decided once from the command line.
#[derive(Clone, Debug)]
pub struct Options {
    /// The tar file, or with `per_image` the folder of tars.
    pub path: PathBuf,
    /// One tar per image, in the folder `path`.
    pub per_image: bool,
    /// The tars' compression (from the file name when not asked: a folder's tars are plain).
    pub compress: Compress,
}

/// Writing the tars failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The folder of `--per-image` tars could not be made (fs-err names it).
    #[error(transparent)]
    Folder(std::io::Error),
    /// A tar could not be written.
    #[error(transparent)]
    Write(#[from] WriteFailed),
}

impl Options {
    /// The options for `path`: `compress` when given, else none for a folder of per-image
    /// tars, else the one the file name says (`.tar.zst`, `.tar.gz`).
    pub fn new(path: PathBuf, per_image: bool, compress: Option<Compress>) -> Options {
        let compress = match (compress, per_image) {
            (Some(c), _) => c,
            (None, true) => Compress::None,
            (None, false) => Compress::from_name(&path),
        };
        Options {
            path,
            per_image,
            compress,
        }
    }

    /// Refuses, before any work, a file where a folder goes or a folder where a file goes,
    /// and a tar file that would overwrite an input.
    pub fn check_output(&self, inputs: &crate::clobber::Inputs) -> Result<(), String> {
        let path = &self.path;
        if self.per_image {
            if path.exists() && !path.is_dir() {
                return Err(format!(
                    "--docker-save `{}` is a file; with --per-image it names a directory",
                    path.display()
                ));
            }
        } else {
            crate::clobber::refuse_directory(
                "--docker-save",
                path,
                "name a file, or add --per-image for one tar per image in it",
            )?;
            inputs.check("--docker-save", path)?;
        }
        Ok(())
    }

    /// Refuses, before any work, a per-image tar (named from `images`, the bundle's whole
    /// list) that would overwrite an input; nothing to check for one tar file.
    pub fn check_per_image_outputs(
        &self,
        inputs: &crate::clobber::Inputs,
        images: &[ImageEntry],
    ) -> Result<(), String> {
        if self.per_image {
            for (_, path) in self.per_image_paths(images) {
                inputs.check("--docker-save --per-image", &path)?;
            }
        }
        Ok(())
    }

    /// One distinct file per image for `--per-image`: the image's name with every
    /// character but letters, digits, `.` and `-` turned into `_`; names that would clash
    /// (`c/x_y:1` and `c/x/y:1`) get the image's short digest, then a counter, so no image
    /// overwrites another.
    pub fn per_image_paths<'i>(&self, images: &'i [ImageEntry]) -> Vec<(&'i ImageEntry, PathBuf)> {
        let mut taken = std::collections::HashSet::new();
        images
            .iter()
            .map(|image| {
                let (name, _) = to_archive::archive_name(image);
                let file: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let mut candidate = file.clone();
                let mut n = 1;
                while !taken.insert(candidate.clone()) {
                    candidate = if n == 1 {
                        format!("{file}-{}", image.digest.short())
                    } else {
                        format!("{file}-{}-{n}", image.digest.short())
                    };
                    n += 1;
                }
                (
                    image,
                    self.path
                        .join(format!("{candidate}{}", self.compress.suffix())),
                )
            })
            .collect()
    }

    /// Refuses, before a tar is written, tars their file system cannot hold: their size is
    /// known from the manifests (see [`crate::space::tar_bytes`]).
    pub fn check_space(&self, images: &[ArchiveImage]) -> Result<(), String> {
        let (dir, total, largest, limit_hint) = if self.per_image {
            let sizes: Vec<u64> = images
                .iter()
                .map(|i| crate::space::tar_bytes(std::slice::from_ref(i)))
                .collect();
            (
                self.path.clone(),
                sizes.iter().sum(),
                sizes.iter().copied().max().unwrap_or(0),
                "write it elsewhere (an image's tar cannot be split)",
            )
        } else {
            let total = crate::space::tar_bytes(images);
            (
                tar_file::parent(&self.path),
                total,
                total,
                "write one tar per image with --per-image, or elsewhere",
            )
        };
        crate::space::check(&crate::space::Need {
            what: if self.per_image {
                "the tars"
            } else {
                "the tar"
            },
            dir: &dir,
            bytes: total,
            largest,
            space_hint: "free space or write elsewhere",
            limit_hint,
        })
    }

    /// Writes the tar, or one per image named as [`Options::per_image_paths`] names them
    /// from `all` (the bundle's whole list, as the checks named them).
    pub fn write(
        &self,
        store: &BlobStore<'_>,
        images: &[ArchiveImage],
        all: &[ImageEntry],
    ) -> Result<(), Error> {
        let path = &self.path;
        if !self.per_image {
            let written = tar_file::write(path, self.compress, store, images)?;
            tar_file::report_written(&written, images.len());
            return Ok(());
        }
        let made = missing_dirs(path);
        fs_err::create_dir_all(path).map_err(Error::Folder)?;
        let paths = self.per_image_paths(all);
        for image in images {
            let out = &paths[image.position].1;
            match tar_file::write(out, self.compress, store, std::slice::from_ref(image)) {
                Ok(written) => tar_file::report_written(&written, 1),
                Err(e) => {
                    remove_if_empty(&made);
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }
}

/// The folders `create_dir_all(path)` is about to make, deepest first.
fn missing_dirs(path: &Path) -> Vec<PathBuf> {
    path.ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .take_while(|a| std::fs::symlink_metadata(a).is_err())
        .map(Path::to_path_buf)
        .collect()
}

/// Takes away the folders this run made, deepest first, as long as they are empty: a
/// failed `--per-image` (a full disk) leaves nothing that looks like a partial result.
fn remove_if_empty(made: &[PathBuf]) {
    for dir in made {
        // `remove_dir` refuses a folder that is not empty, which is what keeps a tar.
        if std::fs::remove_dir(dir).is_err() {
            break;
        }
    }
}
