//! Any bytes as a bundle file: the zip directory, entry names, the index and everything
//! the reader derives from them. Seed with `fuzz/seeds/`.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = common::scratch();
    if std::fs::write(&path, data).is_ok() {
        common::exercise(&path);
    }
});
