//! `unpack --k3s`: bundle → docker-archive in k3s's airgap images folder, imported at
//! once with `ctr` when k3s runs (k3s imports the file itself at its next start); and with
//! `--push`, k3s's `registries.yaml` mirroring every source registry of the bundle to the
//! registry pushed to ([`crate::k3s_registries`] writes the file).

use super::tar_file::{self, WriteFailed};
use crate::blob_store::BlobStore;
use crate::copy::to_archive::{self, Compress};
use crate::docker_archive::ArchiveImage;
use crate::output;
use std::path::{Path, PathBuf};

/// What `--k3s` writes and runs, decided once from the command line.
#[derive(Clone, Debug)]
pub struct Options {
    /// k3s's airgap images folder.
    pub images_dir: PathBuf,
    /// The command that runs containerd's `ctr` (program and words), when one was given;
    /// else `k3s ctr` when k3s runs.
    pub ctr: Option<Vec<String>>,
    /// The tar's compression (zstd unless asked otherwise).
    pub compress: Compress,
    /// With a push: the registries file to write or merge.
    pub registries: PathBuf,
}

/// The k3s sink failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The images folder could not be made.
    #[error("k3s images directory `{}`", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why (fs-err names the folder again).
        source: std::io::Error,
    },
    /// The tar could not be written there.
    #[error("hint: k3s's images directory must be writable (run as root, or --k3s-images-dir)")]
    Write(#[source] WriteFailed),
    /// The import failed; the file was taken away, or k3s would retry it at every start.
    #[error("removed `{}` so k3s does not import it at its next start", path.display())]
    Import {
        /// The file removed.
        path: PathBuf,
        /// Why the import failed.
        source: ImportFailed,
    },
    /// The registries file could not be written.
    #[error("writing k3s registries file `{}`", path.display())]
    Registries {
        /// The file.
        path: PathBuf,
        /// Why.
        source: crate::k3s_registries::MergeError,
    },
}

/// `ctr images import` failed (the message names the command and what it printed).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ImportFailed(pub String);

impl Options {
    /// The file `--k3s` writes: the bundle's name with the tar suffix, in the images folder.
    pub fn output(&self, bundle: &Path) -> PathBuf {
        let stem = bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "outrider".into());
        let stem = stem.trim_end_matches(".zip").trim_end_matches(".bundle");
        self.images_dir
            .join(format!("{stem}{}", self.compress.suffix()))
    }

    /// Refuses, before the tar is written, a tar its file system cannot hold.
    pub fn check_space(&self, bundle: &Path, images: &[ArchiveImage]) -> Result<(), String> {
        let out = self.output(bundle);
        let total = crate::space::tar_bytes(images);
        crate::space::check(&crate::space::Need {
            what: "the k3s images tar",
            dir: &tar_file::parent(&out),
            bytes: total,
            largest: total,
            space_hint: "free space there, or choose another --k3s-images-dir",
            limit_hint: "choose another --k3s-images-dir",
        })
    }

    /// Writes the tar for `bundle` into the images folder and imports it when k3s runs.
    pub fn write(
        &self,
        bundle: &Path,
        store: &BlobStore<'_>,
        images: &[ArchiveImage],
    ) -> Result<(), Error> {
        let out = self.output(bundle);
        fs_err::create_dir_all(&self.images_dir).map_err(|source| Error::Folder {
            path: self.images_dir.clone(),
            source,
        })?;
        // A fresh file with a fresh mtime: k3s's .cache.json skips files whose size and
        // mtime it has seen before.
        let written = tar_file::write(&out, self.compress, store, images).map_err(Error::Write)?;
        tar_file::report_written(&written, images.len());
        if let Err(source) = self.import(store, images) {
            // k3s would retry the same failing file at every start: take it away.
            let _ = std::fs::remove_file(&written);
            return Err(Error::Import {
                path: written,
                source,
            });
        }
        Ok(())
    }

    /// Imports now when asked (a `ctr` command given) or when k3s runs (its containerd
    /// socket exists): a plain tar streamed into `ctr -n k8s.io images import -` (ctr
    /// before 1.7 cannot read zstd itself). The file in the images folder stays for k3s's
    /// next start.
    fn import(&self, store: &BlobStore<'_>, images: &[ArchiveImage]) -> Result<(), ImportFailed> {
        let words: Vec<String> = match &self.ctr {
            Some(words) => words.clone(),
            None if Path::new("/run/k3s/containerd/containerd.sock").exists() => {
                vec!["k3s".into(), "ctr".into()]
            }
            None => {
                output::note("k3s is not running here; it imports the file when it starts");
                return Ok(());
            }
        };
        let Some((program, rest)) = words.split_first() else {
            return Err(ImportFailed("the ctr command is empty".into()));
        };
        let mut argv: Vec<&str> = rest.iter().map(String::as_str).collect();
        argv.extend(["-n", "k8s.io", "images", "import", "-"]);
        let stdout = to_archive::pipe(program, &argv, store, images).map_err(ImportFailed)?;
        for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
            output::line(&format!("imported: {}", output::sanitize(line.trim())));
        }
        Ok(())
    }

    /// Writes or merges the registries file so k3s pulls every source registry of
    /// `references` (images named by full reference) from `endpoint`
    /// (`scheme://host`), with the `rewrite` table `rewrites` gives each registry; says what it did.
    pub fn mirror(
        &self,
        references: &[&str],
        endpoint: &str,
        rewrites: &dyn Fn(&str) -> crate::k3s_registries::Rewrites,
    ) -> Result<(), Error> {
        // k3s asks for images by name, so mirror the registry each name carries.
        let mut sources: Vec<String> = references
            .iter()
            .filter_map(|r| r.parse::<crate::oci::ImageRef>().ok())
            .map(|r| r.registry)
            .collect();
        sources.sort();
        sources.dedup();
        let path = &self.registries;
        let backup = crate::k3s_registries::merge(path, &sources, endpoint, rewrites, None)
            .map_err(|source| Error::Registries {
                path: path.clone(),
                source,
            })?;
        output::note(&format!(
            "`{}`: {} mirrored to {endpoint}{}",
            path.display(),
            sources.join(", "),
            backup
                .map(|b| format!(" (old file kept as `{}`)", b.display()))
                .unwrap_or_default()
        ));
        Ok(())
    }
}
