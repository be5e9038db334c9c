//! A registry that cannot store what it is sent: out of space, over a quota, or
//! read-only. Retrying cannot help any of these, and the raw answer (distribution's
//! `{"errors":[…"Err":28…]}` cut at 300 bytes) names no cause a person can act on, so the
//! answer is recognised here and said in one line.

/// Why a registry could not store what it was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageFailure {
    /// Its disk is full (HTTP 507, `ENOSPC`, "no space left on device").
    Full,
    /// The account or project is over its quota (Harbor, Artifactory, cloud registries).
    Quota,
    /// It accepts no writes (a read-only file system, distribution's read-only mode).
    ReadOnly,
}

impl StorageFailure {
    /// The cause as the one-line message says it.
    pub fn describe(self) -> &'static str {
        match self {
            StorageFailure::Full => "is out of space",
            StorageFailure::Quota => "is over its storage quota",
            StorageFailure::ReadOnly => "is read-only",
        }
    }

    /// What to do about it.
    pub fn hint(self) -> &'static str {
        match self {
            StorageFailure::Full => {
                "free space on the registry's storage, then run the same command again (what arrived is skipped)"
            }
            StorageFailure::Quota => {
                "raise the quota or delete old images there, then run the same command again (what arrived is skipped)"
            }
            StorageFailure::ReadOnly => {
                "push to a registry that accepts writes, or take it out of read-only mode"
            }
        }
    }

    /// Recognises the cause in a status and the start of an error body.
    pub fn recognise(status: u16, body: &str) -> Option<StorageFailure> {
        let lower = body.to_ascii_lowercase();
        let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
        if status == 507
            || compact.contains("\"err\":28")
            || lower.contains("no space left on device")
        {
            Some(StorageFailure::Full)
        } else if lower.contains("quota") || lower.contains("exceed the configured upper limit") {
            Some(StorageFailure::Quota)
        } else if compact.contains("\"err\":30")
            || lower.contains("read-only")
            || lower.contains("readonly")
            || lower.contains("read only")
        {
            Some(StorageFailure::ReadOnly)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_as_registries_word_them() {
        // distribution 2.8 on a full disk: a 500 with the syscall's errno.
        let full = r#"{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":{"Op":"write","Path":"/var/lib/docker-registry/docker/registry/v2/repositories/big/app/_uploads/x/data","Err":28}}]}"#;
        assert_eq!(
            StorageFailure::recognise(500, full),
            Some(StorageFailure::Full)
        );
        assert_eq!(
            StorageFailure::recognise(507, ""),
            Some(StorageFailure::Full)
        );
        let harbor = r#"{"errors":[{"code":"DENIED","message":"adding 1.2 MiB of storage resource, which when updated to current usage of 9.9 GiB will exceed the configured upper limit of 10.0 GiB."}]}"#;
        assert_eq!(
            StorageFailure::recognise(412, harbor),
            Some(StorageFailure::Quota)
        );
        let rofs = r#"{"errors":[{"code":"UNKNOWN","detail":{"Op":"open","Err":30}}]}"#;
        assert_eq!(
            StorageFailure::recognise(500, rofs),
            Some(StorageFailure::ReadOnly)
        );
        assert_eq!(StorageFailure::recognise(500, "internal error"), None);
        assert_eq!(StorageFailure::recognise(503, ""), None);
    }
}
