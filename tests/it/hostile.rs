//! A bundle is untrusted input. Each row of the table below is a hostile bundle made from a
//! good one the way an attacker (or a damaged USB stick) would make it; every command is
//! run on it and must refuse it with a clear message and a non-zero exit, write no tar,
//! and push nothing, and nothing may ever land in the destination registry outside the
//! prefix given. One source and one destination registry serve the whole table.

use crate::support::images::{self, Flavour};
use crate::support::rawzip::{self, Entry};
use crate::support::{Outrider, Registry, skopeo_raw, text};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The good bundles every row starts from, and the digests rows aim at.
struct Good {
    single: Vec<Entry>,
    volumes: Vec<Vec<Entry>>,
    /// `x/y:1`: Docker media types, amd64, two layers.
    xy: images::Image,
    /// `m/z:1`: an OCI index of amd64 and arm64.
    mz_index: String,
    mz_children: Vec<images::Image>,
}

/// How a row must be refused.
#[derive(Clone, Copy)]
enum Refused {
    /// When the bundle is opened: by every command, `inspect` included.
    AtOpen,
    /// When an image is acted on (`verify`, `unpack`): `inspect` only shows the index. The
    /// repository named is the image that must not arrive.
    Image(&'static str),
}

struct Case {
    name: &'static str,
    /// One zip, or every volume of a set.
    files: Vec<Vec<u8>>,
    /// Words the refusal must contain.
    says: &'static str,
    refused: Refused,
}

fn index_of(entries: &[Entry]) -> Value {
    let e = entries
        .iter()
        .find(|e| e.name == "outrider.json")
        .expect("index entry");
    serde_json::from_slice(&e.data).expect("index json")
}

/// `entries` with the index replaced by `index` (its CRC right).
fn with_index(entries: &[Entry], index: &Value) -> Vec<Entry> {
    entries
        .iter()
        .map(|e| {
            if e.name == "outrider.json" {
                Entry::new(&e.name, serde_json::to_vec_pretty(index).expect("json"))
            } else {
                e.clone()
            }
        })
        .collect()
}

fn entry_name(digest: &str) -> String {
    format!("blobs/sha256/{}", &digest[7..])
}

/// The manifest entry of `digest` in an index.
fn manifest<'a>(index: &'a mut Value, digest: &str) -> &'a mut Value {
    index["manifests"]
        .as_array_mut()
        .expect("manifests")
        .iter_mut()
        .find(|m| m["digest"] == digest)
        .expect("manifest listed")
}

fn blob<'a>(index: &'a mut Value, digest: &str) -> &'a mut Value {
    index["blobs"]
        .as_array_mut()
        .expect("blobs")
        .iter_mut()
        .find(|m| m["digest"] == digest)
        .expect("blob listed")
}

impl Good {
    /// A single-file row whose index is changed by `f`.
    fn index(&self, f: impl FnOnce(&mut Value)) -> Vec<Vec<u8>> {
        let mut index = index_of(&self.single);
        f(&mut index);
        vec![rawzip::write(&with_index(&self.single, &index))]
    }

    /// A single-file row whose entries are changed by `f`.
    fn entries(&self, f: impl FnOnce(&mut Vec<Entry>)) -> Vec<Vec<u8>> {
        let mut entries = self.single.clone();
        f(&mut entries);
        vec![rawzip::write(&entries)]
    }

    /// A volume-set row: `f` changes every volume's index alike.
    fn volume_indexes(&self, f: impl Fn(&mut Value)) -> Vec<Vec<u8>> {
        self.volumes
            .iter()
            .map(|v| {
                let mut index = index_of(v);
                f(&mut index);
                rawzip::write(&with_index(v, &index))
            })
            .collect()
    }
}

fn cases(g: &Good) -> Vec<Case> {
    let xy = g.xy.manifest.digest.clone();
    let config = g.xy.config.digest.clone();
    let layer = g.xy.layers[0].digest.clone();
    let layer2 = g.xy.layers[1].digest.clone();
    let mz = g.mz_index.clone();
    let amd = g.mz_children[0].manifest.digest.clone();
    let arm = g.mz_children[1].manifest.digest.clone();
    let big = "0".repeat(64);
    let fake = |n: usize| format!("sha256:{n:064x}");
    let external_index = |digest: String, children: Vec<String>| {
        json!({"digest": digest, "mediaType": "application/vnd.oci.image.index.v1+json",
               "size": 100, "children": children, "complete": true})
    };
    use Refused::{AtOpen, Image};
    let mut rows = vec![
        // Entry names, duplicates and integrity of the zip itself.
        Case { name: "entry escaping upwards", says: "unexpected entry", refused: AtOpen,
            files: g.entries(|e| e.push(Entry::new("../../etc/evil", b"x".to_vec()))) },
        Case { name: "entry with dot segments under blobs", says: "unexpected entry", refused: AtOpen,
            files: g.entries(|e| e.push(Entry::new("blobs/sha256/../../x", b"x".to_vec()))) },
        Case { name: "compressed entry", says: "stored uncompressed", refused: AtOpen,
            files: g.entries(|e| e.iter_mut().find(|e| e.name == entry_name(&layer)).expect("layer").method = 8) },
        Case { name: "a second outrider.json", says: "twice", refused: AtOpen,
            files: g.entries(|e| {
                let mut index = index_of(e);
                index["images"][0]["tag"] = json!("evil");
                e.push(Entry::new("outrider.json", serde_json::to_vec(&index).expect("json")));
            }) },
        // Zip structure two readers could read two ways (rule 1, "one zip, one reading").
        Case { name: "entry marked encrypted (flag bit 0)", says: "encrypted", refused: AtOpen,
            files: g.entries(|e| e.iter_mut().find(|e| e.name == entry_name(&layer)).expect("layer").flags = 1) },
        Case { name: "entry with an unused flag (bit 13)", says: "general-purpose flag", refused: AtOpen,
            files: g.entries(|e| e.iter_mut().find(|e| e.name == entry_name(&layer)).expect("layer").flags = 1 << 13) },
        Case { name: "local header naming ../", says: "local header names another entry", refused: AtOpen,
            files: g.entries(|e| e.iter_mut().find(|e| e.name == entry_name(&layer)).expect("layer").local_name = Some(format!("../../{}", &layer[7..]))) },
        Case { name: "Unicode Path extra field renaming an entry to ../", says: "another name (Unicode Path)", refused: AtOpen,
            files: g.entries(|e| {
                let layer_entry = e.iter_mut().find(|e| e.name == entry_name(&layer)).expect("layer");
                // Info-ZIP's 0x7075: version 1, CRC-32 of the name field, then the name the
                // zip crate and unzip would use instead.
                let evil = b"../../etc/evil";
                let mut field = 0x7075u16.to_le_bytes().to_vec();
                field.extend(((5 + evil.len()) as u16).to_le_bytes());
                field.push(1);
                field.extend(rawzip::crc32(layer_entry.name.as_bytes()).to_le_bytes());
                field.extend(evil);
                layer_entry.extra = field;
            }) },
        Case { name: "NUL in an entry name", says: "NUL", refused: AtOpen,
            files: g.entries(|e| e.push(Entry::new(&format!("{}\0.txt", entry_name(&layer)), b"x".to_vec()))) },
        Case { name: "end record count hiding an entry", says: "end record counts", refused: AtOpen,
            files: {
                let mut entries = g.single.clone();
                let shown = entries.len() as u16;
                entries.push(Entry::new("../../etc/evil", b"x".to_vec()));
                vec![rawzip::with_entry_count(rawzip::write(&entries), shown)]
            } },
        Case { name: "local entry the directory does not list", says: "where the previous entry ends", refused: AtOpen,
            files: g.entries(|e| {
                let mut evil = Entry::new("../../etc/evil", b"x".to_vec());
                evil.unlisted = true;
                e.insert(0, evil);
            }) },
        Case { name: "index nested 200 000 deep in an unknown field", says: "deeper than 64", refused: AtOpen,
            files: g.entries(|e| {
                let index = e.iter_mut().find(|e| e.name == "outrider.json").expect("index");
                let mut deep = b"{\"x\":".to_vec();
                deep.extend(std::iter::repeat_n(b'[', 200_000));
                deep.extend(std::iter::repeat_n(b']', 200_000));
                deep.push(b',');
                deep.extend(&index.data[1..]);
                *index = Entry::new("outrider.json", deep);
            }) },
        Case { name: "a corrupt and a good copy of one blob", says: "twice", refused: AtOpen,
            files: g.entries(|e| {
                let i = e.iter().position(|e| e.name == entry_name(&layer)).expect("layer");
                let mut bad = e[i].clone();
                bad.data[10] ^= 1;
                e.insert(i, bad);
            }) },
        Case { name: "an entry the index does not list", says: "does not list it", refused: AtOpen,
            files: g.entries(|e| e.push(Entry::new(&entry_name(&fake(7)), b"x".to_vec()))) },
        Case { name: "index bit flip with its old CRC", says: "CRC-32", refused: AtOpen,
            files: g.entries(|e| {
                let i = e.iter().position(|e| e.name == "outrider.json").expect("index");
                let crc = rawzip::crc32(&e[i].data);
                let text = String::from_utf8(e[i].data.clone()).expect("utf8")
                    .replacen("\"tag\": \"1\"", "\"tag\": \"3\"", 1);
                e[i].data = text.into_bytes();
                e[i].crc = Some(crc);
            }) },
        // The signature entry: bounded before it is read, and a signer named without a
        // signature means one was stripped.
        Case { name: "oversized signature entry", says: "over the 1024 limit", refused: AtOpen,
            files: g.entries(|e| e.push(Entry::new("outrider.json.sig", vec![b'A'; 4096]))) },
        Case { name: "signer named, signature stripped", says: "signature was removed", refused: AtOpen,
            files: g.index(|i| i["signedBy"] = json!(fake(9))) },
        Case { name: "signer that is no fingerprint", says: "bad index", refused: AtOpen,
            files: g.index(|i| i["signedBy"] = json!("me")) },
        Case { name: "no index", says: "no `outrider.json`", refused: AtOpen,
            files: g.entries(|e| e.retain(|e| e.name != "outrider.json")) },
        Case { name: "index that is not JSON", says: "bad index", refused: AtOpen,
            files: g.entries(|e| e.iter_mut().find(|e| e.name == "outrider.json").expect("index").data = b"{\"format\":".to_vec()) },
        Case { name: "format version from the future", says: "version 99", refused: AtOpen,
            files: g.index(|i| i["formatVersion"] = json!(99)) },
        Case { name: "format version 0", says: "formatVersion", refused: AtOpen,
            files: g.index(|i| i["formatVersion"] = json!(0)) },
        Case { name: "layer byte flipped", says: "is damaged", refused: Image("x/y"),
            files: g.entries(|e| e.iter_mut().find(|e| e.name == entry_name(&layer)).expect("layer").data[100] ^= 1) },
        Case { name: "layer with a wrong CRC", says: "CRC-32", refused: Image("x/y"),
            files: g.entries(|e| {
                let l = e.iter_mut().find(|e| e.name == entry_name(&layer2)).expect("layer");
                l.crc = Some(rawzip::crc32(&l.data) ^ 1);
            }) },
        Case { name: "manifest byte flipped", says: "is damaged", refused: Image("x/y"),
            files: g.entries(|e| {
                let m = e.iter_mut().find(|e| e.name == entry_name(&xy)).expect("manifest");
                let at = m.data.len() / 2;
                m.data[at] ^= 0x20;
            }) },
        // Artifact relations: a tag outside cosign's scheme would move any tag; a relation
        // the artifact's manifest does not make would attach a stranger to the image.
        Case { name: "artifact tag outside cosign's scheme", says: "not cosign's tag", refused: AtOpen,
            files: g.index(|i| i["referrers"] = json!([{"subject": xy, "digest": amd,
                "artifactType": "application/vnd.oci.image.layer.v1.tar+gzip", "tag": "1"}])) },
        Case { name: "referrer whose manifest names no subject", says: "does not name it", refused: Image("x/y"),
            files: g.index(|i| i["referrers"] = json!([{"subject": xy, "digest": amd,
                "artifactType": "application/vnd.oci.image.layer.v1.tar+gzip"}])) },
        Case { name: "artifact of another type than its manifest", says: "artifact type", refused: Image("x/y"),
            files: g.index(|i| i["referrers"] = json!([{"subject": xy, "digest": amd,
                "artifactType": "application/spdx+json", "tag": format!("sha256-{}.sig", &xy[7..])}])) },
        Case { name: "artifacts in a cycle", says: "cycle", refused: AtOpen,
            files: g.index(|i| i["referrers"] = json!([
                {"subject": amd, "digest": arm, "artifactType": "a/b"},
                {"subject": arm, "digest": amd, "artifactType": "a/b"}])) },
        // Names that would escape the prefix or the output folder.
        Case { name: "repository with dot segments", says: "not a repository path", refused: AtOpen,
            files: g.index(|i| i["images"][0]["repository"] = json!("../../../v2/other/app")) },
        Case { name: "tag with a path", says: "is not a tag", refused: AtOpen,
            files: g.index(|i| i["images"][0]["tag"] = json!("../../x/manifests/evil")) },
        Case { name: "tag with a query", says: "is not a tag", refused: AtOpen,
            files: g.index(|i| i["images"][0]["tag"] = json!("1?x=y")) },
        Case { name: "repository in upper case", says: "not a repository path", refused: AtOpen,
            files: g.index(|i| i["images"][0]["repository"] = json!("X/Y")) },
        Case { name: "repository with a query", says: "not a repository path", refused: AtOpen,
            files: g.index(|i| i["images"][0]["repository"] = json!("x/y?ns=evil")) },
        Case { name: "reference naming another repository", says: "disagrees", refused: AtOpen,
            files: g.index(|i| i["images"][0]["reference"] = json!("localhost:1/other/app:1")) },
        Case { name: "source with a terminal escape", says: "control characters", refused: AtOpen,
            files: g.index(|i| i["images"][0]["source"] = json!("oci:\u{1b}[31mred")) },
        Case { name: "source that is no registry", says: "is not a registry", refused: AtOpen,
            files: g.index(|i| i["images"][0]["source"] = json!("evil/../host")) },
        Case { name: "blob destination repository escaping", says: "destinationRepository", refused: AtOpen,
            files: g.index(|i| blob(i, &layer)["destinationRepository"] = json!("../x")) },
        Case { name: "blob source repository escaping", says: "repositories", refused: AtOpen,
            files: g.index(|i| blob(i, &layer)["repositories"] = json!(["a/../../b"])) },
        Case { name: "platform with a slash", says: "not a platform", refused: AtOpen,
            files: g.index(|i| manifest(i, &amd)["platform"]["architecture"] = json!("amd64/../x")) },
        Case { name: "media type with a header injection", says: "not a media type", refused: AtOpen,
            files: g.index(|i| blob(i, &layer)["mediaType"] = json!("a/b\r\nX-Evil: 1")) },
        Case { name: "manifest of an unknown media type", says: "not a manifest media type", refused: AtOpen,
            files: g.index(|i| manifest(i, &xy)["mediaType"] = json!("text/html")) },
        Case { name: "entry naming another blob", says: "should be", refused: AtOpen,
            files: g.index(|i| blob(i, &layer)["entry"] = json!(entry_name(&layer2))) },
        Case { name: "manifest listed twice", says: "listed twice", refused: AtOpen,
            files: g.index(|i| {
                let m = manifest(i, &xy).clone();
                i["manifests"].as_array_mut().expect("m").push(m);
            }) },
        Case { name: "digest both a manifest and a blob", says: "both as a manifest and as a blob", refused: AtOpen,
            files: g.index(|i| {
                let mut b = blob(i, &layer).clone();
                b["digest"] = json!(xy);
                b["entry"] = json!(entry_name(&xy));
                i["blobs"].as_array_mut().expect("b").push(b);
            }) },
        // Graphs and numbers that would make work grow without bound.
        Case { name: "index that is its own child", says: "cycle", refused: AtOpen,
            files: g.index(|i| manifest(i, &mz)["children"].as_array_mut().expect("c").push(json!(mz))) },
        Case { name: "two indexes naming each other", says: "cycle", refused: AtOpen,
            files: g.index(|i| {
                manifest(i, &mz)["children"].as_array_mut().expect("c").push(json!(fake(1)));
                i["manifests"].as_array_mut().expect("m").push(external_index(fake(1), vec![mz.clone()]));
            }) },
        Case { name: "100 000 indexes deep", says: "deeper than", refused: AtOpen,
            files: g.index(|i| {
                let list = i["manifests"].as_array_mut().expect("m");
                for n in 1..=100_000 {
                    let children = if n < 100_000 { vec![fake(n + 1)] } else { vec![] };
                    list.push(external_index(fake(n), children));
                }
                manifest(i, &mz)["children"].as_array_mut().expect("c").push(json!(fake(1)));
            }) },
        Case { name: "ten indexes chained", says: "deeper than 8", refused: AtOpen,
            files: g.index(|i| {
                let list = i["manifests"].as_array_mut().expect("m");
                for n in 1..=10 {
                    let children = if n < 10 { vec![fake(n + 1)] } else { vec![] };
                    list.push(external_index(fake(n), children));
                }
            }) },
        Case { name: "child not listed", says: "is not listed in `manifests`", refused: AtOpen,
            files: g.index(|i| manifest(i, &mz)["children"].as_array_mut().expect("c").push(json!(fake(3)))) },
        Case { name: "blob not listed", says: "is not listed in `blobs`", refused: AtOpen,
            files: g.index(|i| manifest(i, &xy)["blobs"].as_array_mut().expect("b").push(json!(fake(4)))) },
        Case { name: "image whose manifest is not listed", says: "is not listed in `manifests`", refused: AtOpen,
            files: g.index(|i| i["images"][0]["digest"] = json!(fake(5))) },
        Case { name: "sizes adding up past 2^64", says: "2^64", refused: AtOpen,
            files: g.index(|i| {
                for n in [8, 9] {
                    i["blobs"].as_array_mut().expect("b").push(json!({"digest": fake(n), "size": u64::MAX,
                        "mediaType": "a/b", "repositories": ["x/y"], "destinationRepository": "x/y"}));
                }
            }) },
        Case { name: "manifest larger than a manifest may be", says: "larger than a manifest", refused: AtOpen,
            files: g.index(|i| {
                i["manifests"].as_array_mut().expect("m").push(json!({"digest": format!("sha256:{big}"),
                    "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": u64::MAX, "blobs": [layer.clone()]}));
            }) },
        // The index disagreeing with the manifests it summarises.
        Case { name: "blob list omits a layer", says: "the index lists 2 blobs", refused: Image("x/y"),
            files: g.index(|i| { manifest(i, &xy)["blobs"].as_array_mut().expect("b").pop(); }) },
        Case { name: "blob list omits the config", says: "the index lists 2 blobs", refused: Image("x/y"),
            files: g.index(|i| { manifest(i, &xy)["blobs"].as_array_mut().expect("b").remove(0); }) },
        Case { name: "blob list in another order", says: "must match in order", refused: Image("x/y"),
            files: g.index(|i| manifest(i, &xy)["blobs"].as_array_mut().expect("b").swap(1, 2)) },
        Case { name: "complete index marked partial", says: "complete: false", refused: Image("m/z"),
            files: g.index(|i| manifest(i, &mz)["complete"] = json!(false)) },
        Case { name: "partial index marked complete", says: "complete: true", refused: Image("m/z"),
            files: g.index(|i| { manifest(i, &mz)["children"].as_array_mut().expect("c").pop(); }) },
        Case { name: "children in another order", says: "not in that order", refused: Image("m/z"),
            files: g.index(|i| manifest(i, &mz)["children"].as_array_mut().expect("c").swap(0, 1)) },
        Case { name: "platform labels swapped", says: "in the manifest", refused: Image("m/z"),
            files: g.index(|i| {
                let a = manifest(i, &amd)["platform"].clone();
                let b = manifest(i, &arm)["platform"].clone();
                manifest(i, &amd)["platform"] = b;
                manifest(i, &arm)["platform"] = a;
            }) },
        Case { name: "single image labelled for another architecture", says: "its config says linux/amd64", refused: Image("x/y"),
            files: g.index(|i| {
                manifest(i, &xy)["platform"]["architecture"] = json!("arm64");
                i["images"][0]["platforms"] = json!([{"os": "linux", "architecture": "arm64"}]);
            }) },
        Case { name: "image platforms not carried", says: "lists platforms", refused: Image("x/y"),
            files: g.index(|i| i["images"][0]["platforms"] = json!([{"os": "linux", "architecture": "s390x"}])) },
        Case { name: "image media type not its manifest's", says: "differs from its manifest", refused: AtOpen,
            files: g.index(|i| i["images"][0]["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json")) },
        Case { name: "manifest media type not its bytes'", says: "media type", refused: Image("x/y"),
            files: g.index(|i| {
                manifest(i, &xy)["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
                i["images"][0]["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
            }) },
        // (A tar cannot be written without the config at all: that refusal comes first.)
        Case { name: "external config at another size", says: "bytes in the manifest|external to", refused: Image("x/y"),
            files: {
                let mut index = index_of(&g.single);
                let b = blob(&mut index, &config);
                b["entry"] = Value::Null;
                b["size"] = json!(7);
                b["destinationRepository"] = json!("x/y");
                let entries: Vec<Entry> = with_index(&g.single, &index)
                    .into_iter()
                    .filter(|e| e.name != entry_name(&config))
                    .collect();
                vec![rawzip::write(&entries)]
            } },
        // Volume metadata.
        Case { name: "volume name escaping the folder", says: "bare file name", refused: AtOpen,
            files: g.volume_indexes(|i| i["volume"]["name"] = json!("../../x")) },
        Case { name: "volume total of 2^32-1", says: "does not fit", refused: AtOpen,
            files: g.volume_indexes(|i| i["volume"]["total"] = json!(u32::MAX)) },
        Case { name: "volume number 0", says: "volume.number", refused: AtOpen,
            files: g.volume_indexes(|i| i["volume"]["number"] = json!(0)) },
        Case { name: "holdings omit a stored blob", says: "no volume holds it", refused: AtOpen,
            files: g.volume_indexes(|i| i["volume"]["holdings"].as_array_mut().expect("h").retain(|h| h["digest"] != layer2)) },
        Case { name: "part count of 2^32-1", says: "does not fit", refused: AtOpen,
            files: g.volume_indexes(|i| {
                for h in i["volume"]["holdings"].as_array_mut().expect("h") {
                    if h.get("part").is_some() { h["part"]["count"] = json!(u32::MAX); }
                }
            }) },
        Case { name: "parts that do not tile the blob", says: "does not start", refused: AtOpen,
            files: g.volume_indexes(|i| {
                if let Some(h) = i["volume"]["holdings"].as_array_mut().expect("h").iter_mut().rfind(|h| h.get("part").is_some()) {
                    h["part"]["offset"] = json!(1);
                }
            }) },
        Case { name: "holding naming another entry", says: "should be", refused: AtOpen,
            files: g.volume_indexes(|i| i["volume"]["holdings"][0]["entry"] = json!("blobs/sha256/x")) },
        Case { name: "one volume's index altered", says: "set was altered", refused: AtOpen,
            files: g.volumes.iter().enumerate().map(|(n, v)| {
                let mut index = index_of(v);
                if n == 1 { index["tool"] = json!("outrider 0.0.0"); }
                rawzip::write(&with_index(v, &index))
            }).collect() },
    ];
    rows.retain(|r| !r.files.is_empty());
    rows
}

/// Repositories the registry holds.
fn catalog(host: &str) -> Vec<String> {
    let out = std::process::Command::new("curl")
        .args(["-sf", &format!("http://{host}/v2/_catalog?n=1000")])
        .output()
        .expect("curl");
    let v: Value = serde_json::from_slice(&out.stdout).expect("catalog json");
    v["repositories"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn write_case(dir: &Path, files: &[Vec<u8>]) -> PathBuf {
    std::fs::create_dir_all(dir).expect("case dir");
    if let [single] = files {
        let path = dir.join("b.zip");
        std::fs::write(&path, single).expect("write");
        return path;
    }
    for (n, f) in files.iter().enumerate() {
        std::fs::write(dir.join(format!("vol.{:03}.zip", n + 1)), f).expect("write");
    }
    dir.join("vol.001.zip")
}

#[test]
fn hostile_bundles_are_refused_by_every_command() {
    let source = Registry::plain();
    let xy = images::image(
        vec![
            images::layer(31, 200_000, Flavour::Docker),
            images::layer(32, 20_000, Flavour::Docker),
        ],
        "amd64",
        Flavour::Docker,
        false,
    );
    images::push_image(&source.host, "x/y", "1", &xy);
    let (mz_children, mz_index) = images::push_multi_platform(
        &source.host,
        "m/z",
        "1",
        &[(33, "linux/amd64"), (34, "linux/arm64")],
    );
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let s = |p: &Path| p.to_str().expect("utf8").to_owned();
    let refs = [
        format!("{}/x/y:1", source.host),
        format!("{}/m/z:1", source.host),
    ];
    let good = work.path().join("good.zip");
    o.ok(&[
        "pack",
        "--all-platforms",
        &refs[0],
        &refs[1],
        "-o",
        &s(&good),
    ]);
    let vol = work.path().join("vol.zip");
    o.ok(&[
        "pack",
        "--all-platforms",
        &refs[0],
        &refs[1],
        "--volume-size",
        "150KiB",
        "-o",
        &s(&vol),
    ]);
    let mut volumes = Vec::new();
    for n in 1.. {
        let p = work.path().join(format!("vol.{n:03}.zip"));
        if !p.exists() {
            break;
        }
        volumes.push(rawzip::read(&p));
    }
    assert!(
        volumes.len() >= 2,
        "the volume set has {} volumes",
        volumes.len()
    );
    assert!(
        index_of(&volumes[0])["volume"]["holdings"]
            .as_array()
            .expect("holdings")
            .iter()
            .any(|h| h.get("part").is_some()),
        "the 200 kB layer is cut into parts"
    );
    let g = Good {
        single: rawzip::read(&good),
        volumes,
        xy,
        mz_index: mz_index.digest.clone(),
        mz_children,
    };
    // The untouched bundle, rewritten by the same hand, passes: the rows fail for their
    // change alone.
    let control = write_case(&work.path().join("control"), &[rawzip::write(&g.single)]);
    o.ok(&["verify", &s(&control)]);

    let dest = Registry::plain();
    let rows = cases(&g);
    assert!(rows.len() >= 40, "{} rows", rows.len());
    let mut failures = Vec::new();
    for (n, case) in rows.iter().enumerate() {
        let dir = work.path().join(format!("case{n}"));
        let bundle = write_case(&dir, &case.files);
        let prefix = format!("q{n}");
        let mut check = |what: &str, out: &std::process::Output, want_fail: bool| {
            let (stdout, stderr) = text(out);
            let all = format!("{stdout}{stderr}");
            let code = out.status.code();
            let ok = if want_fail {
                matches!(code, Some(1 | 2)) && case.says.split('|').any(|w| all.contains(w))
            } else {
                code == Some(0)
            };
            if !ok {
                failures.push(format!(
                    "[{}] {what}: exit {code:?}, wanted {} with `{}`:\n{all}",
                    case.name,
                    if want_fail { "a refusal" } else { "success" },
                    case.says
                ));
            }
            if all.contains("panicked") || code == Some(134) || code.is_none() {
                failures.push(format!("[{}] {what} crashed:\n{all}", case.name));
            }
        };
        // A volume alone is checked on its own; `--set` checks the set it belongs to.
        let verify = if case.files.len() > 1 {
            o.run(&["verify", "--set", &s(&bundle)])
        } else {
            o.run(&["verify", &s(&bundle)])
        };
        check("verify", &verify, true);
        check(
            "inspect",
            &o.run(&["inspect", &s(&bundle)]),
            matches!(case.refused, Refused::AtOpen),
        );
        let push = o.run(&[
            "unpack",
            &s(&bundle),
            "--push",
            &dest.host,
            "--prefix",
            &prefix,
            "--retries",
            "0",
        ]);
        check("unpack --push", &push, true);
        let tar = dir.join("out.tar");
        let save = o.run(&[
            "unpack",
            &s(&bundle),
            "--docker-save",
            &s(&tar),
            "--platform",
            "linux/amd64",
        ]);
        check("unpack --docker-save", &save, true);
        if matches!(case.refused, Refused::AtOpen) {
            // An old bundle named with --since is read too: the same refusal, no bundle.
            let next = dir.join("next.zip");
            let pack = o.run(&["pack", &refs[0], "--since", &s(&bundle), "-o", &s(&next)]);
            check("pack --since", &pack, true);
        }
        for leftover in [
            tar.clone(),
            dir.join("out.tar.partial"),
            dir.join("next.zip"),
        ] {
            if leftover.exists() {
                failures.push(format!("[{}] left `{}`", case.name, leftover.display()));
            }
        }
        let pushed: Vec<String> = catalog(&dest.host)
            .into_iter()
            .filter(|r| r.starts_with(&format!("{prefix}/")))
            .collect();
        match case.refused {
            Refused::AtOpen if !pushed.is_empty() => {
                failures.push(format!("[{}] pushed {pushed:?}", case.name))
            }
            Refused::Image(repo)
                if skopeo_raw(&dest.host, &format!("{prefix}/{repo}"), "1", &[]).is_some() =>
            {
                failures.push(format!("[{}] `{prefix}/{repo}:1` arrived", case.name))
            }
            _ => {}
        }
    }
    // Nothing ever landed outside the prefixes given.
    let outside: Vec<String> = catalog(&dest.host)
        .into_iter()
        .filter(|r| !r.starts_with('q'))
        .collect();
    assert!(outside.is_empty(), "pushed outside the prefix: {outside:?}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn sha(path: &Path) -> String {
    crate::support::digest(&std::fs::read(path).expect("read"))
}

#[test]
fn outputs_never_overwrite_inputs_or_each_other() {
    let source = Registry::plain();
    let img = images::image(
        vec![images::layer(41, 150_000, Flavour::Docker)],
        "amd64",
        Flavour::Docker,
        false,
    );
    // Two names that the per-image file naming folds to the same text.
    images::push_image(&source.host, "c/x_y", "1", &img);
    images::push_image(&source.host, "c/x/y", "1", &img);
    let refs = [
        format!("{}/c/x_y:1", source.host),
        format!("{}/c/x/y:1", source.host),
    ];
    let o = Outrider::new();
    let work = tempfile::tempdir().expect("tmp");
    let s = |p: &Path| p.to_str().expect("utf8").to_owned();
    let b = work.path().join("b.zip");
    o.ok(&["pack", &refs[0], &refs[1], "-o", &s(&b)]);
    let before = sha(&b);
    std::fs::create_dir(work.path().join("sub")).expect("sub");
    let refused = |args: &[&str], says: &str| {
        let out = o.run(args);
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    };
    refused(
        &["unpack", &s(&b), "--docker-save", &s(&b)],
        "would overwrite",
    );
    refused(
        &[
            "unpack",
            &s(&b),
            "--docker-save",
            &s(&work.path().join("sub/../b.zip")),
        ],
        "would overwrite",
    );
    refused(
        &["pack", &refs[0], "--since", &s(&b), "-o", &s(&b)],
        "would overwrite",
    );
    assert_eq!(sha(&b), before, "an input was changed");
    // A directory given where a file is written is refused before any work.
    let dir = work.path().join("existing");
    std::fs::create_dir(&dir).expect("dir");
    refused(
        &["unpack", &s(&b), "--docker-save", &s(&dir)],
        "is a directory",
    );
    refused(&["pack", &refs[0], "-o", &s(&dir)], "is a directory");
    assert!(!work.path().join("existing.partial").exists());
    // Names from the command line that would escape the prefix are usage errors.
    refused(
        &["unpack", &s(&b), "--push", &source.host, "--prefix", "../x"],
        "not a repository prefix",
    );
    refused(
        &["unpack", &s(&b), "--push", "localhost:5000/../x"],
        "not a repository prefix",
    );
    // Volumes count for their whole set.
    let v = work.path().join("v.zip");
    o.ok(&["pack", &refs[0], "--volume-size", "150KiB", "-o", &s(&v)]);
    let v1 = work.path().join("v.001.zip");
    let v2 = work.path().join("v.002.zip");
    assert!(v2.exists(), "two volumes");
    let v2_before = sha(&v2);
    refused(
        &["unpack", &s(&v1), "--docker-save", &s(&v2)],
        "would overwrite",
    );
    refused(
        &[
            "pack",
            &refs[0],
            "--since",
            &s(&v1),
            "--volume-size",
            "150KiB",
            "-o",
            &s(&v),
        ],
        "would overwrite",
    );
    assert_eq!(sha(&v2), v2_before, "a volume was changed");
    // One file per image, never one over another.
    let out = work.path().join("per-image");
    o.ok(&["unpack", &s(&b), "--docker-save", &s(&out), "--per-image"]);
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        let listing = std::process::Command::new("tar")
            .args(["-xOf", &s(&out.join(f)), "manifest.json"])
            .output()
            .expect("tar");
        let manifest: Value = serde_json::from_slice(&listing.stdout).expect("manifest.json");
        assert_eq!(manifest.as_array().map(Vec::len), Some(1), "{f}");
    }
}
