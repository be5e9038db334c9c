//! `oci-archive:FILE[:REF]`: an OCI image layout in an uncompressed tar (skopeo,
//! `podman save --format oci-archive`), read in place as [`super::oci_layout`] reads a
//! directory: the tar's headers are scanned once, entries read by offset.

use super::local_files::LocalFiles;
use super::oci_layout::{Layout, OciLayout};
use super::source::{Source, SourceError};
use std::path::Path;
use std::sync::Arc;

/// The prefix users write: `oci-archive:FILE[:REF]`.
pub const PREFIX: &str = "oci-archive";

/// Opens `oci-archive:FILE`: a tar holding an `oci-layout` marker.
pub fn open(path: &Path) -> Result<Arc<dyn Source>, SourceError> {
    let layout = Layout::open(LocalFiles::open_tar(path)?, PREFIX)?;
    Ok(Arc::new(OciLayout(layout)))
}
