//! Outputs that appear under their final name only when complete: written as
//! `<name>.partial` beside the target, then renamed over it. Also the one place that names
//! the `.partial` file (so `clobber` checks the same name the writers use) and keeps a
//! file about to be replaced as `<name>.outrider-backup`.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// `<path>.partial`, where an output is written before it takes its name.
pub fn partial_path(path: &Path) -> PathBuf {
    with_suffix(path, ".partial")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Writes `bytes` to `path` through [`partial_path`], synced before the rename. `mode`
/// sets the new file's permissions (0600 for keys); `None` leaves the usual umask default.
/// A failure at any step (a full disk most often) removes the `.partial` file: it holds
/// nothing anyone could use, and a 0-byte leftover looks like a half-done output.
pub fn write(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    let temp = partial_path(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if let Some(mode) = mode {
        options.mode(mode);
    }
    let mut file = fs_err::OpenOptions::from_options(options).open(&temp)?;
    let result = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs_err::rename(&temp, path));
    if result.is_err() {
        drop(file);
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// When `path` exists, copies it to `<path>.outrider-backup` before it is replaced, and
/// returns the backup's path.
pub fn back_up(path: &Path) -> std::io::Result<Option<PathBuf>> {
    if !path.exists() {
        return Ok(None);
    }
    let backup = with_suffix(path, ".outrider-backup");
    fs_err::copy(path, &backup)?;
    Ok(Some(backup))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        // The rename fails: the target is a non-empty directory.
        let target = dir.path().join("out");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), b"x").unwrap();
        assert!(write(&target, b"bytes", None).is_err());
        assert!(!partial_path(&target).exists());
        write(&dir.path().join("ok"), b"bytes", Some(0o600)).unwrap();
        assert!(!partial_path(&dir.path().join("ok")).exists());
        assert_eq!(std::fs::read(dir.path().join("ok")).unwrap(), b"bytes");
    }
}
