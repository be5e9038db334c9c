//! Arguments that decide which signatures the far side requires.

use super::usage::UsageError;
use crate::trust::TrustedKeys;
use clap::Args;
use std::path::PathBuf;

/// Keys a bundle must be signed by (`pack --sign`).
#[derive(Args, Debug, Clone, Default)]
pub struct TrustArgs {
    /// Accept the bundle only if it is signed by this public key (PEM: `cosign.pub`, or
    /// `openssl pkey -pubout`); repeatable. An unsigned bundle, a changed index or another
    /// key's signature is refused before anything in it is read.
    #[arg(long = "trusted-key", value_name = "PUB.pem")]
    pub trusted_keys: Vec<PathBuf>,
    /// Also trust every `*.pub` and `*.pem` public key in this directory.
    #[arg(
        long = "trusted-keys-dir",
        env = "OUTRIDER_TRUSTED_KEYS",
        value_name = "DIR"
    )]
    pub trusted_keys_dir: Option<PathBuf>,
}

impl TrustArgs {
    /// The keys named; none means signatures are shown but not required. A key that
    /// cannot be read is a usage error (exit 2).
    pub fn load(&self) -> Result<TrustedKeys, UsageError> {
        TrustedKeys::load(&self.trusted_keys, self.trusted_keys_dir.as_deref())
            .map_err(|e| UsageError(format!("{e:#}")))
    }
}

/// Public keys every image's cosign signature must verify with.
#[derive(Args, Debug, Clone, Default)]
pub struct CosignArgs {
    /// Require each image to carry a cosign signature (simple signing or sigstore bundle)
    /// made by this public key over its manifest digest; repeatable (any one key is
    /// enough). Checked offline, from the bundle.
    #[arg(long = "cosign-key", value_name = "PUB.pem")]
    pub cosign_keys: Vec<PathBuf>,
}

impl CosignArgs {
    /// The keys named, or `None` when images need no signature. A key that cannot be
    /// read is a usage error (exit 2).
    pub fn load(&self) -> Result<Option<TrustedKeys>, UsageError> {
        if self.cosign_keys.is_empty() {
            return Ok(None);
        }
        TrustedKeys::load(&self.cosign_keys, None)
            .map(Some)
            .map_err(|e| UsageError(format!("{e:#}")))
    }
}
