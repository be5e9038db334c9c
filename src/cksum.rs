//! POSIX `cksum`: CRC-32 (polynomial 0x04C11DB7, not reflected) over the bytes and then
//! their length, complemented. It is what a far-side host can tell us about a file it just
//! wrote, on any POSIX system (coreutils, busybox, toybox), at a fraction of the cost of
//! `sha256sum` (about 0.2 s against 3.3 s per GB on the bench machine): the SSH transport
//! already authenticates every byte in transit, so this check is there to catch a short
//! or damaged write on the target, which a CRC and the length do as well as a digest.

use crc::{CRC_32_CKSUM, Crc, Digest, Table};

/// The CRC engine: a 16-way sliced table, built at compile time.
static ENGINE: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_CKSUM);

/// A running POSIX `cksum` of a byte stream.
#[derive(Clone)]
pub struct Cksum {
    digest: Digest<'static, u32, Table<16>>,
    bytes: u64,
}

/// What `cksum` prints for a stream: its CRC and its length in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sum {
    /// The CRC (the first number `cksum` prints).
    pub crc: u32,
    /// The length in bytes (the second number).
    pub bytes: u64,
}

impl Default for Cksum {
    fn default() -> Self {
        Cksum::new()
    }
}

impl Cksum {
    /// An empty stream's running sum.
    pub fn new() -> Cksum {
        Cksum {
            digest: ENGINE.digest(),
            bytes: 0,
        }
    }

    /// Adds `data` to the stream.
    pub fn update(&mut self, data: &[u8]) {
        self.digest.update(data);
        self.bytes += data.len() as u64;
    }

    /// The sum of the stream so far.
    pub fn sum(&self) -> Sum {
        let mut digest = self.digest.clone();
        // The length follows the bytes, least significant byte first, only as many bytes
        // as it needs (none for an empty stream).
        let mut length = self.bytes;
        while length > 0 {
            digest.update(&[length as u8]);
            length >>= 8;
        }
        Sum {
            crc: digest.finalize(),
            bytes: self.bytes,
        }
    }
}

impl Sum {
    /// Reads `cksum`'s output for standard input (`CRC BYTES`); None when it is not that.
    pub fn parse(text: &str) -> Option<Sum> {
        let mut words = text.split_whitespace();
        let crc = words.next()?.parse().ok()?;
        let bytes = words.next()?.parse().ok()?;
        Some(Sum { crc, bytes })
    }
}

impl std::fmt::Display for Sum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.crc, self.bytes)
    }
}

/// A writer that sums what passes through it on the way to `inner`, when asked to (a
/// writer without a sum costs nothing more than `inner`).
pub struct Summing<W> {
    /// Where the bytes go.
    pub inner: W,
    /// What has gone so far, when summing.
    pub sum: Option<Cksum>,
}

impl<W: std::io::Write> std::io::Write for Summing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(sum) = &mut self.sum {
            sum.update(&buf[..n]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(data: &[u8]) -> Sum {
        let mut c = Cksum::new();
        c.update(data);
        c.sum()
    }

    #[test]
    fn matches_what_posix_cksum_prints() {
        // `printf '' | cksum`, `printf 'a' | cksum`, `printf '123456789' | cksum` (GNU
        // coreutils 9.1).
        assert_eq!(of(b"").to_string(), "4294967295 0");
        assert_eq!(of(b"a").to_string(), "1220704766 1");
        assert_eq!(of(b"123456789").to_string(), "930766865 9");
    }

    #[test]
    fn a_stream_in_pieces_sums_as_one() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut c = Cksum::new();
        for piece in data.chunks(777) {
            c.update(piece);
        }
        assert_eq!(c.sum(), of(&data));
        // `python3 -c '…same bytes…' | cksum`: a length of three bytes.
        assert_eq!(c.sum().to_string(), "3902980679 100000");
        assert_eq!(Sum::parse(&format!("{}\n", c.sum())), Some(c.sum()));
        assert_eq!(Sum::parse("cksum: not found"), None);
    }
}
