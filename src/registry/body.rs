//! Every response body outrider keeps in memory from a registry or a token server is read
//! here, chunk by chunk, up to a limit: a peer that announces or sends more is refused as
//! soon as it does, so an endless reply costs the limit, never the machine's memory. Blobs
//! are the exception: they stream to disk and are checked against their descriptor's size.

use crate::oci::manifest::MAX_MANIFEST_BYTES;

/// A manifest or a referrers page: no registry stores a larger manifest.
pub const MANIFEST_LIMIT: u64 = MAX_MANIFEST_BYTES;
/// A token reply: a JWT of a few kilobytes in a small JSON object; 1 MiB leaves room for
/// the largest tokens registries issue and nothing more.
pub const TOKEN_LIMIT: u64 = 1024 * 1024;
/// One catalog or tag-list page: registries that ignore `?n=` send every name in one page,
/// and 16 MiB holds well over 100 000 tags.
pub const PAGE_LIMIT: u64 = 16 * 1024 * 1024;
/// How much of an error answer is read to quote its start (only 300 characters are shown).
pub const ERROR_LIMIT: u64 = 64 * 1024;

/// Why a body could not be read whole.
#[derive(Debug)]
pub enum BodyError {
    /// It was announced as, or grew to, more than the limit.
    TooLarge,
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

/// The whole body, or [`BodyError::TooLarge`] as soon as it is announced or has grown past
/// `limit` bytes; reading stops there, so at most `limit` bytes plus one chunk are held.
pub async fn read_bounded(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `limit` bytes of a body at most, for quoting an error answer: the rest is
/// never read, and a failure part-way keeps what arrived.
pub async fn read_prefix(mut response: reqwest::Response, limit: u64) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = (limit as usize).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() as u64 >= limit {
            break;
        }
    }
    body
}
