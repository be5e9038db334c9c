//! `SHA256SUMS` beside a packed bundle, in `sha256sum` format with names relative to it,
//! so `sha256sum -c SHA256SUMS` on the far side checks that every file arrived whole
//! before outrider reads any of them.
//!
//! A pack takes each file's sum while the file is written ([`super::in_order_sum`]
//! follows the written prefix). When it could not (a download started over, or no
//! thread), the sum comes from one read-back pass over the finished file, as it does for
//! files this module is given without one.

use crate::oci::Digest;
use std::path::{Path, PathBuf};

/// The checksum list's file name, as `sha256sum` tooling expects it.
pub const SUMS_FILE: &str = "SHA256SUMS";

/// One file written, with what the far side can check it against.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileSum {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256 (none with `--no-checksums`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Digest>,
}

/// Size and sha256 of `path`, read back once from the start; with `hash` false, only
/// its size.
pub fn sum_file(path: &Path, hash: bool) -> std::io::Result<FileSum> {
    if !hash {
        return Ok(FileSum {
            path: path.to_owned(),
            size: fs_err::metadata(path)?.len(),
            sha256: None,
        });
    }
    let (sha256, size) = Digest::of_reader(fs_err::File::open(path)?)?;
    Ok(FileSum {
        path: path.to_owned(),
        sha256: Some(sha256),
        size,
    })
}

/// Size of `path` with the sha256 its writer took as it wrote it.
pub fn sum_taken(path: &Path, sha256: Digest) -> std::io::Result<FileSum> {
    Ok(FileSum {
        path: path.to_owned(),
        size: fs_err::metadata(path)?.len(),
        sha256: Some(sha256),
    })
}

/// `<dir>/SHA256SUMS` for files written into `dir`.
pub fn sums_path(bundle: &Path) -> PathBuf {
    bundle.with_file_name(SUMS_FILE)
}

/// Whether `name` can be written as a `sha256sum` line as it is: its escaped form
/// (backslash, newline) is read back differently by older coreutils, so such names get
/// no line and a note instead.
fn plain_name(name: &str) -> bool {
    !name.contains(['\n', '\r', '\\'])
}

/// Writes `SHA256SUMS` beside the files (all in one directory), atomically. Lines an
/// earlier pack left for other files that are still there are kept (two bundles packed
/// into one folder are both checked); lines for files that are gone, or for the files
/// written now, are replaced. Returns the list's path and the names left out.
pub fn write_sums(sums: &[FileSum]) -> std::io::Result<(PathBuf, Vec<String>)> {
    let Some(first) = sums.first() else {
        return Err(std::io::Error::other("no files to list"));
    };
    let target = sums_path(&first.path);
    let dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
    let name_of = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let ours: Vec<String> = sums.iter().map(|s| name_of(&s.path)).collect();
    let mut text = String::new();
    if let Ok(old) = std::fs::read_to_string(&target) {
        for line in old.lines() {
            let Some((_, name)) = line.split_once("  ").or_else(|| line.split_once(" *")) else {
                continue;
            };
            if !ours.iter().any(|o| o == name) && plain_name(name) && dir.join(name).is_file() {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    let mut left_out = Vec::new();
    for (s, name) in sums.iter().zip(&ours) {
        let Some(sha256) = &s.sha256 else {
            return Err(std::io::Error::other(format!("`{name}` was not summed")));
        };
        if plain_name(name) {
            text.push_str(&format!("{}  {name}\n", sha256.hex()));
        } else {
            left_out.push(crate::output::sanitize(name));
        }
    }
    crate::atomic_file::write(&target, text.as_bytes(), None)?;
    Ok((target, left_out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_other_files_still_there_are_kept_and_stale_ones_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, gone) = (
            dir.path().join("a.zip"),
            dir.path().join("b.zip"),
            dir.path().join("gone.zip"),
        );
        std::fs::write(&a, b"one").unwrap();
        std::fs::write(&b, b"two").unwrap();
        std::fs::write(&gone, b"x").unwrap();
        write_sums(&[sum_file(&a, true).unwrap(), sum_file(&gone, true).unwrap()]).unwrap();
        std::fs::remove_file(&gone).unwrap();
        std::fs::write(&a, b"changed").unwrap();
        let (path, left_out) = write_sums(&[sum_file(&b, true).unwrap()]).unwrap();
        assert!(left_out.is_empty());
        let text = std::fs::read_to_string(path).unwrap();
        let a_sum = Digest::of(b"changed");
        let a_old = Digest::of(b"one");
        assert_eq!(
            text,
            format!(
                "{}  a.zip\n{}  b.zip\n",
                a_old.hex(),
                Digest::of(b"two").hex()
            ),
            "a.zip's old line is kept as it was (it is not this pack's), gone.zip's dropped"
        );
        assert_ne!(a_sum, a_old);
    }
}
