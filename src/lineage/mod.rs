//! Lineage and no going back: what a bundle was built against (its `--since` parents),
//! its series and sequence, when it was made and when it expires (recorded in the index,
//! so the signature covers them), and the far side's refusal of a bundle older than one
//! it has applied, or past its date. Floor 1 (formats, peers, trust): it reads the bundle
//! index and is read by `plan`, `serve` and the commands.

mod clock;
mod error;
mod packer;
mod parents;
pub mod record;
mod state;

pub use clock::{format as format_time, now as now_secs, parse as parse_time};
pub use error::LineageError;
pub use packer::{COUNTER_FILE, PackLineage, PackRequest};
pub use parents::{identity, needs};
pub use record::{Lineage, PackedWith, Parent, ParentKind, Provenance};
pub use state::{Admit, Allow, STATE_FILE, admit, default_dir, superseded};
