//! The options that add what a site installs besides images: images found in the charts
//! carried (`--with-images`, with Helm's `--set` and `--values` overrides) and in
//! Kubernetes manifests (`--images-from-manifests`), and files by URL without a pin
//! (`--allow-unpinned`). Shared by `pack`, `plan` and `images`.

use super::heading::INPUT;
use clap::Args;
use std::path::PathBuf;

/// Images found in charts and manifests; files by URL (`pack`, `plan`).
#[derive(Args, Debug, Clone, Default)]
pub struct FoundArgs {
    /// Also carry the images the charts named here use (their `artifacthub.io/images`
    /// annotation and `values.yaml`; nothing is rendered: see `outrider images`).
    #[arg(long, help_heading = INPUT)]
    pub with_images: bool,
    /// Where images are found besides charts, and the charts' values overrides.
    #[command(flatten)]
    pub search: SearchArgs,
    /// Carry files given by URL without a `#sha256=HEX` pin (their digest is learned by
    /// reading them once).
    #[arg(long, help_heading = INPUT)]
    pub allow_unpinned: bool,
}

/// Kubernetes manifests to search, and values overrides for the charts (`pack`, `plan`,
/// `images`).
#[derive(Args, Debug, Clone, Default)]
pub struct SearchArgs {
    /// The images of every container in these Kubernetes manifests, found (and carried,
    /// with `pack`)
    /// (multi-document YAML, `-` for stdin: `helm template … | outrider pack
    /// --images-from-manifests -`); repeatable.
    #[arg(long, value_name = "FILE|-", help_heading = INPUT)]
    pub images_from_manifests: Vec<PathBuf>,
    /// A values override for the charts' images, as Helm's `--set` (`image.tag=1.2`);
    /// repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", help_heading = INPUT)]
    pub set: Vec<String>,
    /// A values file merged over the charts' `values.yaml`, as Helm's `-f`; repeatable.
    #[arg(long = "values", value_name = "FILE", help_heading = INPUT)]
    pub values: Vec<PathBuf>,
}
