//! No output ever overwrites an input. Commands register the files they read (bundles,
//! every volume of a set, `--since` and `--base` files) and check each path they are about
//! to write — and its `.partial` name — before any work starts. Paths are compared after
//! resolving `.`, `..` and symbolic links, and existing files also by device and inode, so
//! `./b.zip`, `dir/../b.zip`, a symlink and a hard link all count as the same file. A
//! volume counts for its whole set: writing `site.002.zip` while reading `site.001.zip`
//! is refused too, since the reader would look for its sibling there.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One file read.
struct Input {
    flag: String,
    path: PathBuf,
    resolved: PathBuf,
    inode: Option<(u64, u64)>,
}

/// The files a command reads, for [`Inputs::check`].
#[derive(Default)]
pub struct Inputs {
    files: Vec<Input>,
    /// Volume sets read: directory and stem (`site` for `site.001.zip`).
    sets: Vec<(PathBuf, String, String)>,
}

/// `a/b/c.zip` with its directory resolved even when `c.zip` does not exist yet.
fn resolve(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (parent.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_owned(),
    }
}

fn inode(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// `site` for `site.001.zip` (three or more digits), the way volume sets are named.
fn volume_stem(name: &str) -> Option<&str> {
    let rest = name.strip_suffix(".zip")?;
    let (stem, number) = rest.rsplit_once('.')?;
    (number.len() >= 3 && number.bytes().all(|b| b.is_ascii_digit())).then_some(stem)
}

impl Inputs {
    /// Records `path`, read as `flag` (for the message).
    pub fn add(&mut self, flag: &str, path: &Path) {
        let resolved = resolve(path);
        if let (Some(dir), Some(stem)) = (
            resolved.parent(),
            resolved
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(volume_stem),
        ) {
            self.sets
                .push((dir.to_owned(), stem.to_owned(), flag.to_owned()));
        }
        self.files.push(Input {
            flag: flag.to_owned(),
            path: path.to_owned(),
            inode: inode(path),
            resolved,
        });
    }

    /// Refuses writing `output` (given as `flag`), or its `.partial` name, over an input.
    pub fn check(&self, flag: &str, output: &Path) -> Result<(), String> {
        for candidate in [output.to_owned(), crate::atomic_file::partial_path(output)] {
            let resolved = resolve(&candidate);
            let node = inode(&candidate);
            let name = resolved.file_name().and_then(|n| n.to_str());
            for input in &self.files {
                if input.resolved == resolved || (node.is_some() && node == input.inode) {
                    return Err(clash(flag, output, &input.flag, &input.path));
                }
            }
            for (dir, stem, input_flag) in &self.sets {
                if resolved.parent() == Some(dir.as_path())
                    && name.and_then(volume_stem) == Some(stem.as_str())
                {
                    return Err(clash(
                        flag,
                        output,
                        input_flag,
                        &dir.join(format!("{stem}.NNN.zip")),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Refuses a split pack's volumes (`<stem>.NNN.zip` beside `output`) over an input.
    pub fn check_volumes(&self, flag: &str, output: &Path) -> Result<(), String> {
        let resolved = resolve(output);
        let file = resolved
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = file.strip_suffix(".zip").unwrap_or(&file);
        for input in &self.files {
            let name = input.resolved.file_name().and_then(|n| n.to_str());
            if input.resolved.parent() == resolved.parent()
                && name.and_then(volume_stem) == Some(stem)
            {
                return Err(clash(flag, output, &input.flag, &input.path));
            }
        }
        Ok(())
    }
}

fn clash(flag: &str, output: &Path, input_flag: &str, input: &Path) -> String {
    format!(
        "{flag} `{}` would overwrite `{}`, which this command reads ({input_flag}); hint: write to another path",
        output.display(),
        input.display()
    )
}

/// Refuses an existing directory where a file is to be written.
pub fn refuse_directory(flag: &str, output: &Path, hint: &str) -> Result<(), String> {
    if output.is_dir() {
        return Err(format!(
            "{flag} `{}` is a directory; {hint}",
            output.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_by_any_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join("b.zip");
        std::fs::write(&b, b"x").unwrap();
        let mut inputs = Inputs::default();
        inputs.add("bundle", &b);
        assert!(inputs.check("-o", &b).is_err());
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(
            inputs
                .check("-o", &dir.path().join("sub/../b.zip"))
                .is_err()
        );
        let link = dir.path().join("link.zip");
        std::fs::hard_link(&b, &link).unwrap();
        assert!(inputs.check("-o", &link).is_err());
        assert!(inputs.check("-o", &dir.path().join("c.zip")).is_ok());
        // The output's partial name may not be an input either.
        let mut p = Inputs::default();
        p.add("--base", &dir.path().join("c.tar.partial"));
        assert!(p.check("--docker-save", &dir.path().join("c.tar")).is_err());
    }

    #[test]
    fn volumes_count_for_their_set() {
        let dir = tempfile::tempdir().unwrap();
        let mut inputs = Inputs::default();
        inputs.add("--since", &dir.path().join("week1.001.zip"));
        assert!(
            inputs
                .check("-o", &dir.path().join("week1.002.zip"))
                .is_err()
        );
        assert!(
            inputs
                .check_volumes("-o", &dir.path().join("week1.zip"))
                .is_err()
        );
        assert!(
            inputs
                .check_volumes("-o", &dir.path().join("week2.zip"))
                .is_ok()
        );
    }
}
