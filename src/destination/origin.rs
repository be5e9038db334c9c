//! An image's origin: the registry and repository of its name, whatever it was read from.

use crate::bundle::index::ImageEntry;

/// The registry and repository an image is named by.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// Registry host[:port] of the image's name (`docker.io`, `localhost`).
    pub registry: String,
    /// Repository path at that registry (`library/nginx`).
    pub repository: String,
}

impl Origin {
    /// The origin of `image`: the registry of its normalised reference, lowercase (host
    /// names are case-insensitive: `Reg.Example` and `reg.example` are one registry).
    pub fn of(image: &ImageEntry) -> Origin {
        Origin {
            registry: image.registry().to_ascii_lowercase(),
            repository: image.repository.clone(),
        }
    }
}
