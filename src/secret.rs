//! `Secret<T>`: a value that prints as `****` in `Debug` and `Display`, so passwords and
//! tokens cannot reach a log line or an error message by accident.

use std::fmt;

/// A secret value; read it with [`Secret::expose`] at the one place that must send it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value itself, for the request that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn never_prints() {
        let s = super::Secret::new("hunter2".to_string());
        assert_eq!(format!("{s} {s:?}"), "**** ****");
    }
}

/// `text` with the user name and password of every URL in it removed
/// (`chart:https://u:pw@host/app` → `chart:https://host/app`): what may be recorded in a
/// bundle or printed of a request the user wrote with credentials in it.
pub fn without_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail.find(['/', '?', '#', ' ']).unwrap_or(tail.len());
        match tail[..authority_end].rfind('@') {
            Some(userinfo_end) => rest = &tail[userinfo_end + 1..],
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod userinfo_tests {
    #[test]
    fn credentials_in_urls_are_removed_and_nothing_else() {
        use super::without_userinfo as w;
        assert_eq!(
            w("chart:https://u:p@w@charts.example/app:1.0"),
            "chart:https://charts.example/app:1.0"
        );
        assert_eq!(
            w("https://u@get.example/f#sha256=00"),
            "https://get.example/f#sha256=00"
        );
        assert_eq!(w("nginx:1.27"), "nginx:1.27");
        assert_eq!(
            w("chart:https://charts.example/app as reg/x/y:1"),
            "chart:https://charts.example/app as reg/x/y:1"
        );
        assert_eq!(
            w("oci://u:p@reg.example/charts/app:1"),
            "oci://reg.example/charts/app:1"
        );
    }
}
