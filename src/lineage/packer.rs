//! The packing side of lineage: which series a bundle belongs to and its sequence there,
//! from a counter kept beside the output (`outrider-series.json` in the output's folder)
//! or given with `--sequence`; when it was made and when it expires; its parents. An
//! interrupted pack keeps its sequence and creation time in the counter file as pending,
//! so the rerun writes the same index and resumes into its `.partial` files.

use super::record::{Lineage, PackedWith, Parent, Provenance};
use super::{clock, error::LineageError, parents};
use crate::oci::Digest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The counter file's name, in the output's folder.
pub const COUNTER_FILE: &str = "outrider-series.json";

/// What `pack` asks for.
pub struct PackRequest<'a> {
    /// `--series`.
    pub series: Option<&'a str>,
    /// `--sequence`.
    pub sequence: Option<u64>,
    /// `--expires` (a duration such as `30d`).
    pub expires: Option<&'a str>,
    /// The signing key's fingerprint, when `--sign` is given.
    pub signer: Option<&'a Digest>,
    /// `--since` files.
    pub since: &'a [PathBuf],
    /// `-o`.
    pub output: &'a Path,
    /// The options that shaped the bundle.
    pub packed_with: PackedWith,
    /// Whether this pack resumes an interrupted one into its `.partial` files: only then
    /// are the pending sequence and creation time reused (the index must be the same).
    pub resuming: bool,
}

/// A pack's lineage, decided before anything is fetched and committed to the counter
/// once the bundle is written.
pub struct PackLineage {
    /// What the index records.
    pub provenance: Provenance,
    counter: PathBuf,
    output_name: String,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Counter {
    /// Highest sequence written per series.
    #[serde(default)]
    series: BTreeMap<String, u64>,
    /// Packs begun and not finished, by output file name.
    #[serde(default)]
    pending: BTreeMap<String, Pending>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pending {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    series: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sequence: Option<u64>,
    created: String,
}

/// A series name: 1 to 128 of `A-Z a-z 0-9 . _ : -`.
pub(super) fn check_series(name: &str) -> Result<(), LineageError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._:-".contains(&c));
    if ok {
        Ok(())
    } else {
        Err(LineageError::Usage(format!(
            "--series `{}`: a series name is 1 to 128 letters, digits, `.`, `_`, `:` or `-`",
            crate::output::sanitize(name)
        )))
    }
}

impl PackLineage {
    /// The lineage `request` asks for; `None` when nothing does (an unsigned bundle with no
    /// `--series`, `--sequence` or `--expires` records none and stays reproducible byte
    /// for byte).
    pub fn start(request: &PackRequest<'_>) -> Result<Option<PackLineage>, LineageError> {
        let series = match (request.series, request.signer) {
            (Some(s), _) => Some(s.to_owned()),
            (None, Some(fp)) => Some(fp.to_string()),
            (None, None) => None,
        };
        if series.is_none() && request.sequence.is_some() {
            return Err(LineageError::Usage(
                "--sequence numbers a series: give --series NAME (or --sign)".into(),
            ));
        }
        if request.sequence == Some(0) {
            return Err(LineageError::Usage("--sequence starts at 1".into()));
        }
        if series.is_none() && request.expires.is_none() {
            return Ok(None);
        }
        if let Some(s) = &series {
            check_series(s)?;
        }
        let expires_in = request.expires.map(clock::duration).transpose()?;
        let parents: Vec<Parent> = request
            .since
            .iter()
            .map(|p| parents::parent(p))
            .collect::<Result<_, _>>()?;
        let dir = request
            .output
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let counter_path = dir.join(COUNTER_FILE);
        let output_name = request
            .output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut counter = read_counter(&counter_path)?;
        // A rerun of an interrupted pack of the same series keeps its number and time.
        let pending = counter
            .pending
            .get(&output_name)
            .filter(|_| request.resuming)
            .filter(|p| {
                p.series == series && (request.sequence.is_none() || p.sequence == request.sequence)
            })
            .cloned();
        let sequence = match (&series, &pending) {
            (None, _) => None,
            (Some(_), Some(p)) => p.sequence,
            (Some(s), None) => Some(request.sequence.unwrap_or_else(|| {
                let kept = counter.series.get(s).copied().unwrap_or(0);
                let from_parents = parents
                    .iter()
                    .filter(|p| p.series.as_deref() == Some(s.as_str()))
                    .filter_map(|p| p.sequence)
                    .max()
                    .unwrap_or(0);
                kept.max(from_parents) + 1
            })),
        };
        let created = match &pending {
            Some(p) if clock::parse(&p.created).is_ok() => p.created.clone(),
            _ => clock::format(clock::now()),
        };
        let expires = match expires_in {
            Some(secs) => Some(clock::format(clock::parse(&created)? + secs)),
            None => None,
        };
        counter.pending.insert(
            output_name.clone(),
            Pending {
                series: series.clone(),
                sequence,
                created: created.clone(),
            },
        );
        write_counter(&counter_path, &counter)?;
        Ok(Some(PackLineage {
            provenance: Provenance {
                lineage: Lineage {
                    series,
                    sequence,
                    created,
                    expires,
                    parents,
                },
                packed_with: request.packed_with.clone(),
            },
            counter: counter_path,
            output_name,
        }))
    }

    /// Records in the counter that the bundle was written: its sequence is the series'
    /// highest now. Returns the line that says where the bundle stands.
    pub fn commit(&self) -> Result<String, LineageError> {
        let mut counter = read_counter(&self.counter)?;
        counter.pending.remove(&self.output_name);
        let l = &self.provenance.lineage;
        if let (Some(s), Some(n)) = (&l.series, l.sequence) {
            let kept = counter.series.entry(s.clone()).or_insert(0);
            *kept = (*kept).max(n);
        }
        write_counter(&self.counter, &counter)?;
        let mut line = match (&l.series, l.sequence) {
            (Some(s), Some(n)) => format!(
                "sequence {n} of series `{s}` (counter in `{}`; --sequence N sets it)",
                self.counter.display()
            ),
            _ => "no series".to_owned(),
        };
        if let Some(e) = &l.expires {
            line.push_str(&format!("; expires {e}"));
        }
        if !l.parents.is_empty() {
            let names: Vec<String> = l.parents.iter().map(|p| format!("`{}`", p.name)).collect();
            line.push_str(&format!("; built on {}", names.join(", ")));
        }
        Ok(line)
    }
}

fn read_counter(path: &Path) -> Result<Counter, LineageError> {
    match fs_err::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| LineageError::State(path.to_owned(), e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Counter::default()),
        Err(e) => Err(LineageError::Io(path.to_owned(), e)),
    }
}

fn write_counter(path: &Path, counter: &Counter) -> Result<(), LineageError> {
    let mut bytes = serde_json::to_vec_pretty(counter)
        .map_err(|e| LineageError::State(path.to_owned(), e.to_string()))?;
    bytes.push(b'\n');
    crate::atomic_file::write(path, &bytes, None).map_err(|e| LineageError::Io(path.to_owned(), e))
}
