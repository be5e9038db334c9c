//! From what the user asked for to what a bundle must hold: resolve each reference to a
//! manifest through its source, choose platforms in indexes, and collect every manifest
//! and blob once, children before parents. Only manifests (and small configs, for
//! platforms) are read.
//!
//! Files, lowest first: `options`, `error` and `planned` (the types every step
//! shares), `platforms`, `referrers`, `locate`, `image` (one image), `merge`
//! (images joined in request order), `gather` (every request).

mod error;
mod gather;
mod image;
mod locate;
mod merge;
mod options;
mod planned;
mod platforms;
mod referrers;

pub use error::PlanError;
pub use gather::plan;
pub use options::{PlanOptions, PlatformChoice, ReferrerChoice};
pub use planned::{Plan, PlannedBlob};
