//! `outrider validate`: the original outrider's config examples stay valid, and a broken
//! file gets every error with its place.

use crate::support::{Outrider, text};

/// The ```yaml blocks of the original outrider's README (seed 000, beside the checkout).
fn seed_blocks() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/seeds/000_ded75530df40e2e8.txt"
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (shared/ must sit beside the checkout)"));
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```yaml") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn the_original_examples_are_valid() {
    let o = Outrider::new();
    // The examples name ~/.ssh/id_rsa; validate checks key files exist.
    let ssh = o.home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).expect("mkdir");
    std::fs::write(ssh.join("id_rsa"), "placeholder key for validate").expect("write");
    let blocks = seed_blocks();
    assert!(blocks.len() >= 10, "found {} yaml blocks", blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let file = o.home.path().join(format!("example-{i}.yaml"));
        std::fs::write(&file, block).expect("write");
        let out = o.run(&["validate", "-c", file.to_str().expect("utf8")]);
        let (stdout, err) = text(&out);
        assert!(
            out.status.success(),
            "example {i} is refused:\n{block}\n{stdout}{err}"
        );
    }
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.yaml");
    let out = o.run(&["validate", "-c", example]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "config.example.yaml: {stdout}{err}");
}

#[test]
fn every_problem_is_named_with_its_place() {
    let o = Outrider::new();
    let file = o.home.path().join("broken.yaml");
    std::fs::write(
        &file,
        "images:\n  - nginx:1.27\ntransport:\n  type: ssh\n  options:\n    key_file: /nonexistent/key\ntargets:\n  - host: 127.0.0.1\n    port: seventy\npost_instructions:\n  plugin: k3s_airgapp\n",
    )
    .expect("write");
    let out = o.run(&["validate", "-c", file.to_str().expect("utf8")]);
    let (stdout, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{err}");
    let f = file.display();
    for want in [
        format!("{f}:6:5: transport.options.key_file: cannot read `/nonexistent/key`"),
        format!("{f}:9:5: targets[0].port: expected a port number from 1 to 65535, got `seventy`"),
        format!(
            "{f}:11:3: post_instructions.plugin: unknown plugin `k3s_airgapp`; did you mean `k3s_airgap`?"
        ),
    ] {
        assert!(stdout.contains(&want), "missing `{want}` in:\n{stdout}");
    }
    assert!(err.contains("3 problems"), "{err}");
}
