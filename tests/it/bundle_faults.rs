//! Damaged and hostile bundles: `verify` names a flipped byte and refuses a truncated
//! file; `unpack` refuses entries that try to escape and never pushes a bad blob.

use crate::support::images::{self, Flavour};
use crate::support::{Outrider, Registry, skopeo_raw, text};
use std::io::Write;

#[test]
fn verify_names_a_flipped_byte_and_a_truncation() {
    let source = Registry::plain();
    let img = images::image(
        vec![images::layer(21, 100_000, Flavour::Docker)],
        "amd64",
        Flavour::Docker,
        false,
    );
    images::push_image(&source.host, "x/y", "1", &img);
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let good = work.path().join("good.zip");
    o.ok(&[
        "pack",
        "-o",
        good.to_str().expect("utf8"),
        &format!("{}/x/y:1", source.host),
    ]);

    // Flip one byte in the middle of the layer's data.
    let layer = &img.layers[0];
    let mut bytes = std::fs::read(&good).expect("read");
    let at = bytes
        .windows(64)
        .position(|w| w == &layer.bytes[1000..1064])
        .expect("layer bytes in bundle")
        + 10;
    bytes[at] ^= 0x01;
    let flipped = work.path().join("flipped.zip");
    std::fs::write(&flipped, &bytes).expect("write");
    let out = o.run(&["verify", flipped.to_str().expect("utf8")]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&layer.digest)
            && err.contains("is damaged")
            && err.contains("CRC-32")
            && err.contains("outrider verify"),
        "{err}"
    );

    // The same damage stops the push of that image; its manifest never reaches the
    // registry. The bundle is blamed, not the registry, and the upload is not retried
    // (with the default retries).
    let dest = Registry::plain();
    let out = o.run(&[
        "unpack",
        flipped.to_str().expect("utf8"),
        "--push",
        &dest.host,
    ]);
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let all = format!("{stdout}{err}");
    assert!(
        all.contains(&layer.digest)
            && all.contains("flipped.zip")
            && all.contains("is damaged")
            && all.contains("outrider verify"),
        "{all}"
    );
    assert!(
        !all.contains("cannot reach") && !all.contains("retrying"),
        "{all}"
    );
    assert!(
        skopeo_raw(&dest.host, "x/y", "1", &[]).is_none(),
        "a manifest was pushed over a bad blob"
    );

    // Truncated: the central directory is gone.
    let truncated = work.path().join("truncated.zip");
    let good_bytes = std::fs::read(&good).expect("read");
    std::fs::write(&truncated, &good_bytes[..good_bytes.len() / 2]).expect("write");
    for cmd in ["verify", "inspect"] {
        let out = o.run(&[cmd, truncated.to_str().expect("utf8")]);
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("the copy stopped early") && err.contains("truncated.zip"),
            "{cmd}: {err}"
        );
    }
}

#[test]
fn hostile_entry_names_and_compressed_entries_are_refused() {
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    for (name, method) in [
        ("../../etc/evil", zip::CompressionMethod::Stored),
        ("blobs/sha256/../../x", zip::CompressionMethod::Stored),
    ] {
        let path = work.path().join("hostile.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
        w.start_file(
            name,
            zip::write::SimpleFileOptions::default().compression_method(method),
        )
        .expect("start");
        w.write_all(b"x").expect("write");
        w.start_file(
            "outrider.json",
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored),
        )
        .expect("start");
        w.write_all(br#"{"format":"outrider-bundle","formatVersion":1,"tool":"x","images":[],"manifests":[],"blobs":[]}"#).expect("write");
        w.finish().expect("finish");
        let out = o.run(&["inspect", path.to_str().expect("utf8")]);
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("unexpected entry"), "{err}");
    }
    // An index that lies about a blob's size is refused before anything is read.
    let path = work.path().join("liar.zip");
    let digest = crate::support::digest(b"abc");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file(format!("blobs/sha256/{}", &digest[7..]), stored)
        .expect("start");
    w.write_all(b"abc").expect("write");
    w.start_file("outrider.json", stored).expect("start");
    let index = serde_json::json!({"format":"outrider-bundle","formatVersion":1,"tool":"x","images":[],"manifests":[],
        "blobs":[{"digest":digest,"size":5,"mediaType":"a/b","repositories":["a"],"entry":format!("blobs/sha256/{}", &digest[7..])}]});
    w.write_all(index.to_string().as_bytes()).expect("write");
    w.finish().expect("finish");
    let out = o.run(&["verify", path.to_str().expect("utf8")]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("listed as 5 bytes"), "{err}");
}

#[test]
fn a_docker_charon_descriptor_nested_past_64_is_refused_unparsed() {
    use crate::support::rawzip::{self, Entry};
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let path = work.path().join("payload.zip");
    let mut deep = b"{\"x\":".to_vec();
    deep.extend(std::iter::repeat_n(b'[', 100_000));
    deep.extend(std::iter::repeat_n(b']', 100_000));
    deep.push(b'}');
    let zip = rawzip::write(&[Entry::new("payload_descriptor.json", deep)]);
    std::fs::write(&path, zip).expect("write");
    let out = o.run(&["verify", path.to_str().expect("utf8")]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("nest deeper than 64"), "{err}");
}
