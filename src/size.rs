//! Byte sizes as users write them: `4GiB-1`, `700MiB`, `1.5GB`, `123456`, `fat32`.

/// The FAT32 limit: no file may reach 4 GiB.
pub const FAT32: u64 = (4 << 30) - 1;

/// Parses a size: terms joined by `+` or `-`, each a number with an optional unit (B, KiB,
/// MiB, GiB, TiB, or decimal kB, MB, GB, TB); `fat32` is 4 GiB − 1.
pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    if t == "fat32" {
        return Ok(FAT32);
    }
    let bad = || format!("`{text}` is not a size (e.g. 4GiB-1, 700MiB, 1000000, fat32)");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse("4GiB-1"), Ok(FAT32));
        assert_eq!(parse("fat32"), Ok(FAT32));
        assert_eq!(parse("700MiB"), Ok(700 << 20));
        assert_eq!(parse("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse("123456"), Ok(123_456));
        assert_eq!(parse("1MiB + 512KiB"), Ok(1536 << 10));
        for bad in ["", "abc", "4GiB-", "-1", "1 parsec", "0"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
