//! A registry that says "too many": a 429 lowers how many requests it is sent at once, so a
//! pack slows down rather than hammering it; a quota that runs low (`RateLimit-Remaining`,
//! as Docker Hub sends) drops to one request at a time before it is gone. Both are said.

use crate::lying_registry::{Lie, TOO_MANY_SENT, serve_recording};
use crate::support::images::{self, Flavour};
use crate::support::{Outrider, text};
use std::sync::atomic::Ordering;

fn pack(lie: Lie) -> (String, usize) {
    let layers = (0..8)
        .map(|i| images::layer(70 + i, 2_000, Flavour::Docker))
        .collect();
    let img = images::image(layers, "amd64", Flavour::Docker, false);
    let (host, _, seen) = serve_recording(img, lie);
    let work = tempfile::tempdir().expect("tmp");
    let out_path = work.path().join("x.zip");
    let out = Outrider::new().run(&[
        "pack",
        "--plain-http",
        &host,
        "-j",
        "4",
        "--no-referrers",
        "-o",
        out_path.to_str().expect("utf8"),
        &format!("{host}/lie/img:1"),
    ]);
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    Outrider::new().ok(&["verify", out_path.to_str().expect("utf8")]);
    let requests = seen.lock().expect("lock").len();
    (err, requests)
}

#[test]
fn a_429_lowers_the_requests_sent_at_once() {
    let (err, _) = pack(Lie::TooManyAtOnce);
    assert!(
        err.contains("429 Too Many Requests: sending ")
            && err.contains(" request(s) at a time, raised again slowly"),
        "{err}"
    );
    // The eight small layers' GETs start at once (`-j 4` sends up to 16 small blobs): the
    // first is answered, the other seven get 429 and the limit falls to one, so nothing
    // collides again. Without the limit each retry after `Retry-After` collides anew.
    let sent = TOO_MANY_SENT.load(Ordering::SeqCst);
    assert!(sent <= 7, "{sent} 429s");
}

#[test]
fn a_quota_running_low_is_said_and_honoured() {
    let (err, _) = pack(Lie::LowQuota);
    assert!(
        err.contains("allows 5 more request(s)") && err.contains("one request at a time"),
        "{err}"
    );
}
