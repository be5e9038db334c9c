//! Configuration that points a site's runtimes at `serve` as a mirror of every source
//! registry in the bundles: k3s's `registries.yaml` (merged, backed up first) and a
//! containerd `hosts.toml` per registry (`DIR/<registry>/hosts.toml`, the layout
//! containerd's `config_path` and `ctr --hosts-dir` read). containerd then asks the mirror
//! with `?ns=<registry>`, which is how the server finds images by their original names.

use anyhow::Context;
use std::path::Path;

/// The upstream a mirror falls back to: Docker Hub's API host for `docker.io`.
fn upstream(registry: &str) -> String {
    match registry {
        crate::oci::reference::DOCKER_HUB => "https://registry-1.docker.io".to_owned(),
        other => format!("https://{other}"),
    }
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// The `hosts.toml` for one source registry mirrored to `endpoint`.
pub fn hosts_toml(registry: &str, endpoint: &str, ca: Option<&Path>) -> String {
    let mut text = format!(
        "# Written by `outrider serve`: pull {registry} images from the bundle server first.\nserver = {}\n\n[host.{}]\n  capabilities = [\"pull\", \"resolve\"]\n",
        toml_string(&upstream(registry)),
        toml_string(endpoint)
    );
    if let Some(ca) = ca {
        text.push_str(&format!(
            "  ca = {}\n",
            toml_string(&ca.display().to_string())
        ));
    }
    text
}

/// Writes `DIR/<registry>/hosts.toml` for each registry; an existing file is kept beside
/// the new one as `hosts.toml.outrider-backup`.
pub fn write_containerd_hosts(
    dir: &Path,
    registries: &[String],
    endpoint: &str,
    ca: Option<&Path>,
) -> anyhow::Result<()> {
    for registry in registries {
        // Registry names were validated (host[:port], no empty label) when the bundle was
        // read; a name that is not one plain path component is still never joined.
        let mut parts = Path::new(registry).components();
        if !matches!(
            (parts.next(), parts.next()),
            (Some(std::path::Component::Normal(_)), None)
        ) {
            anyhow::bail!("registry `{registry}` cannot name a folder");
        }
        let folder = dir.join(registry);
        fs_err::create_dir_all(&folder)?;
        let path = folder.join("hosts.toml");
        crate::atomic_file::back_up(&path)?;
        crate::atomic_file::write(&path, hosts_toml(registry, endpoint, ca).as_bytes(), None)
            .with_context(|| format!("writing `{}`", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_falls_back_to_its_api_host() {
        let text = hosts_toml("docker.io", "http://127.0.0.1:5000", None);
        assert!(text.contains("server = \"https://registry-1.docker.io\""));
        assert!(text.contains("[host.\"http://127.0.0.1:5000\"]"));
        let text = hosts_toml(
            "ghcr.io",
            "https://site:5000",
            Some(Path::new("/etc/ca.pem")),
        );
        assert!(text.contains("server = \"https://ghcr.io\""));
        assert!(text.contains("ca = \"/etc/ca.pem\""));
    }
}
