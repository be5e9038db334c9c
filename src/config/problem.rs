//! One problem found in a config file, with its field path and place: what every check
//! of `validate` yields, and what `outrider validate` prints as `FILE:LINE:COLUMN`.

/// One problem in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Field path, e.g. `targets[1].port`.
    pub path: String,
    /// 1-based line and column of the field, when found.
    pub line: usize,
    /// Column.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}
