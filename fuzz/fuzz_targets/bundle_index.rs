//! Any bytes as `outrider.json` beside the good entries of `seeds/hello.zip`, so that the
//! fuzzer spends its time in index validation and the index-against-manifest checks
//! rather than in the zip directory.
#![no_main]

#[path = "common.rs"]
mod common;

use std::io::{Cursor, Read, Write};

const SEED: &[u8] = include_bytes!("../seeds/hello.zip");

fn blobs() -> &'static [(String, Vec<u8>)] {
    static BLOBS: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
    BLOBS.get_or_init(|| {
        let mut archive = zip::ZipArchive::new(Cursor::new(SEED)).expect("seed zip");
        let mut out = Vec::new();
        for i in 0..archive.len() {
            let mut f = archive.by_index(i).expect("entry");
            let name = f.name().expect("name").to_string();
            if name != "outrider.json" {
                let mut data = Vec::new();
                f.read_to_end(&mut data).expect("read");
                out.push((name, data));
            }
        }
        out
    })
}

libfuzzer_sys::fuzz_target!(|index: &[u8]| {
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in blobs() {
        writer.start_file(name.as_str(), stored).expect("start");
        writer.write_all(data).expect("write");
    }
    writer.start_file("outrider.json", stored).expect("start");
    writer.write_all(index).expect("write");
    let bytes = writer.finish().expect("finish").into_inner();
    let path = common::scratch();
    if std::fs::write(&path, bytes).is_ok() {
        common::exercise(&path);
    }
});
