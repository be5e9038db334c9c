//! The config file's schema: the fields each section knows, and "did you mean" for a
//! field that is none of them. The original outrider's fields come first in each list.

/// Top-level fields.
pub const TOP: &[&str] = &[
    "images",
    "runtime",
    "transport",
    "targets",
    "output_tar",
    "remote_tar_path",
    "post_instructions",
    "bundle",
    "registry",
    "map",
    "max_depth",
    "depth_separator",
    "state_dir",
    "registries",
    "platforms",
    "parallel",
    "charts",
    "files",
];

/// Fields of one `registries.HOST` entry.
pub const REGISTRY_FIELDS: &[&str] = &[
    "username",
    "password",
    "password_env",
    "plain_http",
    "insecure_skip_verify",
    "ca_file",
    "mirror",
];

/// `runtime` types (or `runtime.type`).
pub const RUNTIME_TYPES: &[&str] = &["docker", "podman", "containerd", "k3s"];

/// Fields of `transport.options`.
pub const TRANSPORT_OPTIONS: &[&str] = &[
    "key_file",
    "password",
    "passphrase_env",
    "known_hosts",
    "accept_new_host_keys",
    "connect_timeout",
    "command_timeout",
    "idle_timeout",
    "keepalive",
];

/// Fields of one `targets[N]` entry.
pub const TARGET_FIELDS: &[&str] = &["host", "user", "port", "name"];

/// `post_instructions.plugin` names, each with the fields of its `options`.
pub const PLUGINS: &[(&str, &[&str])] = &[
    (
        "k3s_airgap",
        &[
            "k3s_path",
            "images_dir",
            "import_now",
            "cleanup_tar",
            "containerd_path",
        ],
    ),
    (
        "docker",
        &["docker_cmd", "use_sudo", "sudo_password", "cleanup_tar"],
    ),
    ("generic_ssh", &["command"]),
];

/// `; did you mean `K`?` for a near miss of one of `known`, else the list of them.
pub fn suggestion(key: &str, known: &[&str]) -> String {
    match known.iter().map(|k| (distance(key, k), k)).min() {
        Some((d, k)) if d <= 2 || (d <= 3 && key.len() > 6) => format!("; did you mean `{k}`?"),
        _ => format!("; expected one of: {}", known.join(", ")),
    }
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_suggested() {
        assert_eq!(suggestion("imagez", TOP), "; did you mean `images`?");
        assert!(suggestion("zzz", RUNTIME_TYPES).starts_with("; expected one of: docker"));
    }
}
