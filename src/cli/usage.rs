//! The usage error (exit 2): what every layer that checks the user's input returns, from
//! the argument types here (a key `--trusted-key` names that cannot be read) to the
//! commands (a bad reference, an invalid config). It lives with the command line, below
//! `commands/`, so that argument types can return it without importing their callers.

/// A usage error (exit 2): bad flag values, a bad reference, an invalid config.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
