//! A volume cut short by its copy counts as missing: the images it does not touch still
//! push, the ones it blocks are named, and the cut is named as a copy that stopped early,
//! whether the cut volume is a sibling or the one given.

use super::{index_of, pack, seed};
use crate::support::{Outrider, Registry, skopeo_raw, text};

#[test]
fn a_cut_volume_2_blocks_only_its_images() {
    let (source, list) = seed();
    let o = Outrider::new();
    let w = tempfile::tempdir().expect("tmp");
    let vols = pack(&o, &source, &list, &w.path().join("c"));
    assert!(vols.len() >= 3, "{vols:?}");
    let index = index_of(&vols[0]);
    let blocked = super::blocked_by(&index, 2, &list);
    // `verify --set DIR/*` names the checksum list too: it is left out, not refused.
    let dir = vols[0].parent().expect("dir");
    let mut all: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path().to_string_lossy().into_owned())
        .collect();
    all.sort();
    assert!(all.iter().any(|p| p.ends_with("/SHA256SUMS")), "{all:?}");
    let mut args = vec!["verify", "--set"];
    args.extend(all.iter().map(String::as_str));
    let (_, err) = text(&o.ok(&args));
    assert!(
        err.contains("left out") && err.contains("SHA256SUMS"),
        "{err}"
    );

    // Volume 2 stops halfway, as a copy that ran out of time leaves it.
    let len = std::fs::metadata(&vols[1]).expect("stat").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&vols[1])
        .expect("open")
        .set_len(len / 2)
        .expect("truncate");

    // Given volume 1, and given the cut volume 2 itself: the same outcome.
    for given in [&vols[0], &vols[1]] {
        let dest = Registry::plain();
        let out = o.run(&[
            "unpack",
            given.to_str().expect("utf8"),
            "--push",
            &dest.host,
        ]);
        let (_, err) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("volume 2")
                && err.contains("site.bundle.002.zip")
                && err.contains(&format!("the copy stopped early ({} of at least", len / 2))
                && err.contains("sha256sum -c SHA256SUMS"),
            "{err}"
        );
        for ((repo, img), blocked) in list.iter().zip(&blocked) {
            let pushed = skopeo_raw(&dest.host, repo, "1", &[]);
            if *blocked {
                assert!(
                    err.contains(&format!("{}/{repo}:1", source.host)),
                    "blocked image not named: {err}"
                );
                assert!(pushed.is_none(), "{repo} was pushed without its volume");
            } else {
                assert_eq!(
                    pushed.as_deref(),
                    Some(&img.manifest.bytes[..]),
                    "{repo} should have gone through: {err}"
                );
            }
        }
    }
    // Named alone, the cut volume still gets the floor its siblings give.
    let out = o.run(&["verify", vols[1].to_str().expect("utf8")]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("the copy stopped early ({} of at least", len / 2)),
        "{err}"
    );
    let out = o.run(&["verify", "--set", vols[0].to_str().expect("utf8")]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the copy stopped early"), "{err}");
    // The checksum list beside the set sees the same.
    let sums = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(vols[0].parent().expect("dir"))
        .output()
        .expect("sha256sum");
    assert!(!sums.status.success());
    assert!(
        String::from_utf8_lossy(&sums.stdout).contains("site.bundle.002.zip: FAILED"),
        "{}",
        String::from_utf8_lossy(&sums.stdout)
    );
}
