//! Planning asks a registry about several images at once, yet the bundle does not depend
//! on which answer came first. A proxy in front of the real distribution registry holds
//! the first tag and child-manifest GETs back, the earliest longest, so they are answered
//! in the reverse of the order they were asked; it counts how many it held at once.

use crate::support::artifacts::{cosign_signature, tag_of};
use crate::support::images::{self, Flavour};
use crate::support::proxy::{self, Pass};
use crate::support::{Outrider, Registry, text};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Requests held back while the gate is on, and how long the first one waits.
const HELD: usize = 10;
const STEP_MS: u64 = 150;

/// Counts of the gate: requests held so far, held now, and the most held at once.
#[derive(Default)]
struct Gate {
    on: AtomicBool,
    arrived: AtomicUsize,
    held: AtomicUsize,
    most: AtomicUsize,
}

impl Gate {
    /// Holds a manifest GET by tag `1` or by digest (not cosign's tags) back: the nth
    /// for `(HELD - n) * STEP_MS`, so later ones overtake earlier ones.
    fn pass(&self, line: &str) -> Pass {
        let path = line.split_whitespace().nth(1).unwrap_or_default();
        let gated = line.starts_with("GET /v2/plan/")
            && (path.ends_with("/manifests/1") || path.contains("/manifests/sha256:"));
        if !self.on.load(Ordering::SeqCst) || !gated {
            return Pass::Whole;
        }
        let n = self.arrived.fetch_add(1, Ordering::SeqCst);
        if n >= HELD {
            return Pass::Whole;
        }
        let now = self.held.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(
            (HELD - n) as u64 * STEP_MS,
        ));
        self.held.fetch_sub(1, Ordering::SeqCst);
        Pass::Whole
    }
}

#[test]
fn images_are_resolved_at_once_and_the_bundle_keeps_the_order_asked() {
    let registry = Registry::plain();
    let h = &registry.host;
    // Six images sharing a base layer (first-use order decides where it goes), one of
    // them signed, and a three-platform index whose children are fetched at once.
    let base = images::layer(400, 20_000, Flavour::Docker);
    let mut requests = Vec::new();
    let mut signed = None;
    for i in 0..6u64 {
        let own = images::layer(401 + i, 5_000, Flavour::Docker);
        let img = images::image(vec![base.clone(), own], "amd64", Flavour::Docker, false);
        let repo = format!("plan/app{i}");
        images::push_image(h, &repo, "1", &img);
        if i == 2 {
            let sig = cosign_signature(&format!("{h}/{repo}"), &img.manifest.digest, 3);
            sig.push(h, &repo, &tag_of(&img.manifest.digest, ".sig"));
            signed = Some(sig.manifest.digest);
        }
        requests.push(format!("{repo}:1"));
    }
    images::push_multi_platform(
        h,
        "plan/multi",
        "1",
        &[
            (410, "linux/amd64"),
            (411, "linux/arm64"),
            (412, "linux/s390x"),
        ],
    );
    requests.insert(3, "plan/multi:1".to_owned());

    let gate = Arc::new(Gate::default());
    let seen = gate.clone();
    let host = proxy::start(h.clone(), move |line| seen.pass(line));
    let images: Vec<String> = requests.iter().map(|r| format!("{host}/{r}")).collect();
    let work = tempfile::tempdir().expect("tmp");
    let o = Outrider::new();
    let pack = |name: &str| {
        let out_path = work.path().join(name);
        let out = out_path.to_str().expect("utf8");
        let mut args = vec![
            "pack",
            "--json",
            "--all-platforms",
            "--plain-http",
            &host,
            "-o",
            out,
        ];
        args.extend(images.iter().map(String::as_str));
        let run = o.run(&args);
        let (stdout, err) = text(&run);
        assert!(run.status.success(), "{err}");
        let doc: serde_json::Value = serde_json::from_str(&stdout).expect("pack --json");
        (std::fs::read(&out_path).expect("bundle"), doc)
    };

    gate.on.store(true, Ordering::SeqCst);
    let (reversed, doc) = pack("reversed.zip");
    gate.on.store(false, Ordering::SeqCst);
    // One image at a time would hold one request at a time.
    let most = gate.most.load(Ordering::SeqCst);
    assert!(
        most >= 4,
        "at most {most} manifest GETs were in flight at once"
    );
    let packed: Vec<&str> = doc["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["reference"].as_str().expect("reference"))
        .collect();
    let asked: Vec<String> = images.iter().map(|i| i.to_string()).collect();
    assert_eq!(packed, asked, "images are listed in the order asked");
    let artifacts = &doc["images"][2]["artifacts"];
    assert_eq!(
        artifacts[0]["digest"].as_str(),
        signed.as_deref(),
        "{artifacts}"
    );

    // Answered in the order asked, the same bundle, byte for byte.
    let (in_order, _) = pack("in-order.zip");
    assert!(reversed == in_order, "the bundle depends on answer order");
    o.ok(&[
        "verify",
        work.path().join("reversed.zip").to_str().expect("utf8"),
    ]);
}
