//! The conformance corpus (`fixtures/conformance/`): small bundles, each with the verdict
//! every reader must reach (`verdicts.txt`), so a second implementation of
//! `bundle-format.md` can check itself against the same files outrider is checked
//! against here. Also keeps the spec's worked examples (Appendix A) true: the test reads
//! them out of `bundle-format.md` and recomputes them with outrider's own code.

use crate::support::rawzip::{self, Entry};
use crate::support::{Outrider, text};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn corpus() -> PathBuf {
    Path::new(ROOT).join("fixtures/conformance")
}

/// One line of `verdicts.txt`: file, `accept` or `refuse`, and the words a refusal must
/// contain (the rest of the line).
struct Verdict {
    file: String,
    accept: bool,
    says: String,
}

fn verdicts() -> Vec<Verdict> {
    let list = std::fs::read_to_string(corpus().join("verdicts.txt")).expect("verdicts.txt");
    list.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut f = l.splitn(3, ' ');
            let file = f.next().expect("file").to_owned();
            let accept = match f.next() {
                Some("accept") => true,
                Some("refuse") => false,
                other => panic!("{l}: verdict {other:?}"),
            };
            Verdict {
                file,
                accept,
                says: f.next().unwrap_or("").trim().to_owned(),
            }
        })
        .collect()
}

#[test]
fn every_corpus_bundle_gets_its_verdict_from_verify() {
    let o = Outrider::new();
    let all = verdicts();
    assert!(all.len() >= 10, "the corpus lists {} bundles", all.len());
    for v in &all {
        let path = corpus().join(&v.file);
        assert!(path.exists(), "{} is listed but missing", v.file);
        let out = o.run(&["verify", path.to_str().expect("utf8")]);
        let (shown, err) = text(&out);
        if v.accept {
            assert_eq!(out.status.code(), Some(0), "{}: {shown}{err}", v.file);
        } else {
            assert_eq!(out.status.code(), Some(1), "{}: {shown}{err}", v.file);
            assert!(
                format!("{shown}{err}").contains(&v.says),
                "{}: the refusal should say `{}`:\n{shown}{err}",
                v.file,
                v.says
            );
        }
    }
    // Every file in the corpus has a verdict: none is left unchecked.
    for f in std::fs::read_dir(corpus()).expect("corpus") {
        let name = f.expect("entry").file_name().into_string().expect("utf8");
        if name.ends_with(".zip") {
            assert!(all.iter().any(|v| v.file == name), "{name} has no verdict");
        }
    }
}

#[test]
fn appendix_refused_cases_are_the_corpus_files() {
    let spec = std::fs::read_to_string(Path::new(ROOT).join("bundle-format.md")).expect("spec");
    let section = &spec[spec.find("### A.3 ").expect("A.3")..];
    let mut rows = 0;
    for line in section
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains(".zip`"))
    {
        let cells: Vec<&str> = line
            .split('|')
            .map(|c| c.trim().trim_matches('`'))
            .collect();
        let (file, sha) = (cells[2], cells[4]);
        let bytes = std::fs::read(corpus().join(file)).expect("corpus file");
        assert_eq!(
            crate::support::digest(&bytes),
            format!("sha256:{sha}"),
            "{file}"
        );
        let verdict = verdicts()
            .into_iter()
            .find(|v| v.file == file)
            .expect("verdict");
        assert!(!verdict.accept, "{file} is a refused case");
        rows += 1;
    }
    assert!(rows >= 5, "A.3 lists {rows} cases");
}

/// The fenced blocks of the appendix section `heading` of `bundle-format.md`.
fn appendix_blocks(heading: &str) -> Vec<String> {
    let spec = std::fs::read_to_string(Path::new(ROOT).join("bundle-format.md")).expect("spec");
    let start = spec.find(heading).expect("appendix section");
    let rest = &spec[start + heading.len()..];
    let section = &rest[..rest.find("\n### ").unwrap_or(rest.len())];
    let mut blocks = Vec::new();
    let mut open: Option<String> = None;
    for line in section.lines() {
        match (&mut open, line.starts_with("```")) {
            (None, true) => open = Some(String::new()),
            (Some(b), true) => {
                blocks.push(std::mem::take(b));
                open = None;
            }
            (Some(b), false) => {
                b.push_str(line);
                b.push('\n');
            }
            (None, false) => {}
        }
    }
    blocks
}

#[test]
fn appendix_reduced_index_is_what_a_push_sends() {
    use outrider::bundle::index::ManifestEntry;
    use outrider::bundle::partial_index::arrival;
    use outrider::oci::RawManifest;
    let blocks = appendix_blocks("### A.2 A reduced index");
    let [original, reduced, digest] = &blocks[..] else {
        panic!("A.2 holds the original, the reduced bytes and the digest: {blocks:?}")
    };
    let top = RawManifest::new(bytes::Bytes::from(original.clone()), None).expect("index");
    let value: serde_json::Value = serde_json::from_str(original).expect("json");
    let children: Vec<&serde_json::Value> = value["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .filter(|m| m["platform"]["architecture"] != "s390x")
        .map(|m| &m["digest"])
        .collect();
    let entry: ManifestEntry = serde_json::from_value(serde_json::json!({
        "digest": top.digest.to_string(), "mediaType": top.media_type, "size": original.len(),
        "children": children, "complete": false,
    }))
    .expect("entry");
    let got = arrival(&entry, &top)
        .expect("arrival")
        .and_then(|a| a.reduced)
        .expect("a reduced index");
    assert_eq!(
        String::from_utf8_lossy(&got.bytes),
        reduced.trim_end_matches('\n'),
        "the appendix's reduced bytes (one line, no newline at the end)"
    );
    assert_eq!(
        got.digest.to_string(),
        digest.trim(),
        "the appendix's digest"
    );
}

#[test]
fn appendix_volume_set_is_what_pack_writes() {
    let blocks = appendix_blocks("### A.1 A volume set");
    let [layout_cmd, volume] = &blocks[..] else {
        panic!("A.1 holds the command and the volume block: {blocks:?}")
    };
    assert!(layout_cmd.contains("--volume-size 150000"), "{layout_cmd}");
    let work = tempfile::tempdir().expect("tmp");
    let set = make_split_set(work.path());
    let index = &rawzip::read(&set[0])
        .into_iter()
        .find(|e| e.name == "outrider.json")
        .expect("index")
        .data;
    let mut v: serde_json::Value = serde_json::from_slice(index).expect("json");
    v["volume"]["number"] = serde_json::json!(1);
    let want: serde_json::Value = serde_json::from_str(volume).expect("appendix json");
    assert_eq!(v["volume"], want["volume"], "the appendix's volume block");
    // `entry` names the whole blob even though only parts are stored: holdings say where.
    let split = &want["volume"]["holdings"][2]["digest"];
    let layer = v["blobs"]
        .as_array()
        .expect("blobs")
        .iter()
        .find(|b| &b["digest"] == split)
        .expect("the split layer is listed");
    let hex = &split.as_str().expect("digest")[7..];
    assert_eq!(layer["entry"], format!("blobs/sha256/{hex}"), "{layer}");
}

/// An OCI layout of one image whose 400 000-byte layer is larger than a 150 000-byte volume
/// can hold, packed into volumes of 150 000 bytes: the set of Appendix A.1.
fn make_split_set(dir: &Path) -> Vec<PathBuf> {
    let layout = dir.join("split-oci");
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("layout");
    let put = |bytes: &[u8]| {
        let d = crate::support::digest(bytes);
        std::fs::write(blobs.join(&d[7..]), bytes).expect("blob");
        d
    };
    let layer: Vec<u8> = (0..400_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let layer_digest = put(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
    );
    let config_digest = put(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":400000}}]}}"#,
        config.len()
    );
    let manifest_digest = put(manifest.as_bytes());
    std::fs::write(
        layout.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"1"}}}}]}}"#,
            manifest.len()
        ),
    )
    .expect("index.json");
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    let o = Outrider::new();
    let out = o
        .cmd()
        .current_dir(dir)
        .args([
            "pack",
            "oci:split-oci:1",
            "--volume-size",
            "150000",
            "--no-checksums",
            "-o",
            "split.zip",
        ])
        .output()
        .expect("pack");
    assert!(out.status.success(), "{}", text(&out).1);
    let mut set: Vec<PathBuf> = (1..)
        .map(|n| dir.join(format!("split.{n:03}.zip")))
        .take_while(|p| p.exists())
        .collect();
    set.sort();
    set
}

/// Writes the corpus (run once: `cargo test --test it conformance::make -- --ignored`,
/// then commit `fixtures/conformance/`). The files are bytes, not this code: another
/// implementation reads them without running anything of outrider's.
#[test]
#[ignore = "writes fixtures/conformance/; run by hand when the corpus changes"]
fn make_corpus() {
    let dir = corpus();
    std::fs::create_dir_all(&dir).expect("corpus dir");
    let work = tempfile::tempdir().expect("tmp");
    let good = work.path().join("good.zip");
    let o = Outrider::new();
    let out = o
        .cmd()
        .current_dir(ROOT)
        .args(["pack", "oci:fixtures/hello-oci:1.0", "--no-checksums", "-o"])
        .arg(&good)
        .output()
        .expect("pack");
    assert!(out.status.success(), "{}", text(&out).1);
    let entries = rawzip::read(&good);
    // The last blob before the index: the layer.
    let layer = |e: &[Entry]| {
        e.iter()
            .position(|x| x.name == "outrider.json")
            .expect("index")
            - 1
    };
    let with = |f: &dyn Fn(&mut Vec<Entry>)| {
        let mut e = entries.clone();
        f(&mut e);
        rawzip::write(&e)
    };
    let nested = |depth: usize| {
        with(&|e: &mut Vec<Entry>| {
            let i = e
                .iter()
                .position(|x| x.name == "outrider.json")
                .expect("index");
            // `{"x":` + depth-1 arrays: the top object is depth 1.
            let mut deep = b"{\"x\":".to_vec();
            deep.extend(std::iter::repeat_n(b'[', depth - 1));
            deep.extend(std::iter::repeat_n(b']', depth - 1));
            deep.push(b',');
            deep.extend(&e[i].data[1..]);
            e[i] = Entry::new("outrider.json", deep);
        })
    };
    let index_edit = |f: &dyn Fn(&mut serde_json::Value)| {
        with(&|e: &mut Vec<Entry>| {
            let i = e
                .iter()
                .position(|x| x.name == "outrider.json")
                .expect("index");
            let mut v: serde_json::Value = serde_json::from_slice(&e[i].data).expect("json");
            f(&mut v);
            e[i] = Entry::new("outrider.json", serde_json::to_vec(&v).expect("json"));
        })
    };
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "source-path-outside.zip",
            index_edit(&|v| {
                v["images"][0]["source"] = "oci:../../elsewhere/hello-oci".into();
            }),
        ),
        (
            "source-control-char.zip",
            index_edit(&|v| {
                v["images"][0]["source"] = "oci:hello\u{1b}[2J".into();
            }),
        ),
        (
            "format-version-4.zip",
            index_edit(&|v| v["formatVersion"] = 4.into()),
        ),
        ("good.zip", std::fs::read(&good).expect("good")),
        ("good-rewritten.zip", rawzip::write(&entries)),
        ("depth-64.zip", nested(64)),
        ("depth-65.zip", nested(65)),
        (
            "flag-encrypted.zip",
            with(&|e| {
                let i = layer(e);
                e[i].flags = 1;
            }),
        ),
        (
            "flag-bit-13.zip",
            with(&|e| {
                let i = layer(e);
                e[i].flags = 1 << 13;
            }),
        ),
        (
            "flag-bits-3-11.zip",
            with(&|e| {
                for x in e.iter_mut() {
                    x.flags = (1 << 3) | (1 << 11);
                }
            }),
        ),
        (
            "local-name-escapes.zip",
            with(&|e| {
                let i = layer(e);
                e[i].local_name = Some("../../etc/evil".into());
            }),
        ),
        (
            "nul-in-name.zip",
            with(&|e| {
                let i = layer(e);
                let name = format!("{}\0.txt", e[i].name);
                e.push(Entry::new(&name, b"x".to_vec()));
            }),
        ),
        ("eocd-count-hides-entry.zip", {
            let mut e = entries.clone();
            let shown = e.len() as u16;
            e.push(Entry::new("../../etc/evil", b"x".to_vec()));
            rawzip::with_entry_count(rawzip::write(&e), shown)
        }),
        (
            "local-entry-unlisted.zip",
            with(&|e| {
                let mut evil = Entry::new("../../etc/evil", b"x".to_vec());
                evil.unlisted = true;
                e.insert(0, evil);
            }),
        ),
        (
            "compressed-entry.zip",
            with(&|e| {
                let i = layer(e);
                e[i].method = 8;
            }),
        ),
        (
            "name-twice.zip",
            with(&|e| {
                let i = layer(e);
                let copy = e[i].clone();
                e.insert(i, copy);
            }),
        ),
        (
            "name-escapes.zip",
            with(&|e| e.push(Entry::new("../../etc/evil", b"x".to_vec()))),
        ),
        (
            "entry-not-listed.zip",
            with(&|e| {
                let d = crate::support::digest(b"stray");
                e.insert(
                    0,
                    Entry::new(&format!("blobs/sha256/{}", &d[7..]), b"stray".to_vec()),
                );
            }),
        ),
        (
            "index-crc-wrong.zip",
            with(&|e| {
                let i = e
                    .iter()
                    .position(|x| x.name == "outrider.json")
                    .expect("index");
                let crc = rawzip::crc32(&e[i].data);
                e[i].data[2] ^= 0x20;
                e[i].crc = Some(crc);
            }),
        ),
        (
            "layer-damaged.zip",
            with(&|e| {
                let i = layer(e);
                e[i].data[0] ^= 1;
                e[i].crc = None;
            }),
        ),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).expect("write");
    }
}
