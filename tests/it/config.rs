//! `outrider validate`: the original outrider's config examples stay valid, and a broken
//! file gets every error with its place.

use crate::support::{Outrider, text};

/// The config forms the original (Python) outrider accepted, one file each, in
/// `fixtures/original-configs/` (see `fixtures/README.md`).
fn original_configs() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/original-configs");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let yaml = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            (p.display().to_string(), yaml)
        })
        .collect()
}

#[test]
fn the_original_examples_are_valid() {
    let o = Outrider::new();
    // The fixtures name ~/.ssh/id_ed25519 and config.example.yaml ~/.ssh/id_rsa;
    // validate checks key files exist.
    let ssh = o.home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).expect("mkdir");
    for key in ["id_ed25519", "id_rsa"] {
        std::fs::write(ssh.join(key), "placeholder key for validate").expect("write");
    }
    let configs = original_configs();
    // One file per form: the sections, transports, plugins and their options, targets.
    assert!(configs.len() >= 14, "found {} configs", configs.len());
    let mut seen = std::collections::HashSet::new();
    for (file, yaml) in &configs {
        assert!(seen.insert(yaml), "{file} repeats another file");
        let out = o.run(&["validate", "-c", file]);
        let (stdout, err) = text(&out);
        assert!(
            out.status.success(),
            "{file} is refused:\n{yaml}\n{stdout}{err}"
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
