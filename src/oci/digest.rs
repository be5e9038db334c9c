//! Content digests (`sha256:<hex>`), descriptors, and the one verifier every hop uses to
//! check bytes against the size and digest it was promised.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;

/// A `sha256:<64 lowercase hex>` content digest. Other algorithms are refused: the
/// distribution spec makes sha256 the one every registry must support.
///
/// The text is held inline rather than in a `String`: a bundle's index holds one digest per
/// entry (71k at 700 images × 100 layers) in several maps, and a heap pointer per key made
/// every lookup chase memory that no longer fits a cache (verify went 2.25× slower at twice
/// the entries, with exactly twice the instructions).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Digest([u8; DIGEST_LEN]);

/// `sha256:` and 64 hex digits.
const DIGEST_LEN: usize = 71;

impl std::hash::Hash for Digest {
    /// The 64 hex digits only: the `sha256:` prefix is the same in every digest.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(&self.0[7..]);
    }
}

/// Why a digest string or a byte stream failed a check.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The text is not `sha256:` followed by 64 lowercase hex digits.
    #[error("`{0}` is not a sha256 digest (expected `sha256:` and 64 lowercase hex digits)")]
    Malformed(String),
    /// More or fewer bytes arrived than the descriptor promised.
    #[error("{digest}: expected {expected} bytes, got {got}")]
    SizeMismatch {
        /// The blob being checked (boxed, as are the digests below: every error that
        /// carries this one stays small).
        digest: Box<Digest>,
        /// Size from the descriptor.
        expected: u64,
        /// Bytes seen (a lower bound when the stream ran over).
        got: u64,
    },
    /// The bytes hash to something else.
    #[error("{expected}: content hashes to {actual}")]
    Mismatch {
        /// The digest that was promised.
        expected: Box<Digest>,
        /// The digest of the bytes received.
        actual: Box<Digest>,
    },
}

impl Digest {
    /// Digest of a complete byte slice.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_sha256(Sha256::digest(bytes).into())
    }

    /// Digest and length of everything `reader` yields, read in 1 MiB chunks (a file too
    /// large to hold).
    pub fn of_reader(mut reader: impl std::io::Read) -> std::io::Result<(Digest, u64)> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        Ok((Digest::from_sha256(hasher.finalize().into()), size))
    }

    /// The digest of a finished sha256 computation.
    pub fn from_sha256(bytes: [u8; 32]) -> Digest {
        let mut text = [0u8; DIGEST_LEN];
        text[..7].copy_from_slice(b"sha256:");
        hex::encode_to_slice(bytes, &mut text[7..]).expect("64 hex digits fill 64 bytes");
        Digest(text)
    }

    /// The 64 hex digits, as used in blob paths.
    pub fn hex(&self) -> &str {
        &self.as_str()[7..]
    }

    /// The full `sha256:<hex>` text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked by `from_str`, written by `from_sha256`).
        std::str::from_utf8(&self.0).expect("a digest is ASCII")
    }

    /// First 12 hex digits, for human-facing lines.
    pub fn short(&self) -> &str {
        &self.as_str()[7..19]
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = s.len() == DIGEST_LEN
            && s.starts_with("sha256:")
            && s[7..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            let mut text = [0u8; DIGEST_LEN];
            text.copy_from_slice(s.as_bytes());
            Ok(Digest(text))
        } else {
            Err(DigestError::Malformed(s.to_owned()))
        }
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Digest {
    /// Parsed from the text in place: no `String` is made for each of an index's digests.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Digest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sha256 digest")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Digest, E> {
                s.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Text)
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.as_str().to_owned()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes read from a local file (a bundle) failed their check: the file is damaged. It
/// travels inside `std::io::Error` through readers, tar writers and request bodies, so that
/// whoever meets it blames the file rather than the network or the registry, and does not
/// retry: re-sending the same damaged bytes cannot help.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Damaged(pub String);

impl Damaged {
    /// The `Damaged` behind `error`, looking through its sources and through the
    /// `std::io::Error`s that wrap it on the way (whose `source()` hides their payload).
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Damaged> {
        let mut next = Some(error);
        while let Some(e) = next {
            if let Some(d) = e.downcast_ref::<Damaged>() {
                return Some(d);
            }
            if let Some(d) = e
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| Damaged::find(inner))
            {
                return Some(d);
            }
            next = e.source();
        }
        None
    }
}

/// What a manifest says about one blob or child: enough to fetch and verify it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// The media type the referrer declared.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// Content digest.
    pub digest: Digest,
    /// Exact size in bytes.
    pub size: u64,
}

/// Incremental check of a byte stream against a descriptor. Feed every chunk to
/// [`Verifier::update`] (which refuses as soon as the stream runs past the promised size)
/// and call [`Verifier::finish`] at the end: a stream is good only if both agree.
pub struct Verifier {
    expected: Digest,
    size: u64,
    seen: u64,
    hasher: Sha256,
}

impl Verifier {
    /// A verifier for `size` bytes hashing to `digest`.
    pub fn new(digest: &Digest, size: u64) -> Self {
        Verifier {
            expected: digest.clone(),
            size,
            seen: 0,
            hasher: Sha256::new(),
        }
    }

    /// Accounts for `chunk`; fails once more bytes arrive than were promised.
    pub fn update(&mut self, chunk: &[u8]) -> Result<(), DigestError> {
        self.seen += chunk.len() as u64;
        if self.seen > self.size {
            return Err(self.size_error());
        }
        self.hasher.update(chunk);
        Ok(())
    }

    /// The digest the bytes must hash to.
    pub fn digest(&self) -> &Digest {
        &self.expected
    }

    /// Bytes accounted for so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// True once exactly the promised number of bytes has been seen.
    pub fn is_complete(&self) -> bool {
        self.seen == self.size
    }

    /// Checks the final size and digest.
    pub fn finish(self) -> Result<(), DigestError> {
        if self.seen != self.size {
            return Err(self.size_error());
        }
        let actual = Digest::from_sha256(self.hasher.finalize().into());
        if actual != self.expected {
            return Err(DigestError::Mismatch {
                expected: Box::new(self.expected),
                actual: Box::new(actual),
            });
        }
        Ok(())
    }

    fn size_error(&self) -> DigestError {
        DigestError::SizeMismatch {
            digest: Box::new(self.expected.clone()),
            expected: self.size,
            got: self.seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let d = Digest::of(b"hello");
        assert_eq!(d.as_str().parse::<Digest>().ok(), Some(d.clone()));
        assert!("sha256:ABC".parse::<Digest>().is_err());
        assert!("sha512:00".parse::<Digest>().is_err());
        let upper = format!("sha256:{}", d.hex().to_uppercase());
        assert!(upper.parse::<Digest>().is_err());
    }

    #[test]
    fn verifier_catches_size_and_content() {
        let d = Digest::of(b"hello");
        let mut v = Verifier::new(&d, 5);
        v.update(b"hel").unwrap();
        v.update(b"lo").unwrap();
        v.finish().unwrap();

        let mut v = Verifier::new(&d, 5);
        assert!(matches!(
            v.update(b"hello!"),
            Err(DigestError::SizeMismatch { .. })
        ));

        let mut v = Verifier::new(&d, 5);
        v.update(b"hellO").unwrap();
        assert!(matches!(v.finish(), Err(DigestError::Mismatch { .. })));

        let mut v = Verifier::new(&d, 5);
        v.update(b"hell").unwrap();
        assert!(matches!(v.finish(), Err(DigestError::SizeMismatch { .. })));
    }
}
