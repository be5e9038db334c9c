//! clap value parsers for quantities with units, on the grammars of [`crate::size`]: every
//! size option takes `8MiB`, `4GB`, `4GiB-1` or plain bytes, every duration option `90s`,
//! `5m` or plain seconds, and a bad value is a usage error naming the option and the forms
//! it takes (exit 2).

/// A size in bytes (`--chunk-size 8MiB`).
pub fn size(text: &str) -> Result<u64, String> {
    crate::size::parse(text)
}

/// A size kept as written, for options whose value the command parses again
/// (`--volume-size`): checked here so that a bad one is refused before any work.
pub fn size_as_written(text: &str) -> Result<String, String> {
    crate::size::parse(text).map(|_| text.to_owned())
}

/// The longest stall timeout: a day.
const DAY: u64 = 86_400;

/// A timeout in seconds, from one second to a day (`--timeout 90s`, `--timeout 5m`,
/// `--timeout 60`).
pub fn timeout_seconds(text: &str) -> Result<u64, String> {
    let seconds = crate::size::parse_seconds(text)?;
    if seconds > DAY {
        return Err(format!(
            "`{text}` is {seconds} seconds; give at most a day (86400, 24h)"
        ));
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_plain_numbers_agree() {
        assert_eq!(size("8MiB"), size("8388608"));
        assert_eq!(size("256MiB"), Ok(256 << 20));
        assert_eq!(size("1GiB"), Ok(1 << 30));
        assert_eq!(size_as_written("fat32").as_deref(), Ok("fat32"));
        assert!(size_as_written("4 parsecs").is_err());
        assert_eq!(timeout_seconds("60"), Ok(60));
        assert_eq!(timeout_seconds("90s"), Ok(90));
        assert_eq!(timeout_seconds("5m"), Ok(300));
        assert_eq!(timeout_seconds("24h"), Ok(DAY));
        assert!(
            timeout_seconds("86401")
                .unwrap_err()
                .contains("at most a day")
        );
        assert!(timeout_seconds("0").is_err());
    }
}
