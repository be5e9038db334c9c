//! A chart folder packaged as a `.tgz` the way `helm package` lays one out (every file
//! under `NAME/`, NAME from `Chart.yaml`), but deterministically, so the same folder gives
//! the same bytes and so the same digest on every pack: entries in byte order of their
//! paths, modification time 0, owner 0:0 with no user names, mode 0644 (0755 for
//! executables and folders), gzip header without a time or a file name. Files that
//! `.helmignore` names are left out (its common forms: a name, a `*` glob on a name,
//! a folder `dir/`); `.git` and `.helmignore` itself are always left out.

use super::ChartError;
use std::path::{Path, PathBuf};

/// Largest folder packaged (what it would hold as files, before compression).
pub const MAX_FOLDER_BYTES: u64 = 256 << 20;

/// `name` matches `pattern` with `*` (any run) and `?` (one character).
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], name) || (!name.is_empty() && glob(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => glob(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// Whether `rel` (a path under the chart folder, `/`-separated) is ignored.
fn ignored(patterns: &[String], rel: &str, is_dir: bool) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if name == ".git" || rel == ".helmignore" {
        return true;
    }
    patterns.iter().any(|p| {
        let (p, dir_only) = match p.strip_suffix('/') {
            Some(d) => (d, true),
            None => (p.as_str(), false),
        };
        if dir_only && !is_dir {
            return false;
        }
        let p = p.trim_start_matches('/');
        if p.contains('/') {
            glob(p.as_bytes(), rel.as_bytes())
        } else {
            glob(p.as_bytes(), name.as_bytes())
        }
    })
}

fn walk(
    root: &Path,
    dir: &Path,
    patterns: &[String],
    out: &mut Vec<(String, PathBuf, bool)>,
) -> Result<(), ChartError> {
    let invalid = |reason: String| ChartError::Invalid {
        what: dir.display().to_string(),
        reason,
    };
    let mut entries: Vec<_> = fs_err::read_dir(dir)
        .map_err(|e| invalid(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .map_err(|e| invalid(e.to_string()))?
            .to_string_lossy()
            .replace('\\', "/");
        // A link is read as the file it points at only when that file is inside the
        // chart folder: a link out of it (`templates/x -> /etc/shadow`) would pack what the
        // chart's author never meant to carry, and a link to a folder could walk forever.
        let own = fs_err::symlink_metadata(&path).map_err(|e| invalid(e.to_string()))?;
        let meta = if own.file_type().is_symlink() {
            let target = fs_err::canonicalize(&path).map_err(|e| invalid(e.to_string()))?;
            let inside = fs_err::canonicalize(root)
                .map(|r| target.starts_with(&r))
                .unwrap_or(false);
            let meta = fs_err::metadata(&target).map_err(|e| invalid(e.to_string()))?;
            if !inside || meta.is_dir() {
                return Err(invalid(format!(
                    "`{rel}` is a link to {}: a chart folder is packed from its own files only",
                    if meta.is_dir() {
                        "a folder"
                    } else {
                        "a file outside the folder"
                    }
                )));
            }
            meta
        } else {
            own
        };
        if ignored(patterns, &rel, meta.is_dir()) {
            continue;
        }
        if meta.is_dir() {
            walk(root, &path, patterns, out)?;
        } else if meta.is_file() {
            #[cfg(unix)]
            let exec = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0;
            #[cfg(not(unix))]
            let exec = false;
            out.push((rel, path, exec));
        }
    }
    Ok(())
}

/// The folder `dir` packaged, with its `Chart.yaml` parsed.
pub fn package(dir: &Path) -> Result<Vec<u8>, ChartError> {
    let what = dir.display().to_string();
    let invalid = |reason: String| ChartError::Invalid {
        what: what.clone(),
        reason,
    };
    let chart_yaml = fs_err::read_to_string(dir.join("Chart.yaml"))
        .map_err(|e| invalid(format!("not a chart folder: {e}")))?;
    let meta: serde_json::Value =
        serde_saphyr::from_str(&chart_yaml).map_err(|e| invalid(format!("Chart.yaml: {e}")))?;
    let (name, _) = super::helm_artifact::name_and_version(&meta, &what)?;
    let patterns: Vec<String> = fs_err::read_to_string(dir.join(".helmignore"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let mut files = Vec::new();
    walk(dir, dir, &patterns, &mut files)?;
    files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut total = 0u64;
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (rel, path, exec) in &files {
        // The size is checked before a file is read, so a huge file is never loaded (and
        // again after, for a file that grew in between).
        let size = fs_err::metadata(path)
            .map_err(|e| invalid(e.to_string()))?
            .len();
        if total + size > MAX_FOLDER_BYTES {
            return Err(invalid(format!(
                "holds more than {MAX_FOLDER_BYTES} bytes: not a chart"
            )));
        }
        let body = fs_err::read(path).map_err(|e| invalid(e.to_string()))?;
        total += body.len() as u64;
        if total > MAX_FOLDER_BYTES {
            return Err(invalid(format!(
                "holds more than {MAX_FOLDER_BYTES} bytes: not a chart"
            )));
        }
        let mut header = tar::Header::new_ustar();
        header.set_size(body.len() as u64);
        header.set_mode(if *exec { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, format!("{name}/{rel}"), body.as_slice())
            .map_err(|e| invalid(e.to_string()))?;
    }
    let gz = tar.into_inner().map_err(|e| invalid(e.to_string()))?;
    gz.finish().map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_folder_gives_the_same_bytes() {
        let dir = tempfile::tempdir().expect("tmp");
        fs_err::write(
            dir.path().join("Chart.yaml"),
            "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
        )
        .expect("write");
        fs_err::write(dir.path().join("values.yaml"), "image: nginx:1.27\n").expect("write");
        fs_err::create_dir(dir.path().join("templates")).expect("dir");
        fs_err::write(dir.path().join("templates/a.yaml"), "kind: x\n").expect("write");
        fs_err::write(dir.path().join("notes.bak"), "x").expect("write");
        fs_err::write(dir.path().join(".helmignore"), "# c\n*.bak\n").expect("write");
        let one = package(dir.path()).expect("packs");
        let two = package(dir.path()).expect("packs");
        assert_eq!(one, two);
        let meta = super::super::helm_artifact::chart_yaml(one.as_slice(), "x").expect("chart");
        assert_eq!(meta["name"], "demo");
        let mut names = Vec::new();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(one.as_slice()));
        for e in archive.entries().expect("tar") {
            names.push(
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string(),
            );
        }
        assert_eq!(
            names,
            [
                "demo/Chart.yaml",
                "demo/templates/a.yaml",
                "demo/values.yaml"
            ]
        );
    }
}

#[cfg(test)]
mod link_tests {
    #[test]
    #[cfg(unix)]
    fn a_link_out_of_the_folder_is_refused_and_one_inside_is_packed() {
        let dir = tempfile::tempdir().expect("tmp");
        let chart = dir.path().join("app");
        std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
        std::fs::write(
            chart.join("Chart.yaml"),
            "apiVersion: v2\nname: app\nversion: 1.0.0\n",
        )
        .expect("write");
        std::fs::write(chart.join("values.yaml"), "a: 1\n").expect("write");
        let outside = dir.path().join("secret.txt");
        std::fs::write(&outside, "not for the chart").expect("write");
        std::os::unix::fs::symlink(chart.join("values.yaml"), chart.join("templates/v.yaml"))
            .expect("link");
        assert!(
            super::package(&chart).is_ok(),
            "a link inside the folder is packed"
        );
        std::os::unix::fs::symlink(&outside, chart.join("templates/x.yaml")).expect("link");
        let e = super::package(&chart).expect_err("a link out").to_string();
        assert!(
            e.contains("templates/x.yaml") && e.contains("outside"),
            "{e}"
        );
    }
}
