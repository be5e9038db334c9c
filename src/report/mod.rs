//! The approver's view (`outrider report`): a model of everything that crosses, with its
//! provenance, verdicts and lineage (`model`, `facts`), and one renderer per format
//! (`markdown`, `html` with `svg` charts, `csv`, `json`). Floor 2: it reads bundles, trust
//! and lineage; only commands call it.

pub mod csv;
pub mod diff;
pub mod extract;
pub mod facts;
pub mod html;
pub mod json;
pub mod markdown;
pub mod model;
mod svg;

pub use facts::Verifier;
pub use model::{Report, build};
