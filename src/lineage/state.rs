//! The far side's memory of what it has applied: per series and signer, the highest
//! sequence, from which bundle and when, in `lineage.json` in a state folder it owns
//! (written whole through `atomic_file`). A bundle older than (or as old as, and not
//! the same as) the one recorded is a rollback and is refused before anything is written;
//! so is a bundle past its `expires`. The same bundle again is always admitted.

use super::record::Lineage;
use super::{clock, error::LineageError, parents};
use crate::bundle::reader::BundleReader;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The state file's name in the state folder.
pub const STATE_FILE: &str = "lineage.json";

/// What the far side may let through.
#[derive(Clone, Copy, Debug, Default)]
pub struct Allow {
    /// `--allow-rollback`.
    pub rollback: bool,
    /// `--allow-expired`.
    pub expired: bool,
}

/// Whether an admitted bundle is recorded as applied (`unpack`, `serve`) or only checked
/// (`verify`, `unpack --dry-run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Check and record.
    Record,
    /// Check only.
    Check,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    format: String,
    format_version: u32,
    #[serde(default)]
    applied: Vec<Applied>,
}

/// The highest sequence applied of one series from one signer.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Applied {
    series: String,
    /// The signing key's fingerprint, or `unsigned`.
    signer: String,
    sequence: u64,
    /// The bundle's file name.
    bundle: String,
    /// Its identity (see `parents::identity`).
    identity: String,
    /// When it was applied, UTC.
    applied: String,
}

/// The default state folder: `$XDG_STATE_HOME/outrider`, else `~/.local/state/outrider`,
/// else `/var/lib/outrider`.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("outrider");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/state/outrider"),
        None => PathBuf::from("/var/lib/outrider"),
    }
}

/// Admits `reader`'s bundle or refuses it as expired or as a rollback, in one line;
/// with [`Admit::Record`] the state in `dir` then says it was applied. Returns a note to
/// print, if any.
pub fn admit(
    reader: &BundleReader,
    dir: &Path,
    allow: Allow,
    mode: Admit,
) -> Result<Option<String>, LineageError> {
    let Some(lineage) = reader.index.lineage.as_ref() else {
        return Ok(None);
    };
    let name = reader
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let now = clock::now();
    let mut notes = Vec::new();
    if let Some(expires) = &lineage.expires {
        let at = clock::parse(expires)?;
        if now > at {
            if !allow.expired {
                return Err(LineageError::Expired {
                    bundle: name,
                    expires: expires.clone(),
                });
            }
            notes.push(format!(
                "applying it although it expired on {expires} (--allow-expired)"
            ));
        }
    }
    check(lineage)?;
    let (Some(series), Some(sequence)) = (&lineage.series, lineage.sequence) else {
        return Ok(join(&name, lineage, notes));
    };
    let signer = reader
        .index
        .signed_by
        .as_ref()
        .map_or_else(|| "unsigned".to_owned(), ToString::to_string);
    let identity = parents::identity(reader.path(), &reader.index)?.to_string();
    let path = dir.join(STATE_FILE);
    let mut state = read(&path)?;
    let slot = state
        .applied
        .iter()
        .position(|a| a.series == *series && a.signer == signer);
    if let Some(a) = slot.map(|i| &state.applied[i])
        && is_rollback(a, sequence, &identity)
    {
        if !allow.rollback {
            return Err(LineageError::Rollback {
                bundle: name,
                sequence,
                series: series.clone(),
                applied: a.sequence,
                applied_bundle: a.bundle.clone(),
                when: a.applied.clone(),
            });
        }
        notes.push(format!(
            "applying it although sequence {} (`{}`) was applied on {} (--allow-rollback)",
            a.sequence, a.bundle, a.applied
        ));
    }
    let newer = slot.is_none_or(|i| state.applied[i].sequence < sequence);
    if mode == Admit::Record && newer {
        let record = Applied {
            series: series.clone(),
            signer,
            sequence,
            bundle: name.clone(),
            identity,
            applied: clock::format(now),
        };
        match slot {
            Some(i) => state.applied[i] = record,
            None => state.applied.push(record),
        }
        write(&path, &mut state)?;
    }
    Ok(join(&name, lineage, notes))
}

/// For bundles given together (`serve base.zip week2.zip`): which are superseded by a
/// later sequence of their own series and signer among them. Those serve as bases for
/// the newest and are not checked against the state: only the newest of a series is.
pub fn superseded(indexes: &[&crate::bundle::index::BundleIndex]) -> Vec<bool> {
    let key = |i: &crate::bundle::index::BundleIndex| {
        let l = i.lineage.as_ref()?;
        Some((l.series.clone()?, l.sequence?, i.signed_by.clone()))
    };
    indexes
        .iter()
        .map(|a| {
            key(a).is_some_and(|(s, n, signer)| {
                indexes
                    .iter()
                    .filter_map(|b| key(b))
                    .any(|(t, m, other)| t == s && other == signer && m > n)
            })
        })
        .collect()
}

/// Whether applying `sequence` (a bundle of `identity`) after `applied` goes back: an
/// older sequence, or the same one from another bundle. The same bundle again does not.
fn is_rollback(applied: &Applied, sequence: u64, identity: &str) -> bool {
    applied.sequence > sequence || (applied.sequence == sequence && applied.identity != identity)
}

/// The lineage of an untrusted index: a series name a packer could have written, a
/// sequence from 1 exactly when there is a series, times in the one format.
fn check(lineage: &Lineage) -> Result<(), LineageError> {
    let bad = |why: &str| Err(LineageError::Malformed(why.to_owned()));
    if let Some(s) = &lineage.series
        && super::packer::check_series(s).is_err()
    {
        return bad("names a series outside `A-Z a-z 0-9 . _ : -` (1 to 128)");
    }
    if lineage.series.is_some() != lineage.sequence.is_some() || lineage.sequence == Some(0) {
        return bad("must give a sequence from 1 exactly when it names a series");
    }
    clock::parse(&lineage.created)?;
    Ok(())
}

fn join(name: &str, lineage: &Lineage, notes: Vec<String>) -> Option<String> {
    let mut line = match (&lineage.series, lineage.sequence) {
        (Some(s), Some(n)) => format!("`{name}`: sequence {n} of series `{s}`"),
        _ => format!("`{name}`: packed {}", lineage.created),
    };
    for n in notes {
        line.push_str("; ");
        line.push_str(&n);
    }
    Some(line)
}

fn read(path: &Path) -> Result<State, LineageError> {
    match fs_err::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| LineageError::State(path.to_owned(), e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(LineageError::Io(path.to_owned(), e)),
    }
}

fn write(path: &Path, state: &mut State) -> Result<(), LineageError> {
    state.format = "outrider-lineage-state".into();
    state.format_version = 1;
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir).map_err(|e| LineageError::Io(dir.to_owned(), e))?;
    }
    let mut bytes = serde_json::to_vec_pretty(state)
        .map_err(|e| LineageError::State(path.to_owned(), e.to_string()))?;
    bytes.push(b'\n');
    crate::atomic_file::write(path, &bytes, None).map_err(|e| LineageError::Io(path.to_owned(), e))
}

#[cfg(test)]
mod tests {
    use super::{Applied, is_rollback};

    #[test]
    fn older_or_equal_from_another_bundle_is_a_rollback() {
        let applied = Applied {
            series: "s".into(),
            signer: "unsigned".into(),
            sequence: 3,
            bundle: "w3.zip".into(),
            identity: "sha256:a".into(),
            applied: "2026-12-06T07:00:00Z".into(),
        };
        assert!(is_rollback(&applied, 1, "sha256:b"));
        assert!(is_rollback(&applied, 3, "sha256:b"));
        assert!(!is_rollback(&applied, 3, "sha256:a"));
        assert!(!is_rollback(&applied, 4, "sha256:c"));
    }
}
