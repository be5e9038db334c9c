//! How long work shows itself: indicatif bars (bytes, rate, ETA) on a terminal, plain
//! log lines otherwise, nothing with `-q`. The core calls [`Progress`]; it never prints.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

static MULTI: OnceLock<MultiProgress> = OnceLock::new();

/// How to show progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Bars on stderr.
    Bars,
    /// One log line per finished item.
    Lines,
    /// Nothing.
    Silent,
}

impl Mode {
    /// Bars when stderr is a terminal, lines otherwise, silent when quiet.
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Silent
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

/// The shared bar set, so log lines can be printed above the bars without tearing them.
pub fn multi() -> &'static MultiProgress {
    MULTI.get_or_init(MultiProgress::new)
}

/// Progress of one operation: an overall byte bar with `N/M` items, and one bar per
/// active item. Without a terminal, a heartbeat line per long transfer.
pub struct Progress {
    mode: Mode,
    overall: Option<ProgressBar>,
    verb: &'static str,
    shared: Arc<Shared>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

/// What the overall bar and the heartbeat read: items started and finished.
#[derive(Default)]
struct Shared {
    items: Mutex<Vec<Weak<ItemState>>>,
    finished: AtomicU64,
    expected: AtomicU64,
    bytes: AtomicU64,
    total: AtomicU64,
}

/// One transfer's counters, read by the heartbeat.
struct ItemState {
    label: String,
    size: u64,
    bytes: AtomicU64,
    started: Instant,
    finished: AtomicBool,
    /// Bytes moved by this run at the previous heartbeat, and when: the rate a line shows
    /// is over the last interval, not since the start, and never counts bytes a resume
    /// found already there.
    last: Mutex<(Instant, u64)>,
    /// Bytes that were already there (a resume): counted in the position, not the rate.
    skipped: AtomicU64,
}

/// Progress of one item (a blob, a target's upload).
pub struct ItemProgress {
    counter: ByteCounter,
    mode: Mode,
    verb: &'static str,
}

/// Counts bytes of one item as they move; cheap to clone into a request body stream, so
/// uploads count while they are sent, not when they are done.
#[derive(Clone)]
pub struct ByteCounter {
    bar: Option<ProgressBar>,
    overall: Option<ProgressBar>,
    state: Arc<ItemState>,
    shared: Arc<Shared>,
}

/// The overall bar: the verb, a bar taking what the line leaves, bytes, rate, ETA and the
/// `N/M` count. Fits 80 columns with room for the bar.
fn overall_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix:>6} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

/// An item's bar: its label cut to what the line leaves (a digest is long), then a short
/// bar, bytes, rate and ETA, so a line never wraps at 80 columns.
fn item_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "  {wide_msg} [{bar:12}] {bytes:>9}/{total_bytes:<9} {bytes_per_sec:>11} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("-> ")
}

/// Seconds between heartbeat lines: 10, or `OUTRIDER_HEARTBEAT_SECS` (for tests).
fn heartbeat_every() -> Duration {
    let secs = std::env::var("OUTRIDER_HEARTBEAT_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(10);
    Duration::from_secs(secs)
}

impl Progress {
    /// Starts an operation of `total` bytes, e.g. `Progress::new(mode, "pack", n)`.
    pub fn new(mode: Mode, verb: &'static str, total: u64) -> Progress {
        let overall = (mode == Mode::Bars).then(|| {
            let bar = multi().add(ProgressBar::new(total));
            bar.set_style(overall_style());
            bar.set_prefix(verb);
            bar
        });
        let shared = Arc::new(Shared::default());
        shared.total.store(total, Ordering::Relaxed);
        let heartbeat = (mode == Mode::Lines)
            .then(tokio::runtime::Handle::try_current)
            .and_then(Result::ok)
            .map(|rt| rt.spawn(heartbeat(shared.clone(), verb, heartbeat_every())));
        Progress {
            mode,
            overall,
            verb,
            shared,
            heartbeat,
        }
    }

    /// Says how many items the operation has, for the `N/M` count.
    pub fn expect_items(&self, n: u64) {
        self.shared.expected.store(n, Ordering::Relaxed);
        self.show_count();
    }

    fn show_count(&self) {
        if let Some(b) = &self.overall {
            b.set_message(count(&self.shared));
        }
    }

    /// Starts an item of `size` bytes named `label` (what it belongs to, then which).
    pub fn item(&self, label: &str, size: u64) -> ItemProgress {
        let bar = (self.mode == Mode::Bars).then(|| {
            let bar = multi().insert_from_back(1, ProgressBar::new(size));
            bar.set_style(item_style());
            bar.set_message(label.to_owned());
            bar
        });
        let state = Arc::new(ItemState {
            label: label.to_owned(),
            size,
            bytes: AtomicU64::new(0),
            started: Instant::now(),
            finished: AtomicBool::new(false),
            last: Mutex::new((Instant::now(), 0)),
            skipped: AtomicU64::new(0),
        });
        self.shared
            .items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&state));
        ItemProgress {
            counter: ByteCounter {
                bar,
                overall: self.overall.clone(),
                state,
                shared: self.shared.clone(),
            },
            mode: self.mode,
            verb: self.verb,
        }
    }

    /// Ends the operation and clears the bars.
    pub fn finish(&self) {
        if let Some(h) = &self.heartbeat {
            h.abort();
        }
        if let Some(b) = &self.overall {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(h) = &self.heartbeat {
            h.abort();
        }
    }
}

/// `N/M items` (or `N items` when the total is not known).
fn count(shared: &Shared) -> String {
    let done = shared.finished.load(Ordering::Relaxed);
    match shared.expected.load(Ordering::Relaxed) {
        0 => format!("{done} done"),
        m => format!("{done}/{m} blobs"),
    }
}

/// Without a terminal: every `every`, one line per transfer running longer than that
/// (bytes, total, rate), then the operation's totals. A stalled transfer shows as rate 0.
async fn heartbeat(shared: Arc<Shared>, verb: &'static str, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        // One pass: drop the finished items from the list, keep the live ones to report.
        let mut live: Vec<Arc<ItemState>> = Vec::new();
        shared
            .items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|w| match w.upgrade() {
                Some(s) if !s.finished.load(Ordering::Relaxed) => {
                    live.push(s);
                    true
                }
                _ => false,
            });
        for item in live.iter().filter(|i| i.started.elapsed() >= every) {
            let bytes = item.bytes.load(Ordering::Relaxed);
            let moved = bytes.saturating_sub(item.skipped.load(Ordering::Relaxed));
            // The rate over the last interval: a stall shows as 0 at once, and bytes a
            // resume found already there never count as speed.
            let rate = {
                let mut last = item.last.lock().unwrap_or_else(|e| e.into_inner());
                let secs = last.0.elapsed().as_secs_f64().max(0.001);
                let rate = (moved.saturating_sub(last.1) as f64 / secs) as u64;
                *last = (Instant::now(), moved);
                rate
            };
            tracing::info!(
                op = verb,
                item = %item.label,
                bytes,
                total = item.size,
                rate,
                "transferring"
            );
        }
        if !live.is_empty() {
            tracing::info!(
                op = verb,
                bytes = shared.bytes.load(Ordering::Relaxed),
                total = shared.total.load(Ordering::Relaxed),
                items = %count(&shared),
                "overall"
            );
        }
    }
}

impl ByteCounter {
    /// Counts `n` more bytes.
    pub fn inc(&self, n: u64) {
        self.state.bytes.fetch_add(n, Ordering::Relaxed);
        self.shared.bytes.fetch_add(n, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(n);
        }
        if let Some(b) = &self.overall {
            b.inc(n);
        }
    }

    /// Counts `n` bytes that were already there (a resume found them, the registry held
    /// them): they move the position, not the rate or the ETA.
    pub fn skip(&self, n: u64) {
        self.state.skipped.fetch_add(n, Ordering::Relaxed);
        self.inc(n);
        // indicatif's estimate would take the jump for speed: start it afresh.
        for b in self.bar.iter().chain(&self.overall) {
            b.reset_eta();
        }
    }

    /// Takes back what this item counted, for an attempt that is being retried.
    pub fn rewind(&self) {
        self.state.skipped.store(0, Ordering::Relaxed);
        *self.state.last.lock().unwrap_or_else(|e| e.into_inner()) = (Instant::now(), 0);
        let n = self.state.bytes.swap(0, Ordering::Relaxed);
        self.shared.bytes.fetch_sub(n, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.set_position(0);
        }
        if let Some(b) = &self.overall {
            b.set_position(b.position().saturating_sub(n));
        }
    }
}

impl ItemProgress {
    /// Counts `n` more bytes.
    pub fn inc(&self, n: u64) {
        self.counter.inc(n);
    }

    /// Counts `n` bytes that were already there (see [`ByteCounter::skip`]).
    pub fn skip(&self, n: u64) {
        self.counter.skip(n);
    }

    /// Counts the rest of the item's bytes at once (it was already there, or mounted).
    pub fn complete(&self) {
        let seen = self.counter.state.bytes.load(Ordering::Relaxed);
        self.counter
            .skip(self.counter.state.size.saturating_sub(seen));
    }

    /// A counter to move into a request body, counting bytes as they are sent.
    pub fn counter(&self) -> ByteCounter {
        self.counter.clone()
    }

    /// Takes back bytes counted for an attempt that is being retried.
    pub fn rewind(&self) {
        self.counter.rewind();
    }

    /// Marks the item done with a short outcome (`stored`, `exists`, `mounted`).
    pub fn done(&self, outcome: &str) {
        let c = &self.counter;
        c.state.finished.store(true, Ordering::Relaxed);
        c.shared.finished.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = &c.bar {
            b.finish_and_clear();
        }
        if let Some(b) = &c.overall {
            b.set_message(count(&c.shared));
        }
        if self.mode == Mode::Lines {
            tracing::info!(op = self.verb, item = %c.state.label, bytes = c.state.size, outcome, "done");
        }
    }
}

impl Drop for ItemProgress {
    fn drop(&mut self) {
        self.counter.state.finished.store(true, Ordering::Relaxed);
        if let Some(b) = &self.counter.bar {
            b.finish_and_clear();
        }
    }
}

/// A `tracing` writer that prints above active bars instead of through them.
#[derive(Clone, Copy, Default)]
pub struct LogWriter;

impl std::io::Write for LogWriter {
    #[allow(clippy::print_stderr)]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        multi().suspend(|| eprint!("{text}"));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}
