//! Putting the tar on a target so that its final name only ever holds the whole file. The
//! bytes go to `<path>.partial` (`cat` over an exec channel, hashed here as they are read);
//! the target then reports that file's size and sha256, and only when both match what was
//! sent is it renamed to `<path>`. A dropped channel ends `cat` as an end of input would,
//! so the rename is never in the same remote command as the copy. A rerun starts the
//! `.partial` file over (no resume: a fresh copy is one code path, and the check covers it).
//! Every remote command puts `--` before its operands, and every path is quoted.

use super::command::quote;
use super::ssh::Session;
use super::ssh_error::SshError;
use sha2::{Digest as _, Sha256};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

impl Session {
    /// sha256 of a remote file, if it exists.
    pub async fn remote_sha256(&self, path: &str) -> Result<Option<String>, SshError> {
        let out = self
            .run(
                &format!("the sha256 check of {path}"),
                &format!("sha256sum -- {} 2>/dev/null", quote(path)),
                None,
            )
            .await?;
        Ok((out.status == Some(0)).then(|| {
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_owned()
        }))
    }

    /// Streams `file` (whose sha256 is `sha256`) to `<remote>.partial`, checks its size and
    /// sha256 on the target, then renames it to `remote`. Returns the bytes sent.
    pub async fn upload(
        &self,
        file: &Path,
        remote: &str,
        sha256: &str,
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
        let local = tokio::fs::File::open(file)
            .await
            .map_err(|e| SshError::Local(file.to_owned(), e))?;
        let mut reader = Hashing {
            inner: local,
            progress,
            hasher: Sha256::new(),
            bytes: 0,
        };
        let what = format!("the upload to {partial}");
        let out = self
            .bounded(&what, self.exchange(&what, &copy, Some(&mut reader)))
            .await?;
        self.require_success(&what, out)?;
        let (sent, bytes) = (hex::encode(reader.hasher.finalize()), reader.bytes);
        if sent != sha256 {
            return Err(SshError::Local(
                file.to_owned(),
                std::io::Error::other(format!(
                    "it changed while it was sent (sha256 {sent}, expected {sha256})"
                )),
            ));
        }
        let check = format!("the check of {partial}");
        let out = self
            .check(
                &check,
                &format!("wc -c < {p} && sha256sum -- {p}", p = quote(&partial)),
                None,
            )
            .await?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut words = text.split_whitespace();
        let (size, hash) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        if size != bytes.to_string() || hash != sent {
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
                    "sent {bytes} bytes with sha256 {sent}, the target has {size} bytes with sha256 {hash}; not renamed to {remote}"
                ),
            });
        }
        self.check(
            &format!("renaming {partial} to {remote}"),
            &format!("mv -f -- {} {}", quote(&partial), quote(remote)),
            None,
        )
        .await?;
        Ok(bytes)
    }
}

/// Counts bytes for the progress bar and hashes them as they are read, so what is
/// compared with the target is what was sent.
struct Hashing<'a, R> {
    inner: R,
    progress: &'a crate::progress::ItemProgress,
    hasher: Sha256,
    bytes: u64,
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Hashing<'_, R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = &buf.filled()[before..];
        self.hasher.update(read);
        self.bytes += read.len() as u64;
        self.progress.inc(read.len() as u64);
        poll
    }
}
