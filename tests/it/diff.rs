//! What changed since the last trip: `outrider diff OLD NEW` on two real packs names each
//! image new, changed (old → new digest), unchanged or dropped, the tags that moved and
//! the bytes added; `plan --since` and `pack --since` list the same.

use crate::support::images::{self, Flavour, Image};
use crate::support::{Outrider, Registry, digest, text};
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn image(seed: u64) -> Image {
    images::image(
        vec![
            images::layer(9000, 3000, Flavour::Oci),
            images::layer(seed, 1500, Flavour::Oci),
        ],
        "amd64",
        Flavour::Oci,
        false,
    )
}

fn bytes(i: &Image) -> u64 {
    (i.manifest.bytes.len() + i.config.bytes.len() + i.layers[1].bytes.len()) as u64
}

#[test]
fn diff_names_what_changed_between_two_packs() {
    let src = Registry::plain();
    let h = src.host.as_str();
    let o = Outrider::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (a1, b, c, a2, new) = (
        image(9101),
        image(9102),
        image(9103),
        image(9104),
        image(9105),
    );
    images::push_image(h, "apps/a", "1", &a1);
    images::push_image(h, "apps/b", "1", &b);
    images::push_image(h, "apps/c", "1", &c);
    let r = |n: &str| format!("{h}/apps/{n}:1");
    let week1 = d.join("week1.zip");
    o.ok(&[
        "pack",
        &r("a"),
        &r("b"),
        &r("c"),
        "-o",
        s(&week1),
        "--no-checksums",
    ]);
    images::push_image(h, "apps/a", "1", &a2);
    images::push_image(h, "apps/d", "1", &new);
    let week2 = d.join("week2.zip");
    o.ok(&[
        "pack",
        &r("a"),
        &r("b"),
        &r("d"),
        "-o",
        s(&week2),
        "--no-checksums",
    ]);

    let out = o.ok(&["diff", s(&week1), s(&week2), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["command"], "diff");
    let c = &v["changes"];
    let find = |name: &str| {
        c["images"]
            .as_array()
            .expect("images")
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {c}"))
            .clone()
    };
    let a = find("apps/a:1");
    assert_eq!(a["status"], "changed", "{c}");
    assert_eq!(a["oldDigest"], digest(&a1.manifest.bytes));
    assert_eq!(a["newDigest"], digest(&a2.manifest.bytes));
    assert_eq!(
        a["addedBytes"],
        bytes(&a2),
        "only its own layer, config and manifest are new"
    );
    assert_eq!(find("apps/b:1")["status"], "unchanged");
    assert_eq!(find("apps/b:1")["addedBytes"], 0);
    assert_eq!(find("apps/d:1")["status"], "new");
    assert_eq!(find("apps/c:1")["status"], "dropped");
    assert!(find("apps/c:1").get("newDigest").is_none());
    assert_eq!(c["tagsMoved"], 1);
    assert_eq!(c["addedBytes"], bytes(&a2) + bytes(&new));
    assert_eq!(
        (
            c["new"].clone(),
            c["changed"].clone(),
            c["unchanged"].clone(),
            c["dropped"].clone()
        ),
        (1.into(), 1.into(), 1.into(), 1.into())
    );
    let (table, _) = text(&o.ok(&["diff", s(&week1), s(&week2)]));
    assert!(
        table.contains("changed") && table.contains("1 tags moved"),
        "{table}"
    );

    // plan --since and pack --since list the same changes.
    let out = o.ok(&[
        "plan",
        &r("a"),
        &r("b"),
        &r("d"),
        "--since",
        s(&week1),
        "--json",
    ]);
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(p["changes"]["images"], c["images"], "{p}");
    let week2b = d.join("week2b.zip");
    let out = o.ok(&[
        "pack",
        &r("a"),
        &r("b"),
        &r("d"),
        "--since",
        s(&week1),
        "-o",
        s(&week2b),
        "--json",
    ]);
    let k: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(k["changes"]["images"], c["images"], "{k}");
    let (table, _) = text(&o.ok(&["plan", &r("a"), &r("b"), &r("d"), "--since", s(&week1)]));
    assert!(
        table.contains("dropped") && table.contains("apps/c:1"),
        "{table}"
    );
}
