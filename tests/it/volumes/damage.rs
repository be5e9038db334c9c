//! One bit flipped inside a part that volume 2 holds: `verify` of that volume alone finds
//! it and names the volume; `verify --set` names volume 2; `inspect` of a volume shows what
//! that file holds.

use super::{index_of, pack, seed};
use crate::support::{Outrider, text};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Flips one bit in the middle of `entry`'s stored bytes in `volume`, leaving its zip
/// headers (and their CRC-32) as they were: damage as a bad copy makes it.
fn flip_a_bit(volume: &Path, entry: &str) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(volume).expect("open")).expect("zip");
    let (start, size) = {
        let f = z.by_name(entry).expect("entry");
        (f.data_start().expect("data start"), f.size())
    };
    let at = start + size / 2;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(volume)
        .expect("open rw");
    let mut b = [0u8];
    file.seek(SeekFrom::Start(at)).expect("seek");
    file.read_exact(&mut b).expect("read");
    b[0] ^= 0x10;
    file.seek(SeekFrom::Start(at)).expect("seek");
    file.write_all(&b).expect("write");
}

/// `unzip -t` on `volume`: whether it passed, and what it said.
fn unzip_test(volume: &Path) -> (bool, String) {
    let t = std::process::Command::new("unzip")
        .arg("-t")
        .arg(volume)
        .output()
        .expect("unzip");
    (
        t.status.success(),
        String::from_utf8_lossy(&t.stdout).into_owned(),
    )
}

#[test]
fn a_flipped_bit_in_volume_2_is_found_by_volume_2_alone() {
    let (source, list) = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let vols = pack(&o, &source, &list, &w.path().join("d"));
    let total = vols.len();
    assert!(total >= 3, "{vols:?}");
    let index = index_of(&vols[1]);
    let big_layer = list[0].1.layers[0].digest.clone();
    let holdings = index["volume"]["holdings"].as_array().expect("holdings");
    let in_parts = |v: u64| {
        holdings
            .iter()
            .find(|h| {
                h["volume"] == v && h["part"].is_object() && h["digest"] == big_layer.as_str()
            })
            .cloned()
    };
    let part = in_parts(2).expect("volume 2 holds a part of the big layer");
    assert!(
        in_parts(1).is_some(),
        "the test needs a part in volume 1 too"
    );
    let entry = part["entry"].as_str().expect("entry");
    assert!(
        unzip_test(&vols[1]).0,
        "volume 2 was damaged before the test"
    );
    flip_a_bit(&vols[1], entry);
    let (unzip_ok, unzip_said) = unzip_test(&vols[1]);
    assert!(
        !unzip_ok && unzip_said.contains("bad CRC"),
        "unzip -t does not see the damage: {unzip_said}"
    );
    let path = |n: usize| vols[n - 1].to_str().expect("utf-8");

    // The damaged volume alone: the fault names volume 2, its file, the entry and the blob.
    let out = o.run(&["verify", path(2)]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let fault = err
        .lines()
        .find(|l| l.starts_with("fault:"))
        .unwrap_or_else(|| panic!("no fault named: {err}"));
    assert!(
        fault.contains(&format!("volume 2 (`{}`)", path(2)))
            && fault.contains(entry)
            && fault.contains(&big_layer)
            && fault.contains(&format!("outrider verify {}`", path(2))),
        "{fault}"
    );
    assert!(!err.contains("no faults"), "{err}");
    assert!(
        err.contains(&format!("volume 2 of {total}, checked alone")),
        "{err}"
    );

    // An intact volume alone passes, says it checked one volume of the set and its part,
    // and what it could not check.
    let out = o.run(&["verify", "--json", path(1)]);
    let (json, err) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("(volume 1 of {total}, checked alone)"))
            && err.contains("1 part of a split blob verified, no faults")
            && err.contains(&format!("blob {big_layer} whole: its digest needs all"))
            && err.contains(&format!("outrider verify --set {}", path(1))),
        "{err}"
    );
    let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(doc["partsChecked"], 1, "{doc}");
    assert_eq!(doc["volumes"]["checked"], serde_json::json!([1]), "{doc}");
    assert!(doc["checked"].as_u64() > Some(0), "{doc}");
    assert!(!doc["notChecked"].as_array().expect("notChecked").is_empty());

    // The whole set: the fault and its hint name volume 2, not the volume given.
    let out = o.run(&["verify", "--set", path(1)]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let faults: Vec<&str> = err.lines().filter(|l| l.starts_with("fault:")).collect();
    assert_eq!(faults.len(), 1, "{err}");
    assert!(
        faults[0].contains(&format!("volume 2 (`{}`)", path(2)))
            && faults[0].contains(&format!("run `outrider verify {}`", path(2)))
            && !faults[0].contains(path(1)),
        "{err}"
    );

    // inspect of volume 2: its place in the set and its own bytes beside the set's.
    let part_size = part["part"]["size"].as_u64().expect("part size");
    let out = o.ok(&["inspect", path(2)]);
    let (said, _) = text(&out);
    assert!(
        said.contains(&format!("volume 2 of {total} (`{}`) holds", path(2)))
            && said.contains(&format!(
                "part {} of {} of blob {big_layer}",
                part["part"]["number"], part["part"]["count"]
            ))
            && said.contains("the whole set: 3 images"),
        "{said}"
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&o.ok(&["inspect", "--json", path(2)]).stdout).expect("json");
    // This file's bytes: its parts, and its whole blobs and manifests at their listed size.
    let size_of = |d: &serde_json::Value| {
        ["blobs", "manifests"]
            .iter()
            .flat_map(|k| index[*k].as_array().expect("listed"))
            .find(|e| e["digest"] == *d)
            .and_then(|e| e["size"].as_u64())
            .expect("listed size")
    };
    let held: u64 = holdings
        .iter()
        .filter(|h| h["volume"] == 2)
        .map(|h| {
            h["part"]["size"]
                .as_u64()
                .unwrap_or_else(|| size_of(&h["digest"]))
        })
        .sum();
    assert!(held >= part_size);
    assert_eq!(doc["volume"]["number"], 2, "{doc}");
    assert_eq!(doc["volume"]["total"].as_u64(), Some(total as u64));
    assert_eq!(
        doc["volume"]["parts"][0]["blob"],
        big_layer.as_str(),
        "{doc}"
    );
    assert!(
        doc["volume"]["bytes"].as_u64() == Some(held)
            && doc["volume"]["bytes"].as_u64() < doc["storedBytes"].as_u64(),
        "{doc}"
    );
}
