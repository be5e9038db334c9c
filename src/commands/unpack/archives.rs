//! Bundle → docker-archive sinks: the tar file (`--docker-save`, one or per image), k3s's
//! airgap directory and import (`--k3s`), and `docker load` (`--docker`).

use super::super::UsageError;
use super::outputs::{k3s_output, per_image_paths};
use crate::blob_store::BlobStore;
use crate::bundle::reader::BundleReader;
use crate::cli::UnpackArgs;
use crate::copy::to_archive::{self, Compress};
use crate::docker_archive::ArchiveImage;
use crate::oci::Platform;
use crate::output;
use anyhow::{Context, bail};

/// Finds, in the `--from-registry` registry, what no bundle stores.
pub(super) async fn find_in_registry(
    store: &mut BlobStore<'_>,
    reader: &BundleReader,
    naming: &crate::destination::Naming,
) {
    let index = &reader.index;
    for image in &index.images {
        let own = naming.repository(image);
        for desc in to_archive::needed(index, image) {
            if store.has(&desc.digest) {
                continue;
            }
            let manifest = index.manifest(&desc.digest);
            let hint = manifest
                .and_then(|m| m.destination_repository.clone())
                .or_else(|| {
                    index
                        .blob(&desc.digest)
                        .and_then(|b| b.destination_repository.clone())
                });
            let repos: Vec<String> = hint
                .into_iter()
                .chain(std::iter::once(own.clone()))
                .collect();
            store
                .find_remote(&desc.digest, manifest.is_some(), &repos)
                .await;
        }
    }
}

/// Decides how every image goes into a tar, after checking each against its manifests;
/// any image that cannot go in fails the whole call, so no tar is written without it.
pub fn archive_images(
    store: &BlobStore<'_>,
    reader: &BundleReader,
    platform: &Platform,
) -> anyhow::Result<Vec<ArchiveImage>> {
    // First, everything every image needs must be stored here or in a --base bundle.
    let missing: std::collections::BTreeSet<String> = reader
        .index
        .images
        .iter()
        .flat_map(|i| to_archive::needed(&reader.index, i))
        .filter(|d| !store.has(&d.digest))
        .map(|d| d.digest.to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} blobs and manifests are external to `{}` and in no --base bundle or --from-registry registry; nothing written:\n{}\n{}hint: add the earlier bundles with --base, or read them from a registry with --from-registry",
            missing.len(),
            reader.path().display(),
            missing.into_iter().collect::<Vec<_>>().join("\n"),
            crate::lineage::needs(&reader.index)
                .map(|n| format!("{n}\n"))
                .unwrap_or_default()
        );
    }
    let mut images = Vec::new();
    let mut errors = Vec::new();
    let mut artifacts = Vec::new();
    // The manifests decide: an image whose manifests disagree with the index is refused.
    let mut checked = crate::bundle::agreement::Checked::default();
    for (position, image) in reader.index.images.iter().enumerate() {
        let faults = checked.image_faults(&reader.index, image, store);
        if !faults.is_empty() {
            errors.push(format!(
                "`{}`: {}",
                output::sanitize(&image.reference),
                crate::bundle::agreement::refusal(&faults)
            ));
            continue;
        }
        match crate::bundle::image_kind::artifact_kind(&reader.index, image, |d| store.manifest(d))
        {
            Ok(Some(kind)) => {
                output::note(&format!(
                    "`{}` is an artifact ({}), not an image: left out of the tar (--push and serve carry it byte-exact)",
                    output::sanitize(&image.reference),
                    output::sanitize(&kind)
                ));
                artifacts.push(image.reference.clone());
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                errors.push(format!("`{}`: {e}", output::sanitize(&image.reference)));
                continue;
            }
        }
        match to_archive::archive_image(store, &reader.index, image, platform) {
            Ok((mut a, notes)) => {
                for n in notes {
                    output::note(&n);
                }
                a.position = position;
                images.push(a);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} of {} images cannot go into a tar; nothing written:\n{}",
            errors.len(),
            reader.index.images.len(),
            errors.join("\n")
        );
    }
    if images.is_empty() && !artifacts.is_empty() {
        bail!(
            "`{}` holds only artifacts ({}), and a tar holds images; nothing written\nhint: push them to a registry with --push, or serve the bundle",
            reader.path().display(),
            artifacts
                .iter()
                .map(|a| output::sanitize(a))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(images)
}

pub(super) fn write_archives(
    args: &UnpackArgs,
    store: &BlobStore<'_>,
    images: &[ArchiveImage],
    reader: &BundleReader,
) -> anyhow::Result<()> {
    if let Some(path) = &args.docker_save {
        if args.per_image {
            let compress = args.compress.unwrap_or(Compress::None);
            let made = missing_dirs(path);
            fs_err::create_dir_all(path)?;
            // Named as the clobber check named them, from the bundle's whole image list.
            let paths = per_image_paths(args, path, &reader.index.images);
            for image in images {
                let out = &paths[image.position].1;
                let written =
                    to_archive::write_file(out, compress, store, std::slice::from_ref(image))
                        .map_err(anyhow::Error::msg);
                match written {
                    Ok(written) => report_written(&written, 1),
                    Err(e) => {
                        remove_if_empty(&made);
                        return Err(e);
                    }
                }
            }
        } else {
            let compress = args.compress.unwrap_or_else(|| Compress::from_name(path));
            let written = to_archive::write_file(path, compress, store, images)
                .map_err(anyhow::Error::msg)?;
            report_written(&written, images.len());
        }
    }
    if args.k3s {
        let compress = args.compress.unwrap_or(Compress::Zstd);
        let out = k3s_output(args, reader);
        fs_err::create_dir_all(&args.k3s_images_dir)
            .with_context(|| format!("k3s images directory `{}`", args.k3s_images_dir.display()))?;
        // A fresh file with a fresh mtime: k3s's .cache.json skips files whose size and
        // mtime it has seen before.
        let written = to_archive::write_file(&out, compress, store, images).map_err(anyhow::Error::msg).with_context(|| "hint: k3s's images directory must be writable (run as root, or --k3s-images-dir)")?;
        report_written(&written, images.len());
        if let Err(e) = k3s_import(args, store, images) {
            // k3s would retry the same failing file at every start: take it away.
            let _ = std::fs::remove_file(&written);
            return Err(e.context(format!(
                "removed `{}` so k3s does not import it at its next start",
                written.display()
            )));
        }
    }
    if args.docker {
        check_docker_zstd(&args.docker_cmd, images)?;
        let loaded =
            to_archive::docker_load(&args.docker_cmd, store, images).map_err(anyhow::Error::msg)?;
        for l in &loaded {
            output::line(&format!("loaded {l}"));
        }
        output::note(&format!("docker load: {} images", loaded.len()));
    }
    Ok(())
}

/// The folders `create_dir_all(path)` is about to make, deepest first.
fn missing_dirs(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    path.ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .take_while(|a| std::fs::symlink_metadata(a).is_err())
        .map(std::path::Path::to_path_buf)
        .collect()
}

/// Takes away the folders this run made, deepest first, as long as they are empty: a
/// failed `--per-image` (a full disk) leaves nothing that looks like a partial result.
fn remove_if_empty(made: &[std::path::PathBuf]) {
    for dir in made {
        // `remove_dir` refuses a folder that is not empty, which is what keeps a tar.
        if std::fs::remove_dir(dir).is_err() {
            break;
        }
    }
}

pub(super) fn report_written(path: &std::path::Path, images: usize) {
    let size = fs_err::metadata(path).map(|m| m.len()).unwrap_or(0);
    output::note(&format!(
        "wrote `{}`: {images} images, {}",
        path.display(),
        output::bytes(size)
    ));
}

/// Imports now when asked (`--k3s-ctr`) or when k3s runs (its containerd socket exists):
/// a plain tar streamed into `ctr -n k8s.io images import -` (ctr before 1.7 cannot read
/// zstd itself). The file in the images directory stays for k3s's next start.
pub(super) fn k3s_import(
    args: &UnpackArgs,
    store: &BlobStore<'_>,
    images: &[ArchiveImage],
) -> anyhow::Result<()> {
    let words: Vec<String> = match &args.k3s_ctr {
        Some(cmd) => cmd.split_whitespace().map(str::to_owned).collect(),
        None if std::path::Path::new("/run/k3s/containerd/containerd.sock").exists() => {
            vec!["k3s".into(), "ctr".into()]
        }
        None => {
            output::note("k3s is not running here; it imports the file when it starts");
            return Ok(());
        }
    };
    let Some((program, rest)) = words.split_first() else {
        bail!(UsageError("--k3s-ctr is empty".into()))
    };
    let mut argv: Vec<&str> = rest.iter().map(String::as_str).collect();
    argv.extend(["-n", "k8s.io", "images", "import", "-"]);
    let stdout = to_archive::pipe(program, &argv, store, images).map_err(anyhow::Error::msg)?;
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        output::line(&format!("imported: {}", output::sanitize(line.trim())));
    }
    Ok(())
}

/// Docker before 23 cannot load zstd-compressed layers: say so instead of failing obscurely.
pub(super) fn check_docker_zstd(docker: &str, images: &[ArchiveImage]) -> anyhow::Result<()> {
    let zstd: Vec<&str> = images
        .iter()
        .filter(|i| i.layers.iter().any(|l| l.media_type.contains("zstd")))
        .map(|i| i.name.as_str())
        .collect();
    if zstd.is_empty() {
        return Ok(());
    }
    let out = std::process::Command::new(docker)
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    let version = out
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 23 {
        bail!(
            "the Docker engine ({}) cannot load zstd-compressed layers, which {} use; hint: Docker 23 or newer loads them, or use --docker-save and podman/containerd",
            if version.is_empty() {
                "version unknown".to_owned()
            } else {
                version
            },
            zstd.join(", ")
        );
    }
    Ok(())
}
