//! Reading one blob's bytes out of a bundle by offset: the whole entry, or its parts one
//! after the other across volumes. A verified read checks each entry's zip CRC-32, each
//! part's digest and the whole blob's digest and size, and fails the read that would have
//! completed the blob instead of returning its last bytes, so a consumer never receives a
//! damaged blob whole. Failures are [`Damaged`] errors that name the blob, the file and
//! the fix (verify, re-copy the medium).

use crate::oci::{Damaged, Digest, DigestError, Verifier};
use bytes::Bytes;
use futures_util::Stream;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Read size for streaming blobs out.
const CHUNK: usize = 1024 * 1024;

/// Where an entry's bytes are in its file, and the CRC-32 its zip headers give.
#[derive(Clone, Copy, Debug)]
pub struct EntrySpan {
    /// Offset of the first data byte.
    pub offset: u64,
    /// Size in bytes.
    pub size: u64,
    /// CRC-32 from the central directory.
    pub crc32: u32,
}

/// A contiguous piece of a blob: the whole of it, or one part.
#[derive(Clone)]
pub(super) struct Piece {
    pub(super) file: Arc<std::fs::File>,
    /// The volume's path, shared by all its pieces (a bundle holds up to a million).
    pub(super) path: Arc<Path>,
    pub(super) span: EntrySpan,
    /// For a part: its own digest and entry name (boxed: most blobs are whole, and a
    /// bundle's pieces should stay small enough to stay in cache).
    pub(super) part: Option<Box<(Digest, String)>>,
    /// Its volume's number in a set, 0 for a bundle in one file: faults name the volume.
    pub(super) volume: u32,
}

/// The message for damaged bytes: the thing, the file holding them, and the fix. In a set
/// the file is the volume (`volume` from 1; 0 for a bundle in one file), so the hint names
/// the one volume to check and copy again rather than the one the user happened to name.
pub(super) fn damage(what: &str, file: &Path, volume: u32, reason: &str) -> Damaged {
    let (place, copy) = match volume {
        0 => (format!("`{}`", file.display()), "the bundle"),
        n => (format!("volume {n} (`{}`)", file.display()), "that volume"),
    };
    Damaged(format!(
        "{what} in {place} is damaged ({reason}); hint: run `outrider verify {}` and copy {copy} from its source again",
        file.display(),
    ))
}

/// A blocking reader over `len` bytes from `start` of a blob's pieces. With a whole-blob
/// verifier it also checks each entry's CRC-32 and each part's digest; a failed check
/// fails the read that would have completed the part or the blob.
pub struct BlobReader {
    /// The bundle as the user named it, for the hint.
    bundle: PathBuf,
    digest: Digest,
    pieces: Vec<Piece>,
    /// Index of the current piece and position in the blob.
    current: usize,
    piece_start: u64,
    pos: u64,
    end: u64,
    whole: Option<Verifier>,
    /// Whether entries' CRC-32s and parts' digests are checked.
    verifying: bool,
    part: Option<Verifier>,
    crc: Option<crc32fast::Hasher>,
}

impl BlobReader {
    pub(super) fn new(
        bundle: &Path,
        digest: &Digest,
        pieces: Vec<Piece>,
        start: u64,
        len: u64,
        whole: Option<Verifier>,
    ) -> BlobReader {
        let mut r = BlobReader {
            bundle: bundle.to_owned(),
            digest: digest.clone(),
            pieces,
            current: 0,
            piece_start: 0,
            pos: start,
            end: start.saturating_add(len),
            part: None,
            crc: None,
            verifying: whole.is_some(),
            whole,
        };
        // Skip to the piece holding `start`.
        while r.current < r.pieces.len()
            && r.piece_start + r.pieces[r.current].span.size <= start
            && r.pieces[r.current].span.size > 0
        {
            r.piece_start += r.pieces[r.current].span.size;
            r.current += 1;
        }
        r.start_part();
        r
    }

    /// A verified reader over one entry alone: its CRC-32 and, for a part, the part's
    /// digest and size. For a part whose blob cannot be read whole (a volume given alone).
    pub(super) fn entry(bundle: &Path, digest: &Digest, piece: Piece) -> BlobReader {
        let size = piece.span.size;
        let mut r = BlobReader::new(bundle, digest, vec![piece], 0, size, None);
        r.verifying = true;
        r.start_part();
        r
    }

    fn start_part(&mut self) {
        let verifying = self.verifying;
        let piece = self.pieces.get(self.current).filter(|_| verifying);
        self.part = piece.and_then(|p| {
            p.part
                .as_deref()
                .map(|(d, _)| Verifier::new(d, p.span.size))
        });
        self.crc = piece.map(|_| crc32fast::Hasher::new());
    }

    /// `piece` is the entry at fault, or `None` for the whole blob: then the fault is in
    /// its one entry, or, for parts in several volumes, in the set (each part passed alone).
    fn damaged(&self, piece: Option<&Piece>, reason: &str) -> std::io::Error {
        let one_file = match self.pieces.as_slice() {
            [only] => Some(only),
            _ => None,
        };
        let Some(at) = piece.or(one_file) else {
            let mut volumes: Vec<String> =
                self.pieces.iter().map(|p| p.volume.to_string()).collect();
            volumes.dedup();
            return std::io::Error::other(Damaged(format!(
                "blob {}, in volumes {} of the set of `{}`, is damaged ({reason}); hint: run `outrider verify --set {}` and copy the set from its source again",
                self.digest,
                volumes.join(", "),
                self.bundle.display(),
                self.bundle.display()
            )));
        };
        let what = match piece.and_then(|p| p.part.as_deref()) {
            Some((_, entry)) => format!("entry `{entry}` of blob {}", self.digest),
            None => format!("blob {}", self.digest),
        };
        std::io::Error::other(damage(&what, &at.path, at.volume, reason))
    }

    fn check(&self, piece: Option<&Piece>, result: Result<(), DigestError>) -> std::io::Result<()> {
        result.map_err(|e| {
            let reason = match e {
                DigestError::Mismatch { actual, .. } => format!("its bytes hash to {actual}"),
                DigestError::SizeMismatch { expected, got, .. } => {
                    format!("{got} bytes where {expected} were expected")
                }
                DigestError::Malformed(m) => m,
            };
            self.damaged(piece, &reason)
        })
    }

    /// Checks the finished piece's CRC-32 and part digest.
    fn finish_piece(&mut self) -> std::io::Result<()> {
        let piece = self.pieces.get(self.current);
        if let (Some(crc), Some(p)) = (self.crc.take(), piece) {
            let got = crc.finalize();
            if got != p.span.crc32 {
                return Err(self.damaged(
                    Some(p),
                    &format!(
                        "its zip CRC-32 is {got:08x}, the zip header says {:08x}",
                        p.span.crc32
                    ),
                ));
            }
        }
        if let Some(v) = self.part.take() {
            self.check(piece, v.finish())?;
        }
        Ok(())
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.pos >= self.end {
                if let Some(v) = self.whole.take() {
                    self.check(None, v.finish())?;
                }
                return Ok(0);
            }
            let Some(piece) = self.pieces.get(self.current) else {
                return Err(self.damaged(None, "it ends before its size"));
            };
            let in_piece = self.pos - self.piece_start;
            if in_piece >= piece.span.size {
                self.piece_start += piece.span.size;
                self.current += 1;
                self.start_part();
                continue;
            }
            let want = (buf.len() as u64)
                .min(piece.span.size - in_piece)
                .min(self.end - self.pos) as usize;
            let n = piece
                .file
                .read_at(&mut buf[..want], piece.span.offset + in_piece)?;
            if n == 0 {
                return Err(self.damaged(Some(piece), "the file ends inside the entry"));
            }
            let piece_done = in_piece + n as u64 == piece.span.size;
            if let Some(crc) = self.crc.as_mut() {
                crc.update(&buf[..n]);
            }
            if let Some(v) = self.part.as_mut() {
                let r = v.update(&buf[..n]);
                self.check(self.pieces.get(self.current), r)?;
            }
            if let Some(v) = self.whole.as_mut() {
                let r = v.update(&buf[..n]);
                self.check(None, r)?;
            }
            if piece_done {
                self.finish_piece()?;
            }
            self.pos += n as u64;
            if self.pos == self.end
                && let Some(v) = self.whole.take()
            {
                self.check(None, v.finish())?;
            }
            return Ok(n);
        }
    }
}

/// A reader as a stream of 1 MiB chunks, each read on a blocking thread.
pub(super) fn chunks(
    reader: Result<BlobReader, std::io::Error>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::unfold(Some(reader), |state| async move {
        let mut reader = match state? {
            Ok(r) => r,
            Err(e) => return Some((Err(e), None)),
        };
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = Vec::with_capacity(CHUNK);
            (&mut reader).take(CHUNK as u64).read_to_end(&mut buf)?;
            Ok((buf, reader))
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        match read {
            Ok((buf, _)) if buf.is_empty() => None,
            Ok((buf, reader)) => Some((Ok(Bytes::from(buf)), Some(Ok(reader)))),
            Err(e) => Some((Err(e), None)),
        }
    })
}
