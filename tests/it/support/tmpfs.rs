//! A small tmpfs the test mounts (root only) to run a write into a full or too-small disk:
//! on a fresh folder, or over a folder a server already uses. Unmounted on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs; lazily unmounted on drop (its folder, when fresh, removed after).
pub struct Tmpfs {
    at: PathBuf,
    _fresh: Option<tempfile::TempDir>,
}

impl Tmpfs {
    /// A tmpfs of `size` (`64k`, `1m`) on a fresh folder.
    pub fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("tmp");
        let mut disk = Tmpfs::mount_at(dir.path(), size);
        disk._fresh = Some(dir);
        disk
    }

    /// A tmpfs of `size` over `at` (made if missing).
    pub fn mount_at(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).expect("mkdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .expect("mount");
        assert!(
            out.status.success(),
            "mount tmpfs at {}: {}",
            at.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs {
            at: at.to_owned(),
            _fresh: None,
        }
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.at
    }

    /// The names of what lies on it, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.at)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}
