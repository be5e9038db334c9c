//! The binary describes itself: `version` (text and JSON), completions and man pages from
//! the same CLI definitions, help with examples and its options under headings; values are
//! checked as they are parsed (hosts, ports, sizes and durations with units).

use crate::support::peers::{Act, proxy};
use crate::support::{Outrider, Registry, text};
use std::sync::{Arc, Mutex};

#[test]
fn version_completions_man_pages_and_help() {
    let o = Outrider::new();
    let (line, _) = text(&o.ok(&["--version"]));
    assert_eq!(
        line.trim(),
        format!("outrider {}", env!("CARGO_PKG_VERSION"))
    );

    let (out, _) = text(&o.ok(&["version", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["schemaVersion"], 1);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let commit = v["commit"].as_str().expect("commit");
    assert!(
        commit == "unknown"
            || (commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );
    assert!(
        v["target"].as_str().expect("target").contains("linux"),
        "{v}"
    );
    let date = v["buildDate"].as_str().expect("date");
    assert!(date.len() == 10 && date.as_bytes()[4] == b'-', "{date}");
    assert_eq!(v["bundleFormat"]["writes"], 3);
    assert!(
        v["bundleFormat"]["reads"]
            .as_array()
            .expect("reads")
            .contains(&1.into()),
        "version-1 bundles are still read"
    );
    let (plain, _) = text(&o.ok(&["version"]));
    assert!(
        plain.contains(
            "bundle format:  reads 1, 2, 3, writes 3 (1 when a bundle holds no referrers and no --registry-path)"
        ),
        "{plain}"
    );

    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef outrider"),
        ("fish", "complete -c outrider"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let (script, _) = text(&o.ok(&["completions", shell]));
        assert!(
            script.contains(marker) && script.contains("unpack"),
            "{shell}"
        );
    }

    let dir = tempfile::tempdir().expect("tmp");
    o.ok(&["man", "--dir", dir.path().to_str().expect("utf8")]);
    for page in [
        "outrider",
        "outrider-pack",
        "outrider-unpack",
        "outrider-verify",
        "outrider-version",
    ] {
        let roff = std::fs::read_to_string(dir.path().join(format!("{page}.1"))).expect(page);
        assert!(
            roff.starts_with(".ie") || roff.contains(".TH"),
            "{page}: {roff}"
        );
    }
    // The man pages have a section per help heading, as --help groups them.
    let unpack = std::fs::read_to_string(dir.path().join("outrider-unpack.1")).expect("unpack");
    for section in [
        ".SH INPUT",
        ".SH \"OUTPUT TO A REGISTRY\"",
        ".SH TRUST",
        ".SH \"REGISTRY CONNECTION\"",
        ".SH \"GLOBAL OPTIONS\"",
    ] {
        assert!(unpack.contains(section), "no `{section}` in:\n{unpack}");
    }

    for command in ["pack", "unpack", "plan", "deploy"] {
        let (help, _) = text(&o.ok(&[command, "--help"]));
        assert!(
            help.contains("Examples:") && help.contains(&format!("outrider {command}")),
            "{command}: {help}"
        );
        let global = help.find("Global options:").expect("global heading");
        assert!(
            help[global..].contains("--verbose") && help[global..].contains("--quiet"),
            "{help}"
        );
    }
}

/// A port outside 1..=65535, or a host that is no host, is a usage error at parse time
/// (exit 2): one line naming the option, the value and what to give instead, before any
/// bundle is opened or connection tried.
#[test]
fn bad_ports_and_hosts_are_usage_errors() {
    let o = Outrider::new();
    let bundle = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/bundle-v1.zip");
    let tar = o.home.path().join("out.tar");
    let tar = tar.to_str().expect("utf8");
    let out_zip = o.home.path().join("out.zip");
    let out_zip = out_zip.to_str().expect("utf8");
    // (arguments, the option named, the value named, the fix)
    let cases: &[(&[&str], &str, &str, &str)] = &[
        (
            &["unpack", bundle, "--push", "127.0.0.1:99999"],
            "--push",
            "127.0.0.1:99999",
            "port 99999 is out of range; give a port from 1 to 65535",
        ),
        (
            &["unpack", bundle, "--push", "http://localhost:0/mirror"],
            "--push",
            "localhost:0",
            "port 0 is out of range; give a port from 1 to 65535",
        ),
        (
            &["unpack", bundle, "--push", "localhost:50OO"],
            "--push",
            "localhost:50OO",
            "port `50OO` is not a number",
        ),
        (
            &["unpack", bundle, "--push", "999.1.1.1:5000"],
            "--push",
            "999.1.1.1",
            "not an IPv4 address; give four numbers from 0 to 255",
        ),
        (
            &["unpack", bundle, "--push", "registry_site:5000"],
            "--push",
            "registry_site",
            "is not a host name; use letters, digits and `-`",
        ),
        (
            &["unpack", bundle, "--push", "::1:5000"],
            "--push",
            "::1:5000",
            "an IPv6 address goes in brackets",
        ),
        (
            &["unpack", bundle, "--push", "[::1]:65536"],
            "--push",
            "[::1]:65536",
            "port 65536 is out of range",
        ),
        (
            &[
                "unpack",
                bundle,
                "--docker-save",
                tar,
                "--from-registry",
                "localhost:70000",
            ],
            "--from-registry",
            "localhost:70000",
            "port 70000 is out of range; give a port from 1 to 65535",
        ),
        (
            &[
                "pack",
                "--mirror",
                "docker.io=mirror.local:65536",
                "-o",
                out_zip,
                "busybox",
            ],
            "--mirror",
            "mirror.local:65536",
            "port 65536 is out of range; give a port from 1 to 65535",
        ),
        (
            &["pack", "--mirror", "docker.io", "-o", out_zip, "busybox"],
            "--mirror",
            "docker.io",
            "give REGISTRY=MIRROR",
        ),
        (
            &["receipt", "--registry=-reg-:5000", "-o", out_zip],
            "--registry",
            "-reg-",
            "is not a host name",
        ),
        (
            &["serve", bundle, "--listen", "127.0.0.1:99999"],
            "--listen",
            "127.0.0.1:99999",
            "port 99999 is out of range; give a port from 0 (any free port) to 65535",
        ),
        (
            &["serve", bundle, "--listen", "localhost:5000"],
            "--listen",
            "localhost:5000",
            "give ADDRESS:PORT, e.g. 127.0.0.1:5000",
        ),
        (
            &["serve", bundle, "--listen", "0.0.0.0"],
            "--listen",
            "0.0.0.0",
            "no port; give ADDRESS:PORT",
        ),
        (
            &["serve", bundle, "--advertise", "registry.site:0"],
            "--advertise",
            "registry.site:0",
            "port 0 is out of range; give a port from 1 to 65535",
        ),
        (
            &["serve", bundle, "--advertise", "https://registry.site:5000"],
            "--advertise",
            "https://registry.site:5000",
            "give HOST[:PORT] without `https://`",
        ),
    ];
    for (args, option, value, fix) in cases {
        let out = o.run(args);
        let (stdout, err) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}:\n{stdout}{err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: ")
                && first.contains(option)
                && first.contains(value)
                && first.contains(fix),
            "{args:?}: want {option}, `{value}` and `{fix}` in the first line of:\n{err}"
        );
        let rest: Vec<&str> = err.lines().skip(1).filter(|l| !l.is_empty()).collect();
        assert!(
            rest.iter().all(|l| l.starts_with("For more information")),
            "{args:?}: more than one line:\n{err}"
        );
    }
}

/// `serve --listen ADDRESS:0` takes any free port and says which: the address it prints
/// answers.
#[test]
fn serve_on_port_zero_says_the_port_it_took() {
    use std::io::{Read, Write};
    let o = Outrider::new();
    let bundle = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/bundle-v1.zip");
    let log = o.home.path().join("serve.log");
    let mut child = o
        .cmd()
        .args(["serve", bundle, "--listen", "127.0.0.1:0"])
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("serve");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let host = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(rest) = text.split(" at http://").nth(1) {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("serve exited ({status}):\n{text}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no address in:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(!host.ends_with(":0"), "{host}");
    let mut conn = std::net::TcpStream::connect(&host).expect(&host);
    conn.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n").expect("write");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("read");
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
}

/// `unpack --help` reads in groups: each heading once, in this order, each holding its
/// options; the connection options are the same group in every command that reaches a
/// registry.
#[test]
fn help_groups_options_under_headings() {
    let o = Outrider::new();
    let (help, _) = text(&o.ok(&["unpack", "--help"]));
    // (heading, options under it)
    let groups: &[(&str, &[&str])] = &[
        ("Arguments:", &["[BUNDLE]..."]),
        (
            "Options:",
            &["--dry-run", "--strict", "--jobs", "--json", "--help"],
        ),
        ("Input:", &["--base", "--from-registry"]),
        ("Selection:", &["--image"]),
        (
            "Output to a registry:",
            &["--push", "--prefix", "--receipt", "--chunk-size"],
        ),
        (
            "Output to tars:",
            &["--docker-save", "--per-image", "--compress"],
        ),
        ("Output to k3s:", &["--k3s", "--k3s-images-dir"]),
        (
            "Output to the Docker engine:",
            &["--docker", "--docker-cmd"],
        ),
        ("Output to SSH targets:", &["--config", "--parallel"]),
        ("Trust:", &["--trusted-key", "--cosign-key"]),
        (
            "Registry connection:",
            &[
                "--plain-http",
                "--ca-file",
                "--cert",
                "--retries",
                "--timeout",
            ],
        ),
        (
            "Registry authentication:",
            &["--username", "--password-stdin", "--authfile", "--auth-for"],
        ),
        ("Global options:", &["--verbose", "--quiet"]),
    ];
    let at = |line: &str| {
        help.lines()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no heading `{line}` in:\n{help}"))
    };
    let lines: Vec<&str> = help.lines().collect();
    for pair in groups.windows(2) {
        let (heading, options) = pair[0];
        let (start, end) = (at(heading), at(pair[1].0));
        assert!(start < end, "`{heading}` after `{}`:\n{help}", pair[1].0);
        let section = lines[start..end].join("\n");
        for option in options {
            assert!(
                section.contains(option),
                "`{option}` is not under `{heading}`:\n{section}"
            );
        }
    }
    // Sizes show their units.
    assert!(help.contains("[default: 256MiB]"), "{help}");
    for command in ["pack", "plan", "deploy", "receipt"] {
        let (help, _) = text(&o.ok(&[command, "--help"]));
        for heading in ["Registry connection:", "Registry authentication:"] {
            assert_eq!(help.matches(heading).count(), 1, "{command}: {help}");
        }
    }
    for command in ["verify", "inspect", "serve"] {
        let (help, _) = text(&o.ok(&[command, "--help"]));
        assert!(help.contains("\nTrust:\n"), "{command}: {help}");
    }
}

/// Pushes `fixtures/bundle-v1.zip` to a fresh registry through a recording proxy with
/// these chunk options; returns the PATCH requests it saw (one per chunk).
fn chunks_pushed(o: &Outrider, chunk_options: &[&str]) -> usize {
    let bundle = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/bundle-v1.zip");
    let dest = Registry::plain();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let host = proxy(dest.host.clone(), move |line| {
        log.lock().expect("lock").push(line.to_owned());
        Act::Forward
    });
    let push = format!("http://{host}");
    let mut args = vec!["unpack", bundle, "--push", &push];
    args.extend_from_slice(chunk_options);
    o.ok(&args);
    let lines = seen.lock().expect("lock");
    lines.iter().filter(|l| l.starts_with("PATCH")).count()
}

/// Sizes take units everywhere, through one parser: `--chunk-size 0.125KiB` pushes the same
/// chunks as `--chunk-size 128` (and `8MiB` is `8388608`, in the parser's own test); a bad
/// size or duration is a usage error naming the option, the value and the forms taken.
#[test]
fn sizes_and_durations_take_units() {
    let o = Outrider::new();
    let with_units = chunks_pushed(
        &o,
        &["--chunk-threshold", "100B", "--chunk-size", "0.125KiB"],
    );
    let in_bytes = chunks_pushed(&o, &["--chunk-threshold", "100", "--chunk-size", "128"]);
    // The fixture's two blobs (its manifest is no blob upload): 239 and 140 bytes, two
    // 128-byte chunks each.
    assert_eq!((with_units, in_bytes), (4, 4));
    let whole = chunks_pushed(&o, &["--chunk-threshold", "8MiB", "--chunk-size", "8MiB"]);
    let whole_in_bytes = chunks_pushed(
        &o,
        &["--chunk-threshold", "8388608", "--chunk-size", "8388608"],
    );
    assert_eq!(
        (whole, whole_in_bytes),
        (0, 0),
        "monolithic below the threshold"
    );

    let bundle = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/bundle-v1.zip");
    let out_zip = o.home.path().join("out.zip");
    let out_zip = out_zip.to_str().expect("utf8");
    let sizes = "give bytes (8388608) or a number with a unit";
    let durations = "give seconds (90) or numbers with units s, m, h";
    // (arguments, the option named, the value named, the forms)
    let cases: &[(&[&str], &str, &str, &str)] = &[
        (
            &[
                "unpack",
                bundle,
                "--push",
                "localhost:5000",
                "--chunk-size",
                "8XB",
            ],
            "--chunk-size",
            "8XB",
            sizes,
        ),
        (
            &[
                "unpack",
                bundle,
                "--push",
                "localhost:5000",
                "--chunk-threshold",
                "1GiB-",
            ],
            "--chunk-threshold",
            "1GiB-",
            sizes,
        ),
        (
            &[
                "pack",
                "--volume-size",
                "4 parsecs",
                "-o",
                out_zip,
                "busybox",
            ],
            "--volume-size",
            "4 parsecs",
            sizes,
        ),
        (
            &[
                "pack",
                "--timeout",
                "5 fortnights",
                "-o",
                out_zip,
                "busybox",
            ],
            "--timeout",
            "5 fortnights",
            durations,
        ),
        (
            &["pack", "--timeout", "0", "-o", out_zip, "busybox"],
            "--timeout",
            "0",
            "give at least one second",
        ),
        (
            &[
                "receipt",
                "--registry",
                "localhost:5000",
                "--timeout",
                "25h",
                "-o",
                out_zip,
            ],
            "--timeout",
            "25h",
            "give at most a day (86400, 24h)",
        ),
    ];
    for (args, option, value, forms) in cases {
        let out = o.run(args);
        let (stdout, err) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}:\n{stdout}{err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: ")
                && first.contains(option)
                && first.contains(value)
                && first.contains(forms),
            "{args:?}: want {option}, `{value}` and `{forms}` in the first line of:\n{err}"
        );
    }
    // Durations with units, and plain seconds, are taken (the run then fails for want of
    // a registry, not at parsing).
    for timeout in ["90s", "5m", "1h30m", "60"] {
        let out = o.run(&[
            "receipt",
            "--registry",
            "127.0.0.1:1",
            "--retries",
            "0",
            "--timeout",
            timeout,
            "-o",
            out_zip,
        ]);
        assert_eq!(out.status.code(), Some(1), "{timeout}: {}", text(&out).1);
    }
}
