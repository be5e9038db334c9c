//! Pure vocabulary of the OCI and Docker image formats: references, digests, media types,
//! manifests and platforms. Nothing here performs I/O; every location builds on it.

pub mod artifact;
pub mod digest;
pub mod manifest;
pub mod media_type;
pub mod platform;
pub mod reference;

pub use digest::{Damaged, Descriptor, Digest, DigestError, Verifier};
pub use manifest::{ManifestError, ParsedManifest, RawManifest};
pub use platform::Platform;
pub use reference::{ImageRef, ReferenceError};
