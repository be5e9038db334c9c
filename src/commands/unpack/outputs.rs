//! What `unpack` will write, checked before any work: no existing directory where a file
//! goes, no output over an input, and one distinct file per image for `--per-image`.

use crate::bundle::reader::BundleReader;
use crate::cli::UnpackArgs;
use crate::copy::to_archive::{self, Compress};
use std::path::{Path, PathBuf};

/// Refuses, before any work, an output that is an existing directory where a file is
/// written (or a file where a directory is), or that would overwrite an input.
pub(super) fn check_outputs(
    args: &UnpackArgs,
    reader: &BundleReader,
    bases: &[BundleReader],
    config: Option<&crate::config::Config>,
) -> Result<(), String> {
    let mut inputs = crate::clobber::Inputs::default();
    for p in args.bundle.iter().chain(reader.opened()) {
        inputs.add("the bundle", p);
    }
    for b in bases {
        for p in b.opened() {
            inputs.add("--base", p);
        }
    }
    if let Some(path) = &args.docker_save {
        if args.per_image {
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
    }
    if args.k3s {
        inputs.check("--k3s", &k3s_output(args, reader))?;
    }
    if let Some(receipt) = &args.receipt {
        inputs.check("--receipt", receipt)?;
    }
    if let Some(tar) = config
        .and_then(|c| c.document.get("output_tar"))
        .and_then(|v| v.as_str())
    {
        let tar = Path::new(tar);
        crate::clobber::refuse_directory("output_tar", tar, "name a file")?;
        inputs.check("output_tar", tar)?;
    }
    // Per-image tars are named from the images; check them all before writing any.
    if let (Some(dir), true) = (&args.docker_save, args.per_image) {
        for (_, path) in per_image_paths(args, dir, &reader.index.images) {
            inputs.check("--docker-save --per-image", &path)?;
        }
    }
    Ok(())
}

/// The file `--k3s` writes: the bundle's name with the tar suffix, in the images directory.
pub(super) fn k3s_output(args: &UnpackArgs, reader: &BundleReader) -> PathBuf {
    let compress = args.compress.unwrap_or(Compress::Zstd);
    let stem = reader
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "outrider".into());
    let stem = stem.trim_end_matches(".zip").trim_end_matches(".bundle");
    args.k3s_images_dir
        .join(format!("{stem}{}", compress.suffix()))
}

/// One distinct file per image for `--per-image`: the image's name with every character
/// but letters, digits, `.` and `-` turned into `_`; names that would clash (`c/x_y:1` and
/// `c/x/y:1`) get the image's short digest, then a counter, so no image overwrites another.
pub(super) fn per_image_paths<'i>(
    args: &UnpackArgs,
    dir: &Path,
    images: &'i [crate::bundle::index::ImageEntry],
) -> Vec<(&'i crate::bundle::index::ImageEntry, PathBuf)> {
    let compress = args.compress.unwrap_or(Compress::None);
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
            (image, dir.join(format!("{candidate}{}", compress.suffix())))
        })
        .collect()
}

/// Refuses, before a tar is written, tars their file system cannot hold (`--docker-save`,
/// `--k3s`): their size is known from the manifests (see [`crate::space::tar_bytes`]).
pub(super) fn check_space(
    args: &UnpackArgs,
    reader: &BundleReader,
    images: &[crate::docker_archive::ArchiveImage],
) -> Result<(), String> {
    if args.no_space_check {
        return Ok(());
    }
    let parent = |p: &Path| {
        p.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    };
    if let Some(path) = &args.docker_save {
        let (dir, total, largest, limit_hint) = if args.per_image {
            let sizes: Vec<u64> = images
                .iter()
                .map(|i| crate::space::tar_bytes(std::slice::from_ref(i)))
                .collect();
            (
                path.clone(),
                sizes.iter().sum(),
                sizes.iter().copied().max().unwrap_or(0),
                "write it elsewhere (an image's tar cannot be split)",
            )
        } else {
            let total = crate::space::tar_bytes(images);
            (
                parent(path),
                total,
                total,
                "write one tar per image with --per-image, or elsewhere",
            )
        };
        crate::space::check(&crate::space::Need {
            what: if args.per_image {
                "the tars"
            } else {
                "the tar"
            },
            dir: &dir,
            bytes: total,
            largest,
            space_hint: "free space or write elsewhere",
            limit_hint,
        })?;
    }
    if args.k3s {
        let out = k3s_output(args, reader);
        let total = crate::space::tar_bytes(images);
        crate::space::check(&crate::space::Need {
            what: "the k3s images tar",
            dir: &parent(&out),
            bytes: total,
            largest: total,
            space_hint: "free space there, or choose another --k3s-images-dir",
            limit_hint: "choose another --k3s-images-dir",
        })?;
    }
    Ok(())
}
