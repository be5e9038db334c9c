//! One log line per request, written when its response body has been sent (or dropped):
//! method, path, status, bytes actually sent, and milliseconds from request to the last
//! byte. Lines go through `tracing`, so they carry a timestamp and read as `key=value`
//! pairs, the same on a terminal and in a journal.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// The middleware: wraps the response body in a [`Counted`] body.
pub async fn log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_owned(), ToString::to_string);
    let response = next.run(request).await;
    let status = response.status().as_u16();
    response.map(|body| {
        Body::new(Counted {
            inner: body,
            line: Line {
                method: method.to_string(),
                path,
                status,
                bytes: 0,
                started,
                failed: None,
            },
        })
    })
}

struct Line {
    method: String,
    path: String,
    status: u16,
    bytes: u64,
    started: Instant,
    failed: Option<String>,
}

impl Drop for Line {
    fn drop(&mut self) {
        let ms = self.started.elapsed().as_millis();
        let path = crate::output::sanitize(&self.path);
        match &self.failed {
            None => tracing::info!(
                target: "outrider::serve",
                method = %self.method,
                path = %path,
                status = self.status,
                bytes = self.bytes,
                ms,
                "request"
            ),
            Some(e) => tracing::warn!(
                target: "outrider::serve",
                method = %self.method,
                path = %path,
                status = self.status,
                bytes = self.bytes,
                ms,
                error = %e,
                "request cut short"
            ),
        }
    }
}

/// A response body that counts what it hands on and logs the request when dropped.
struct Counted {
    inner: Body,
    line: Line,
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.line.bytes += data.len() as u64;
                }
            }
            Poll::Ready(Some(Err(e))) => self.line.failed = Some(e.to_string()),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
