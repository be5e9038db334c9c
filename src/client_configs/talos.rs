//! A Talos machine-config patch (`talosctl patch mc --patch @FILE`, or a config patch at
//! install): `machine.registries.mirrors.<registry>.endpoints` for every source registry.
//! Talos (containerd underneath) mirrors a whole registry, so a registry moved under a
//! path is said with `overridePath` and the path after `/v2`; names moved one by one cannot
//! be said and are refused (see [`super::Routes::per_registry`]).

use super::{ClientConfigError, Routes};
use serde_json::{Map, json};

/// The patch for `routes`.
pub fn machine_config_patch(routes: &Routes) -> Result<String, ClientConfigError> {
    let url = routes.registry.url();
    let mut mirrors = Map::new();
    for (registry, under) in routes.per_registry("a Talos machine config")? {
        let entry = if under.is_empty() {
            json!({ "endpoints": [url] })
        } else {
            // With overridePath, containerd appends only `/<repo>/manifests/…` to the
            // endpoint, so the endpoint carries `/v2` and the path itself.
            json!({ "endpoints": [format!("{url}/v2/{under}")], "overridePath": true })
        };
        mirrors.insert(registry, entry);
    }
    let mut registries = Map::new();
    registries.insert("mirrors".into(), mirrors.into());
    if routes.registry.skip_verify && !routes.registry.plain_http {
        registries.insert(
            "config".into(),
            json!({ routes.registry.host.clone(): { "tls": { "insecureSkipVerify": true } } }),
        );
    }
    serde_saphyr::to_string(&json!({ "machine": { "registries": registries } })).map_err(|e| {
        ClientConfigError::Render {
            what: "the Talos patch",
            reason: e.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::{MirrorRegistry, Route};
    use super::*;
    use serde_json::Value;

    #[test]
    fn a_registry_under_a_path_overrides_it() {
        let routes = Routes::new(
            MirrorRegistry {
                host: "site:5000".into(),
                plain_http: true,
                skip_verify: false,
            },
            [
                Route {
                    source: "docker.io/library/nginx".into(),
                    mirror: "site:5000/mirror/library/nginx".into(),
                },
                Route {
                    source: "ghcr.io/org/app".into(),
                    mirror: "site:5000/org/app".into(),
                },
            ],
        );
        let doc: Value =
            serde_saphyr::from_str(&machine_config_patch(&routes).expect("yaml")).expect("parses");
        let mirrors = &doc["machine"]["registries"]["mirrors"];
        assert_eq!(
            mirrors["docker.io"]["endpoints"][0],
            "http://site:5000/v2/mirror"
        );
        assert_eq!(mirrors["docker.io"]["overridePath"], true);
        assert_eq!(mirrors["ghcr.io"]["endpoints"][0], "http://site:5000");
        assert!(mirrors["ghcr.io"].get("overridePath").is_none());
    }
}
