//! How long work shows itself: indicatif bars (bytes, rate, ETA) on a terminal, plain
//! log lines otherwise, nothing with `-q`. The core calls [`Progress`]; it never prints.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::OnceLock;

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

/// Progress of one operation: an overall byte bar and one bar per active item.
pub struct Progress {
    mode: Mode,
    overall: Option<ProgressBar>,
    verb: &'static str,
}

/// Progress of one item (a blob).
pub struct ItemProgress {
    bar: Option<ProgressBar>,
    overall: Option<ProgressBar>,
    mode: Mode,
    verb: &'static str,
    label: String,
    size: u64,
}

fn bytes_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

impl Progress {
    /// Starts an operation of `total` bytes, e.g. `Progress::new(mode, "pack", n)`.
    pub fn new(mode: Mode, verb: &'static str, total: u64) -> Progress {
        let overall = (mode == Mode::Bars).then(|| {
            let bar = multi().add(ProgressBar::new(total));
            bar.set_style(bytes_style());
            bar.set_prefix(verb);
            bar
        });
        Progress {
            mode,
            overall,
            verb,
        }
    }

    /// Starts an item of `size` bytes named `label`.
    pub fn item(&self, label: &str, size: u64) -> ItemProgress {
        let bar = (self.mode == Mode::Bars).then(|| {
            let bar = multi().insert_from_back(1, ProgressBar::new(size));
            bar.set_style(bytes_style());
            bar.set_prefix(label.chars().take(12).collect::<String>());
            bar
        });
        ItemProgress {
            bar,
            overall: self.overall.clone(),
            mode: self.mode,
            verb: self.verb,
            label: label.to_owned(),
            size,
        }
    }

    /// Ends the operation and clears the bars.
    pub fn finish(&self) {
        if let Some(b) = &self.overall {
            b.finish_and_clear();
        }
    }
}

impl ItemProgress {
    /// Counts `n` more bytes.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
        if let Some(b) = &self.overall {
            b.inc(n);
        }
    }

    /// Takes back bytes counted for an attempt that is being retried.
    pub fn rewind(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_position(0);
        }
        if let Some(b) = &self.overall {
            b.set_position(b.position().saturating_sub(n));
        }
    }

    /// Marks the item done with a short outcome (`stored`, `exists`, `mounted`).
    pub fn done(&self, outcome: &str) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if self.mode == Mode::Lines {
            tracing::info!(op = self.verb, item = %self.label, bytes = self.size, outcome, "done");
        }
    }
}

impl Drop for ItemProgress {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
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
