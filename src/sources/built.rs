//! An artifact outrider builds itself rather than reads whole from a source: a chart
//! package wrapped as Helm's OCI artifact ([`super::chart`]), a plain file wrapped as ORAS
//! writes one ([`super::file`]). Its manifest is made when the source is opened; its
//! blobs are bytes in memory (configs, chart packages), a local file, or a URL read
//! with a range from where a broken transfer stopped. It answers the [`Source`]
//! questions like any other source, so plan, copy, resume and signing treat it as
//! an artifact.

use super::source::{BlobStream, Held, Known, Resolved, Source, SourceError};
use super::web::Web;
use crate::oci::{Descriptor, Digest, ImageRef, RawManifest};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{StreamExt, TryStreamExt};
use std::path::PathBuf;

/// Where one blob's bytes are.
pub enum BlobAt {
    /// Held in memory.
    Memory(Bytes),
    /// A local file, read from an offset.
    File(PathBuf),
    /// A URL, read with a `Range` from an offset.
    Url(url::Url),
}

/// A built artifact as a source.
pub struct Built {
    /// `chart:https://…`, `file:PATH`: what the index records as the source.
    pub describe: String,
    /// The name it carries (before `as`).
    pub name: ImageRef,
    /// Its manifest.
    pub top: RawManifest,
    /// Its blobs.
    pub blobs: Vec<(Digest, BlobAt)>,
    /// The origin's client, for [`BlobAt::Url`].
    pub web: Option<Web>,
    /// What the user should hear (the version a range chose).
    pub notes: Vec<String>,
}

/// Reads `path` from `offset` as a stream.
async fn file_stream(path: PathBuf, offset: u64) -> Result<BlobStream, SourceError> {
    use tokio::io::AsyncSeekExt;
    let at = path.clone();
    let local = move |source: std::io::Error| {
        SourceError::Local(super::local_error::LocalError::Io {
            path: path.clone(),
            source,
        })
    };
    let mut file = tokio::fs::File::open(&at).await.map_err(local.clone())?;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(local.clone())?;
    let stream = futures_util::stream::try_unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut chunk = vec![0u8; 256 << 10];
        let n = file.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        chunk.truncate(n);
        Ok(Some((Bytes::from(chunk), file)))
    });
    Ok(stream.map_err(local).boxed())
}

impl Source for Built {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn list(&self) -> Result<Vec<Held>, SourceError> {
        Ok(vec![Held {
            names: vec![self.name.to_string()],
            id: self.top.digest.clone(),
        }])
    }

    fn resolve<'a>(
        &'a self,
        _reference: Option<&'a str>,
        _known: &'a Known,
    ) -> BoxFuture<'a, Result<Resolved, SourceError>> {
        Box::pin(async move {
            Ok(Resolved {
                name: self.name.clone(),
                top: self.top.clone(),
                pinned: false,
                notes: self.notes.clone(),
            })
        })
    }

    fn manifest<'a>(
        &'a self,
        _repo: &'a str,
        desc: &'a Descriptor,
    ) -> BoxFuture<'a, Result<RawManifest, SourceError>> {
        Box::pin(async move {
            if desc.digest == self.top.digest {
                return Ok(self.top.clone());
            }
            Err(SourceError::Fetch {
                url: self.describe.clone(),
                reason: format!("it holds no manifest {}", desc.digest),
                transient: false,
            })
        })
    }

    fn blob<'a>(
        &'a self,
        _repo: &'a str,
        desc: &'a Descriptor,
        offset: u64,
    ) -> BoxFuture<'a, Result<(BlobStream, u64), SourceError>> {
        Box::pin(async move {
            let Some((_, at)) = self.blobs.iter().find(|(d, _)| *d == desc.digest) else {
                return Err(SourceError::Fetch {
                    url: self.describe.clone(),
                    reason: format!("it holds no blob {}", desc.digest),
                    transient: false,
                });
            };
            match at {
                BlobAt::Memory(bytes) => {
                    let start = (offset as usize).min(bytes.len());
                    let rest = bytes.slice(start..);
                    Ok((
                        futures_util::stream::once(async move { Ok(rest) }).boxed(),
                        start as u64,
                    ))
                }
                BlobAt::File(path) => Ok((file_stream(path.clone(), offset).await?, offset)),
                BlobAt::Url(url) => match &self.web {
                    Some(web) => web.stream(url, offset).await,
                    None => Err(SourceError::Fetch {
                        url: super::web::shown(url),
                        reason: "no client for it".into(),
                        transient: false,
                    }),
                },
            }
        })
    }
}
