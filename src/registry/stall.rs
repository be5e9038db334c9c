//! Stall detection for uploads. A download is watched by the HTTP client's read timeout,
//! which restarts on every byte received. An upload receives nothing until the registry
//! answers, so that timeout would cut any upload longer than `--timeout` while its bytes
//! still flow. Uploads are sent by a client without it, and watched here instead: the body
//! stream marks each piece it hands to the connection, and the request fails only when
//! nothing moved for the whole timeout — no byte sent, and after the last one, no answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
// Tokio's clock, so a test can run minutes of silence in no time.
use tokio::time::Instant;

/// When an upload last moved, shared between its body stream and the request waiting on it.
#[derive(Clone, Debug)]
pub struct StallWatch {
    start: Instant,
    /// Milliseconds after `start` of the last piece sent.
    last: Arc<AtomicU64>,
}

impl Default for StallWatch {
    fn default() -> Self {
        StallWatch::new()
    }
}

/// Nothing moved for the timeout: no byte sent, or no answer after the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stalled {
    /// Seconds without progress.
    pub secs: u64,
}

impl StallWatch {
    /// A watch whose clock starts now (the request counts as moving when it starts).
    pub fn new() -> StallWatch {
        StallWatch {
            start: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Marks progress: a piece of the body was handed to the connection.
    pub fn touch(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last.fetch_max(now, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    /// Runs `request` (marked as moving now) until it finishes, or fails it once nothing
    /// moved for `timeout`. A request that keeps moving is never cut, however long.
    pub async fn guard<F: std::future::Future>(
        &self,
        request: F,
        timeout: Duration,
    ) -> Result<F::Output, Stalled> {
        self.touch();
        tokio::pin!(request);
        loop {
            let wait = timeout.saturating_sub(self.idle());
            tokio::select! {
                out = &mut request => return Ok(out),
                () = tokio::time::sleep(wait) => {
                    if self.idle() >= timeout {
                        return Err(Stalled { secs: timeout.as_secs() });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn moving_requests_run_on_and_silent_ones_stop() {
        let timeout = Duration::from_secs(10);
        // Moves every 5 s for 60 s: six times the timeout, never cut.
        let watch = StallWatch::new();
        let w = watch.clone();
        let moving = async move {
            for _ in 0..12 {
                tokio::time::sleep(Duration::from_secs(5)).await;
                w.touch();
            }
            "done"
        };
        assert_eq!(watch.guard(moving, timeout).await, Ok("done"));
        // Moves for 20 s, then nothing: stopped 10 s after its last piece.
        let watch = StallWatch::new();
        let w = watch.clone();
        let started = tokio::time::Instant::now();
        let stalls = async move {
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_secs(5)).await;
                w.touch();
            }
            std::future::pending::<()>().await;
        };
        assert_eq!(
            watch.guard(stalls, timeout).await,
            Err(Stalled { secs: 10 })
        );
        assert_eq!(started.elapsed().as_secs(), 30);
    }
}
