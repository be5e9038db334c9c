//! Quantities as users write them, on the command line and in config files: byte sizes
//! (`4GiB-1`, `700MiB`, `1.5GB`, `123456`, `fat32`) and durations (`90s`, `5m`, `1h30m`,
//! `60`). One grammar each, so every option and key that takes one reads it the same way.

/// The FAT32 limit: no file may reach 4 GiB.
pub const FAT32: u64 = (4 << 30) - 1;

/// The size forms [`parse`] takes, as error messages and help name them.
pub const SIZE_FORMS: &str = "give bytes (8388608) or a number with a unit, KiB MiB GiB TiB \
(1024-based) or kB MB GB TB (1000-based): 8MiB, 4GB, 4GiB-1, fat32";

/// The duration forms [`parse_seconds`] takes.
pub const DURATION_FORMS: &str = "give seconds (90) or numbers with units s, m, h (90s, 5m, 1h30m)";

/// Parses a size: terms joined by `+` or `-`, each a number with an optional unit (B, KiB,
/// MiB, GiB, TiB, or decimal kB, MB, GB, TB); `fat32` is 4 GiB − 1. Zero is no size.
pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    if t == "fat32" {
        return Ok(FAT32);
    }
    let bad = || format!("`{text}` is not a size; {SIZE_FORMS}");
    let mut total: i128 = 0;
    let mut sign = 1i128;
    let mut rest = t.as_str();
    while !rest.is_empty() {
        let end = rest.find(['+', '-']).unwrap_or(rest.len());
        let term = rest[..end].trim();
        let split = term
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(term.len());
        let (number, unit) = (&term[..split], term[split..].trim());
        let value: f64 = number.parse().map_err(|_| bad())?;
        let scale: f64 = match unit {
            "" | "b" => 1.0,
            "k" | "kib" => 1024.0,
            "m" | "mib" => 1024.0 * 1024.0,
            "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
            "t" | "tib" => 1024f64.powi(4),
            "kb" => 1e3,
            "mb" => 1e6,
            "gb" => 1e9,
            "tb" => 1e12,
            _ => return Err(bad()),
        };
        total += sign * (value * scale).round() as i128;
        match rest[end..].chars().next() {
            Some('+') => sign = 1,
            Some('-') => sign = -1,
            _ => {}
        }
        rest = rest.get(end + 1..).unwrap_or("");
        if end < t.len() && rest.trim().is_empty() && t.ends_with(['+', '-']) {
            return Err(bad());
        }
    }
    u64::try_from(total).ok().filter(|v| *v > 0).ok_or_else(bad)
}

/// Parses a duration into whole seconds: a plain number is seconds; otherwise numbers
/// each followed by `s`, `m` or `h` (`sec`, `min`, `hour` and plurals too), added up:
/// `90s`, `5m`, `1h30m`, `1.5m`. Zero is no duration.
pub fn parse_seconds(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a duration; {DURATION_FORMS}");
    let t = text.trim().to_ascii_lowercase();
    let zero = || format!("`{text}` is no time at all; give at least one second (1, 1s)");
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return match t.parse() {
            Ok(0) => Err(zero()),
            Ok(n) => Ok(n),
            Err(_) => Err(bad()),
        };
    }
    let mut total = 0f64;
    let mut rest = t.as_str();
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..split].parse().map_err(|_| bad())?;
        let after = rest[split..].trim_start();
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let scale = match &after[..unit_len] {
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hour" | "hours" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = after[unit_len..].trim_start();
    }
    let seconds = total.round();
    if t.is_empty() || seconds > u64::MAX as f64 {
        return Err(bad());
    }
    if seconds < 1.0 {
        return Err(zero());
    }
    Ok(seconds as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse("4GiB-1"), Ok(FAT32));
        assert_eq!(parse("fat32"), Ok(FAT32));
        assert_eq!(parse("700MiB"), Ok(700 << 20));
        assert_eq!(parse("8MiB"), parse("8388608"));
        assert_eq!(parse("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse("4GB"), Ok(4_000_000_000));
        assert_eq!(parse("123456"), Ok(123_456));
        assert_eq!(parse("1MiB + 512KiB"), Ok(1536 << 10));
        for bad in ["", "abc", "4GiB-", "-1", "1 parsec", "0", "8XB"] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains("give bytes") && e.contains("8MiB"), "{e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_seconds("60"), Ok(60));
        assert_eq!(parse_seconds("90s"), Ok(90));
        assert_eq!(parse_seconds("5m"), Ok(300));
        assert_eq!(parse_seconds("1h30m"), Ok(5400));
        assert_eq!(parse_seconds("1.5 min"), Ok(90));
        assert_eq!(parse_seconds("2 hours"), Ok(7200));
        for bad in ["", "-5", "5x", "m", "1h30", "s5", "99999999999999999999"] {
            let e = parse_seconds(bad).expect_err(bad);
            assert!(
                e.contains("not a duration") && e.contains("90s"),
                "{bad}: {e}"
            );
        }
        for zero in ["0", "0s", "0.2s"] {
            let e = parse_seconds(zero).expect_err(zero);
            assert!(e.contains("at least one second"), "{zero}: {e}");
        }
    }
}
