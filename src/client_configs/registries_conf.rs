//! containers-registries.conf(5), version 2, for podman, CRI-O, buildah and skopeo: one
//! `[[registry]]` per carried repository whose mirror is where the image was placed, so a
//! pull of the original name is served by the site registry. Written as a drop-in
//! (`/etc/containers/registries.conf.d/*.conf`), which containers/image merges over the
//! main file, so the site's own settings stay untouched.

use super::{BANNER, Routes};

/// A TOML basic string (JSON's escapes are a subset TOML reads the same way).
pub(super) fn toml_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// The drop-in for `routes`. Each repository gets its own entry (`prefix` = the original
/// repository), so names moved one by one are said exactly and other images of the same
/// registry are not sent to the mirror.
pub fn registries_conf(routes: &Routes) -> String {
    let mut text = format!("# {BANNER}\n");
    for route in &routes.routes {
        text.push_str(&format!(
            "\n[[registry]]\nprefix = {source}\nlocation = {source}\n\n[[registry.mirror]]\nlocation = {mirror}\n",
            source = toml_string(&route.source),
            mirror = toml_string(&route.mirror),
        ));
        if routes.registry.insecure() {
            text.push_str("insecure = true\n");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::{MirrorRegistry, Route};
    use super::*;

    #[test]
    fn each_repository_names_its_mirror() {
        let routes = Routes::new(
            MirrorRegistry {
                host: "site:5000".into(),
                plain_http: true,
                skip_verify: false,
            },
            [Route {
                source: "docker.io/library/nginx".into(),
                mirror: "site:5000/mirror/library/nginx".into(),
            }],
        );
        let text = registries_conf(&routes);
        assert!(
            text.contains("prefix = \"docker.io/library/nginx\""),
            "{text}"
        );
        assert!(text.contains("[[registry.mirror]]\nlocation = \"site:5000/mirror/library/nginx\"\ninsecure = true"), "{text}");
    }
}
