//! Signed checkpoints (the C2SP `signed-note` form Rekor and other tiles logs publish): an
//! origin line, the tree size, the root hash, optional extension lines, a blank line, then
//! signature lines `— <name> <base64(key hint ‖ signature)>`. A checkpoint counts when a
//! line names the log, carries its key hint (the first 4 bytes of its log id) and verifies
//! with its key; witness cosignatures are ignored.

use super::public_key::Hash;
use super::trusted_root::{LogKey, b64};

/// A checkpoint whose log signature verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The tree size it commits to.
    pub size: u64,
    /// The root hash it commits to.
    pub root_hash: Vec<u8>,
}

/// Parses `text` and verifies the log's signature on it.
pub fn verify(text: &str, log: &LogKey) -> Result<Checkpoint, String> {
    let split = text
        .find("\n\n")
        .ok_or_else(|| "the checkpoint has no signature block".to_owned())?;
    let (body, signatures) = (&text[..=split], &text[split + 2..]);
    let mut lines = body.lines();
    let origin = lines.next().unwrap_or_default();
    let size = lines.next().and_then(|l| l.parse::<u64>().ok());
    let root_hash = lines.next().and_then(|l| b64(l).ok());
    let (Some(size), Some(root_hash)) = (size, root_hash) else {
        return Err("the checkpoint lacks its origin, size or root hash".into());
    };
    if origin.is_empty() || origin.parse::<u64>().is_ok() {
        return Err("the checkpoint has no origin line".into());
    }
    let name = log.origin();
    if origin.split(' ').next() != Some(name) {
        return Err(format!(
            "the checkpoint's origin `{}` is not log `{name}`",
            crate::output::sanitize(origin)
        ));
    }
    for line in signatures.lines() {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err("a checkpoint signature line is malformed".into());
        };
        let Some((signer, sig)) = rest.split_once(' ') else {
            return Err("a checkpoint signature line is malformed".into());
        };
        if signer != name {
            continue;
        }
        let Ok(sig) = b64(sig) else { continue };
        if sig.len() <= 4 || log.key_id.len() < 4 || sig[..4] != log.key_id[..4] {
            continue;
        }
        if log
            .key
            .verify(body.as_bytes(), &sig[4..], Hash::Sha256)
            .is_ok()
        {
            return Ok(Checkpoint { size, root_hash });
        }
    }
    Err(format!(
        "no valid signature of log `{name}` on the checkpoint"
    ))
}
