//! The headings `--help` (and each man page's sections) group options under: one name per
//! kind of option, the same in every command, so a reader scans a few headings instead of
//! one long list (as cargo and uv do). Options under no heading are the command's own
//! switches (`--dry-run`, `--json`, `--jobs`), listed first under "Options".

/// What a command reads: config and image lists, earlier bundles, a registry read from.
pub const INPUT: &str = "Input";
/// Which images or platforms, and what the far side already has.
pub const SELECTION: &str = "Selection";
/// What a command writes: the bundle, its volumes and layout, a receipt.
pub const OUTPUT: &str = "Output";
/// `unpack --push`: the registry pushed to, and how.
pub const TO_REGISTRY: &str = "Output to a registry";
/// `unpack --docker-save`: docker-save tars.
pub const TO_TARS: &str = "Output to tars";
/// `unpack --files`: plain files written back into a folder.
pub const TO_FILES: &str = "Output to files";
/// `unpack --k3s`: k3s's airgap images directory.
pub const TO_K3S: &str = "Output to k3s";
/// `unpack --docker`: the local Docker engine.
pub const TO_DOCKER: &str = "Output to the Docker engine";
/// `unpack -c`: the config's targets over SSH.
pub const TO_TARGETS: &str = "Output to SSH targets";
/// `serve`: where it listens and with which certificate.
pub const LISTEN: &str = "Listening";
/// `serve`: the repository names clients pull.
pub const NAMES: &str = "Names served";
/// `serve`: the client configuration files it writes.
pub const CLIENTS: &str = "Client configuration";
/// Signing, and the keys a bundle or image must be signed by.
pub const TRUST: &str = "Trust";
/// Reaching registries: plain HTTP, TLS, mirrors, retries, stall timeout.
pub const CONNECTION: &str = "Registry connection";
/// Credentials for registries.
pub const AUTH: &str = "Registry authentication";
/// Progress and output, the same for every command: `-v`, `-q`.
pub const GLOBAL: &str = "Global options";
/// No heading: the command's own switches and its positional arguments, which clap lists
/// under "Arguments" and "Options" (with `--help`) before every heading. Given explicitly
/// because a flattened group's heading would otherwise carry on to the options after it.
pub const OPTIONS: Option<&str> = None;
