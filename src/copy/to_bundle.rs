//! Writes a [`Plan`] into a bundle, or into volumes of at most `--volume-size` bytes:
//! manifests from memory, blobs downloaded concurrently straight into their planned place
//! (a blob larger than a volume lands in parts across several), each hashed as it streams
//! and refused on any size or digest mismatch. A journal beside the output records what
//! is written, so the same pack run again after an interruption checks that and fetches
//! only the rest, into the same places: the result is byte-identical to an uninterrupted
//! pack.

use super::blob_fetch::{Placed, fetch_blob, write_bytes};
use super::bundle_layout::{Layout, SetName, layout, volume_info, volume_paths};
use super::journal::{Journal, Start, Tally};
use super::landing_order::landing_order;
pub use super::pack_error::PackError;
use crate::bundle::index::BundleIndex;
use crate::bundle::volumes::{self, Item, Segment};
use crate::bundle::writer::{BundleWriter, WriteError};
use crate::oci::Digest;
use crate::plan::{Plan, PlannedBlob};
use crate::progress::Progress;
use crate::trust::BundleSigner;
use futures_util::{StreamExt, TryStreamExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Whether a pack keeps a journal, and uses the one an interrupted run left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// No journal; an interrupted write removes its `.partial` files (a temporary bundle).
    Off,
    /// Resume from a matching journal; keep one, and the `.partial` files, if interrupted.
    On,
    /// As `On`, but ignore any earlier journal and start over (`--no-resume`).
    Restart,
}

/// A finished write: the files, the index, and what a resume reused (for a note).
pub struct Written {
    /// The bundle, or its volumes.
    pub paths: Vec<PathBuf>,
    /// Each file's sha256, taken while it was written (with [`Closing::sha256`]).
    pub sha256: Vec<Option<Digest>>,
    /// The index (without the volume block).
    pub index: BundleIndex,
    /// Set when this run resumed an interrupted one: what it found and fetched.
    pub resumed: Option<String>,
}

/// How a bundle's files are closed: the signer of each index, and whether each file's
/// sha256 is taken while it is written (for `SHA256SUMS`).
pub struct Closing {
    /// Signs each volume's index.
    pub signer: Option<Arc<BundleSigner>>,
    /// Take each file's sha256 on the way ([`BundleWriter::summing`]).
    pub sha256: bool,
}

/// Writes `plan` to `output` (via `.partial` names), split into volumes of at most
/// `volume_size` bytes when given, each volume's index signed by `signer` when given;
/// with `resume`, journaled so an interrupted run can be resumed.
pub async fn write_bundle(
    plan: &Plan,
    output: &Path,
    volume_size: Option<u64>,
    jobs: usize,
    progress: &Progress,
    closing: Closing,
    resume: Resume,
) -> Result<Written, PackError> {
    let Closing { signer, sha256 } = closing;
    let layout = layout(
        plan,
        output,
        volume_size,
        signer.as_ref().map(|s| s.fingerprint()),
    )?;
    let key = layout.key(volume_size);
    let Layout {
        items,
        manifest_count,
        segments,
        index,
        stem,
    } = layout;
    let blobs: Vec<&PlannedBlob> = plan.blobs.iter().filter(|b| b.external.is_none()).collect();
    let total = volumes::total(&segments);
    let (_, paths) = volume_paths(output, total, volume_size.is_some());
    let journal = open_journal(output, &key, &paths, resume)?;
    let reuse = journal
        .as_ref()
        .is_some_and(|(_, start)| *start == Start::Resume);
    let journal = journal.map(|(j, _)| Arc::new(j));
    let writers: Vec<Arc<BundleWriter>> = paths
        .iter()
        .map(|p| {
            BundleWriter::open(p, reuse)
                .map(|w| if sha256 { w.summing() } else { w })
                .map(Arc::new)
        })
        .collect::<Result<_, _>>()?;
    for w in &writers {
        w.keep_when_unfinished(journal.is_some());
    }
    let result = write_entries(
        plan,
        &Entries {
            items: &items,
            manifest_count,
            segments: &segments,
            blobs: &blobs,
        },
        &writers,
        journal.as_ref(),
        jobs,
        progress,
    )
    .await;
    // Bytes that were not what the source promised: a rerun would fetch the same, so
    // nothing is kept for it.
    if let Err(PackError::Content { .. }) = &result {
        for w in &writers {
            w.keep_when_unfinished(false);
        }
        if let Some(j) = &journal {
            let _ = std::fs::remove_file(j.path());
        }
    }
    // A pack that failed before any byte reached its files (a disk already full) has
    // nothing to resume: leave no 0-byte `.partial` and no journal describing it.
    if result.is_err() && writers.iter().all(|w| w.is_empty()) {
        for w in &writers {
            w.keep_when_unfinished(false);
        }
        if let Some(j) = &journal {
            let _ = std::fs::remove_file(j.path());
        }
    }
    let part_digests = result?;
    let resumed = journal
        .as_ref()
        .filter(|_| reuse)
        .map(|j| resume_summary(&j.tally));
    let bundle_id = {
        let layout: Vec<String> = segments
            .iter()
            .map(|s| {
                format!(
                    "{} {} {} {} {}",
                    items[s.item].digest, s.volume, s.name, s.offset, s.size
                )
            })
            .collect();
        Digest::of(format!("{}\n{}", volume_size.unwrap_or(0), layout.join("\n")).as_bytes())
    };
    let (mut written, mut sums) = (Vec::new(), Vec::new());
    for (n, writer) in writers.iter().enumerate() {
        let mut volume_index = index.clone();
        if let Some(limit) = volume_size {
            volume_index.volume = Some(volume_info(
                &SetName {
                    bundle: &bundle_id,
                    name: &stem,
                    total,
                    limit,
                },
                n as u32 + 1,
                &items,
                &segments,
                &part_digests,
            ));
        }
        let writer = writer.clone();
        let signer = signer.clone();
        let (path, sum) =
            tokio::task::spawn_blocking(move || writer.finish(&volume_index, signer.as_deref()))
                .await
                .map_err(|e| WriteError::Io {
                    path: output.to_owned(),
                    source: std::io::Error::other(e),
                })??;
        written.push(path);
        sums.push(sum);
    }
    if let Some(limit) = volume_size {
        for path in &written {
            let size = fs_err::metadata(path)
                .map_err(|source| WriteError::Io {
                    path: path.clone(),
                    source,
                })?
                .len();
            if size > limit {
                for p in &written {
                    let _ = std::fs::remove_file(p);
                }
                return Err(PackError::Volumes(format!(
                    "`{}` came out at {size} bytes, over the {limit}-byte volume size; no volume kept",
                    path.display()
                )));
            }
        }
    }
    if let Some(j) = journal.and_then(|j| Arc::try_unwrap(j).ok()) {
        j.remove();
    }
    Ok(Written {
        paths: written,
        sha256: sums,
        index,
        resumed,
    })
}

/// Opens the journal for `resume`, saying in a note when an earlier one is set aside.
fn open_journal(
    output: &Path,
    key: &Digest,
    paths: &[PathBuf],
    resume: Resume,
) -> Result<Option<(Journal, Start)>, PackError> {
    if resume == Resume::Off {
        return Ok(None);
    }
    let journal_path = super::journal::path_for(output);
    let had_journal = journal_path.exists();
    let partials_there = paths
        .iter()
        .all(|p| crate::atomic_file::partial_path(p).exists());
    let (journal, start) = Journal::open(output, key, resume == Resume::On && partials_there)
        .map_err(|source| WriteError::Io {
            path: journal_path.clone(),
            source,
        })?;
    let shown = journal_path.display();
    match &start {
        Start::Resume => crate::output::note(&format!(
            "resuming the interrupted pack recorded in `{shown}`: what it wrote is checked, the rest fetched"
        )),
        Start::Replaced(why) => {
            crate::output::note(&format!("`{shown}` is set aside: {why}; starting fresh"))
        }
        Start::Fresh if resume == Resume::On && had_journal => crate::output::note(&format!(
            "`{shown}` is set aside: the `.partial` file it describes is gone; starting fresh"
        )),
        Start::Fresh => {}
    }
    Ok(Some((journal, start)))
}

/// One line on what a resumed pack reused and fetched.
fn resume_summary(tally: &Tally) -> String {
    let mut line = format!(
        "resumed: {} blobs found complete on disk, {} reused in all, {} fetched",
        Tally::get(&tally.reused),
        crate::output::bytes(Tally::get(&tally.reused_bytes)),
        crate::output::bytes(Tally::get(&tally.fetched_bytes)),
    );
    let refetched = Tally::get(&tally.refetched);
    if refetched > 0 {
        line.push_str(&format!(
            "; {refetched} blobs on disk did not match their record and were fetched again"
        ));
        let short = Tally::get(&tally.short);
        if short > 0 {
            line.push_str(&format!(
                " ({short} of them lay past the end of the `.partial` file, which is shorter than the journal says: it was cut before it was flushed)"
            ));
        }
    }
    line
}

/// What goes into the files, in write order.
struct Entries<'a> {
    items: &'a [Item],
    manifest_count: usize,
    segments: &'a [Segment],
    blobs: &'a [&'a PlannedBlob],
}

/// Blobs smaller than this cost a round trip more than their bytes: up to
/// [`SMALL_PER_JOB`] of them go per `--jobs`, so a catalog of small layers keeps the link
/// busy with requests, while larger blobs stay at `--jobs` at once.
const SMALL_BLOB: u64 = 1 << 20;
const SMALL_PER_JOB: usize = 4;

/// Places every entry in its writer, writes the manifests and fetches the blobs; returns
/// the part digests, in segment order.
async fn write_entries(
    plan: &Plan,
    entries: &Entries<'_>,
    writers: &[Arc<BundleWriter>],
    journal: Option<&Arc<Journal>>,
    jobs: usize,
    progress: &Progress,
) -> Result<Vec<Option<Digest>>, PackError> {
    let Entries {
        items,
        manifest_count,
        segments,
        blobs,
    } = *entries;
    // Entries go into their files in the order the downloads are expected to land
    // (manifests first, written from memory), so the bundle's sha256 keeps up with them.
    // The forecast assumes the default number of jobs whatever `--jobs` says: the bundle's
    // bytes then depend on the plan alone, and a rerun with other `--jobs` still resumes.
    let sizes: Vec<u64> = blobs.iter().map(|b| b.descriptor.size).collect();
    let mut rank: Vec<usize> = (0..items.len()).collect();
    for (r, k) in landing_order(&sizes, super::DEFAULT_JOBS, SMALL_BLOB)
        .into_iter()
        .enumerate()
    {
        rank[manifest_count + k] = manifest_count + r;
    }
    let mut in_landing_order: Vec<&Segment> = segments.iter().collect();
    // Stable: the parts of one blob keep their order.
    in_landing_order.sort_by_key(|s| rank[s.item]);
    let mut placed: Vec<Vec<Placed>> = vec![Vec::new(); items.len()];
    for s in in_landing_order {
        let writer = writers[(s.volume - 1) as usize].clone();
        let id = writer.place(&s.name, s.size);
        placed[s.item].push(Placed {
            file_offset: writer.data_offset(id),
            writer,
            id,
            blob_offset: s.offset,
            size: s.size,
        });
    }
    let mut results: Vec<Vec<Option<Digest>>> = vec![Vec::new(); items.len()];
    for (i, (manifest, _)) in plan
        .manifests
        .iter()
        .filter(|(_, e)| e.entry.is_some())
        .enumerate()
    {
        results[i] = write_bytes(&placed[i], &manifest.bytes)?;
    }
    let large = tokio::sync::Semaphore::new(jobs.max(1));
    let fetched: Vec<(usize, Vec<Option<Digest>>)> =
        futures_util::stream::iter(blobs.iter().enumerate().map(|(k, blob)| {
            let (segs, large) = (&placed[manifest_count + k], &large);
            async move {
                // The semaphore is never closed, so acquiring cannot fail.
                let _turn = match blob.descriptor.size >= SMALL_BLOB {
                    true => large.acquire().await.ok(),
                    false => None,
                };
                fetch_blob(plan, blob, segs, progress, journal)
                    .await
                    .map(|d| (manifest_count + k, d))
            }
        }))
        .buffer_unordered(jobs.max(1) * SMALL_PER_JOB)
        .try_collect()
        .await?;
    for (i, digests) in fetched {
        results[i] = digests;
    }
    // Part digests, in segment order.
    let mut next: Vec<usize> = vec![0; items.len()];
    let mut part_digests: Vec<Option<Digest>> = vec![None; segments.len()];
    for (k, s) in segments.iter().enumerate() {
        part_digests[k] = results[s.item].get(next[s.item]).cloned().flatten();
        next[s.item] += 1;
    }
    Ok(part_digests)
}
