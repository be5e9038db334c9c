//! Shared by the targets: every reader path a command takes on an opened bundle.

use outrider::bundle::reader::BundleReader;
use std::path::PathBuf;

/// A file per process in memory-backed storage, rewritten for every input.
pub fn scratch() -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("outrider-fuzz-{}.zip", std::process::id()))
}

/// Opens the bundle and runs what `inspect` and `verify` run; a refusal is fine, a panic,
/// a hang or unbounded growth is a finding.
pub fn exercise(path: &std::path::Path) {
    let Ok(reader) = BundleReader::open(path) else {
        return;
    };
    for image in &reader.index.images {
        let _ = outrider::commands::inspect::image_bytes(&reader.index, &image.digest);
        let _ = outrider::copy::to_archive::needed(&reader.index, image);
    }
    let _ = outrider::commands::verify::faults(&reader);
}
