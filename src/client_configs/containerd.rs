//! containerd's `hosts.toml` (`config_path`, e.g. `/etc/containerd/certs.d/<registry>/`):
//! the site registry as the first host for a source registry. A registry moved under a
//! path is said with `override_path` and `/v2/<path>` in the host URL, since containerd
//! otherwise appends `/v2/<repo>` to the host itself.

use super::registries_conf::toml_string;
use super::{ClientConfigError, Routes};
use std::collections::BTreeMap;

/// The upstream containerd falls back to: Docker Hub's API host for `docker.io`.
fn upstream(registry: &str) -> String {
    match registry {
        "docker.io" => "https://registry-1.docker.io".to_owned(),
        other => format!("https://{other}"),
    }
}

/// `hosts.toml` per source registry of `routes`, keyed by registry.
pub fn hosts_toml(routes: &Routes) -> Result<BTreeMap<String, String>, ClientConfigError> {
    let url = routes.registry.url();
    let mut files = BTreeMap::new();
    for (registry, under) in routes.per_registry("containerd's hosts.toml")? {
        let (host, override_path) = match under.as_str() {
            "" => (url.clone(), false),
            path => (format!("{url}/v2/{path}"), true),
        };
        let mut text = format!(
            "# {}\nserver = {}\n\n[host.{}]\n  capabilities = [\"pull\", \"resolve\"]\n",
            super::BANNER,
            toml_string(&upstream(&registry)),
            toml_string(&host)
        );
        if override_path {
            text.push_str("  override_path = true\n");
        }
        if routes.registry.skip_verify && !routes.registry.plain_http {
            text.push_str("  skip_verify = true\n");
        }
        files.insert(registry, text);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::super::{MirrorRegistry, Route};
    use super::*;

    #[test]
    fn a_moved_registry_overrides_the_path() {
        let routes = Routes::new(
            MirrorRegistry {
                host: "site:5000".into(),
                plain_http: false,
                skip_verify: true,
            },
            [Route {
                source: "docker.io/library/nginx".into(),
                mirror: "site:5000/mirror/library/nginx".into(),
            }],
        );
        let files = hosts_toml(&routes).expect("even");
        let text = &files["docker.io"];
        assert!(
            text.contains("server = \"https://registry-1.docker.io\""),
            "{text}"
        );
        assert!(
            text.contains("[host.\"https://site:5000/v2/mirror\"]"),
            "{text}"
        );
        assert!(
            text.contains("override_path = true") && text.contains("skip_verify = true"),
            "{text}"
        );
    }
}
