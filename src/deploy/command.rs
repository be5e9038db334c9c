//! The one place that quotes for a remote POSIX shell.

/// Single-quotes `s` for `sh`: `it's` becomes `'it'\''s'`.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes() {
        assert_eq!(super::quote("a b"), "'a b'");
        assert_eq!(super::quote("it's"), r"'it'\''s'");
        assert_eq!(super::quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }
}
