//! Putting the tar on a target so that its final name only ever holds the whole file. The
//! bytes go to `<path>.partial` (`cat` over an exec channel), read from the local file on a
//! thread of their own in 1 MiB chunks and summed there (POSIX `cksum`) as they are read;
//! the target then reports that file's `cksum` (its CRC and length), and only when it
//! matches what was sent, which must match what was written locally, is it renamed to
//! `<path>`. A dropped channel ends `cat` as an end of input would, so the rename is never
//! in the same remote command as the copy. A rerun starts the `.partial` file over (no
//! resume: a fresh copy is one code path, and the check covers it). Every remote command
//! puts `--` before its operands, and every path is quoted.
//!
//! Why `cksum` and not `sha256sum` on the target: the SSH transport already authenticates
//! every byte on the way, so the target's check is there for a short or damaged write, which
//! the CRC and the length catch; `sha256sum` costs the target about 3 s of CPU per GB after
//! the upload, `cksum` about 0.2 s. Whether a target already holds the tar is an identity
//! question, so that one stays sha256 (asked only of a file of the same size).

use super::command::quote;
use super::ssh::{Input, Session};
use super::ssh_error::SshError;
use crate::cksum::{Cksum, Sum};
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Bytes per chunk handed to the channel, and chunks read ahead of it.
const CHUNK: usize = 1 << 20;
const AHEAD: usize = 4;

impl Session {
    /// Whether `remote` already holds the tar: a file of `size` bytes whose sha256 is the
    /// local one (`local_sha256`, computed on first need and shared between targets).
    pub async fn already_holds(
        &self,
        remote: &str,
        size: u64,
        local_sha256: impl Future<Output = Result<String, SshError>>,
    ) -> Result<bool, SshError> {
        let p = quote(remote);
        let out = self
            .run(
                &format!("the size check of {remote}"),
                &format!("{{ wc -c < {p}; }} 2>/dev/null"),
                None,
            )
            .await?;
        let text = String::from_utf8_lossy(&out.stdout);
        if out.status != Some(0) || text.trim() != size.to_string() {
            return Ok(false);
        }
        let out = self
            .run(
                &format!("the sha256 check of {remote}"),
                &format!("sha256sum -- {p} 2>/dev/null"),
                None,
            )
            .await?;
        let there = String::from_utf8_lossy(&out.stdout);
        let there = there.split_whitespace().next().unwrap_or("");
        Ok(out.status == Some(0) && there == local_sha256.await?)
    }

    /// Streams `file` (whose `cksum` was `written` when it was made) to `<remote>.partial`,
    /// checks its `cksum` on the target, then renames it to `remote`. Returns the bytes sent.
    pub async fn upload(
        &self,
        file: &Path,
        remote: &str,
        written: Sum,
        progress: &crate::progress::ItemProgress,
    ) -> Result<u64, SshError> {
        let partial = format!("{remote}.partial");
        let dir = Path::new(remote)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| ".".into());
        let copy = format!(
            "mkdir -p -- {d} && cat > {p}",
            d = quote(&dir),
            p = quote(&partial)
        );
        let local = std::fs::File::open(file).map_err(|e| SshError::Local(file.to_owned(), e))?;
        let (tx, from) = tokio::sync::mpsc::channel(AHEAD);
        let reader = tokio::task::spawn_blocking(move || read_chunks(local, tx));
        let what = format!("the upload to {partial}");
        let input = Input::Chunks {
            from,
            stall: self.stall_limit(),
            progress,
        };
        let out = self
            .watched(&what, self.exchange(&what, &copy, Some(input)))
            .await;
        // The reader ends once the channel is dropped (its next send fails), so this join
        // never waits on a target.
        let sent = reader
            .await
            .map_err(|e| SshError::Local(file.to_owned(), std::io::Error::other(e)))?;
        self.require_success(&what, out?)?;
        if sent != written {
            return Err(SshError::Local(
                file.to_owned(),
                std::io::Error::other(format!(
                    "it changed after it was written (cksum {written} when written, {sent} when sent)"
                )),
            ));
        }
        let check = format!("the check of {partial}");
        let out = self
            .check(&check, &format!("cksum < {}", quote(&partial)), None)
            .await?;
        let text = String::from_utf8_lossy(&out.stdout);
        if Sum::parse(&text) != Some(sent) {
            // Best effort: the file is useless, and a rerun starts it over anyway.
            let _ = self
                .run(
                    "removing it",
                    &format!("rm -f -- {}", quote(&partial)),
                    None,
                )
                .await;
            return Err(SshError::Command {
                target: self.target.name.clone(),
                what: check,
                status: "mismatch".into(),
                stderr: format!(
                    "sent {} bytes with cksum {sent}, the target's `cksum` says {}; not renamed to {remote}",
                    sent.bytes,
                    crate::output::sanitize(text.trim())
                ),
            });
        }
        self.check(
            &format!("renaming {partial} to {remote}"),
            &format!("mv -f -- {} {}", quote(&partial), quote(remote)),
            None,
        )
        .await?;
        Ok(sent.bytes)
    }
}

/// Reads `file` to its end in [`CHUNK`]s into `to`, summing what it hands over; stops
/// early (with the sum so far) when the receiver is gone. A read error is passed on as
/// the last item.
fn read_chunks(
    mut file: std::fs::File,
    to: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
) -> Sum {
    let mut sum = Cksum::new();
    loop {
        // Up to a whole chunk, or to the end; bytes read before an error are kept.
        let mut buf = Vec::with_capacity(CHUNK);
        let read = (&mut file).take(CHUNK as u64).read_to_end(&mut buf);
        sum.update(&buf);
        let last = buf.len() < CHUNK;
        if !buf.is_empty() && to.blocking_send(Ok(buf.into())).is_err() {
            return sum.sum();
        }
        if let Err(e) = read {
            let _ = to.blocking_send(Err(e));
            return sum.sum();
        }
        if last {
            return sum.sum();
        }
    }
}

/// The local file's sha256, for [`Session::already_holds`].
pub async fn sha256_of(file: PathBuf) -> Result<String, SshError> {
    tokio::task::spawn_blocking(move || {
        let opened = std::fs::File::open(&file).map_err(|e| SshError::Local(file.clone(), e))?;
        crate::oci::Digest::of_reader(opened)
            .map(|(d, _)| d.hex().to_owned())
            .map_err(|e| SshError::Local(file, e))
    })
    .await
    .map_err(|e| SshError::Local(PathBuf::new(), std::io::Error::other(e)))?
}
