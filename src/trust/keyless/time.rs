//! Times in keyless verification: Unix seconds, the trusted root's RFC 3339 validity
//! windows (closed intervals, as Sigstore's `TimeRange`), and X.509 times.

use der::DateTime;

/// Seconds since the Unix epoch.
pub type UnixTime = i64;

/// A closed validity window; no end means open-ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// First valid second.
    pub start: UnixTime,
    /// Last valid second, if any.
    pub end: Option<UnixTime>,
}

impl TimeRange {
    /// Whether `t` lies in the window (both ends included).
    pub fn contains(&self, t: UnixTime) -> bool {
        t >= self.start && self.end.is_none_or(|end| t <= end)
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (the form protobuf's JSON gives timestamps);
/// the fraction is dropped.
pub fn parse_rfc3339(text: &str) -> Result<UnixTime, String> {
    let bad = || format!("`{text}` is not an RFC 3339 UTC time");
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u16, String> {
        text.get(r).and_then(|s| s.parse().ok()).ok_or_else(bad)
    };
    let rest = text.get(19..).ok_or_else(bad)?;
    let rest = match rest.strip_prefix('.') {
        Some(f) => f.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => rest,
    };
    if rest != "Z" && rest != "+00:00" {
        return Err(bad());
    }
    let dt = DateTime::new(
        num(0..4)?,
        num(5..7)? as u8,
        num(8..10)? as u8,
        num(11..13)? as u8,
        num(14..16)? as u8,
        num(17..19)? as u8,
    )
    .map_err(|_| bad())?;
    Ok(dt.unix_duration().as_secs() as UnixTime)
}

/// An X.509 time as Unix seconds.
pub fn from_x509(time: x509_cert::time::Time) -> UnixTime {
    time.to_unix_duration().as_secs() as UnixTime
}

/// A Unix time for people, as RFC 3339.
pub fn show(t: UnixTime) -> String {
    u64::try_from(t)
        .ok()
        .and_then(|s| DateTime::from_unix_duration(std::time::Duration::from_secs(s)).ok())
        .map_or_else(|| format!("{t} (Unix)"), |d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_and_without_fraction() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:10Z"), Ok(10));
        assert_eq!(parse_rfc3339("2022-12-31T23:59:59.999Z"), Ok(1_672_531_199));
        assert!(parse_rfc3339("2022-12-31 23:59:59").is_err());
        let r = TimeRange {
            start: 5,
            end: Some(10),
        };
        assert!(r.contains(5) && r.contains(10) && !r.contains(11) && !r.contains(4));
    }
}
