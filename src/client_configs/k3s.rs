//! k3s/RKE2 `registries.yaml` rewrites from the routes: k3s (containerd underneath)
//! sends a mirrored registry's pulls to the endpoint with the repository path rewritten
//! by regular expressions. A registry moved whole under one path gets one rewrite
//! (`^(.*)$` → `PATH/$1`); names mapped or flattened one by one get one anchored rewrite
//! per repository (`^library/nginx$` → `lib/nginx`). The file itself is merged by
//! [`crate::k3s_registries`].

use super::Routes;
use std::collections::BTreeMap;

/// `s` as a regular expression matching itself (repository paths hold `.`, the one
/// character of theirs a regular expression reads otherwise).
fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if !c.is_ascii_alphanumeric() && !matches!(c, '/' | '_' | '-') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Routes {
    /// Per source registry, its `rewrite` table (empty: names unchanged).
    pub fn k3s_rewrites(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        if let Ok(per) = self.per_registry("k3s registries.yaml") {
            return per
                .into_iter()
                .map(|(registry, under)| {
                    let table = match under.as_str() {
                        "" => BTreeMap::new(),
                        p => BTreeMap::from([("^(.*)$".to_owned(), format!("{p}/$1"))]),
                    };
                    (registry, table)
                })
                .collect();
        }
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for route in &self.routes {
            out.entry(route.source_registry().to_owned())
                .or_default()
                .insert(
                    format!("^{}$", literal(route.source_path())),
                    route.mirror_path().to_owned(),
                );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{MirrorRegistry, Route};
    use super::*;

    #[test]
    fn names_moved_one_by_one_get_one_anchored_rewrite_each() {
        let routes = Routes::new(
            MirrorRegistry {
                host: "site:5000".into(),
                ..MirrorRegistry::default()
            },
            [
                ("docker.io/library/nginx", "site:5000/m/lib/nginx"),
                ("docker.io/a/b.c/d", "site:5000/m/a-b.c-d"),
            ]
            .map(|(s, m)| Route {
                source: s.into(),
                mirror: m.into(),
            }),
        );
        let r = routes.k3s_rewrites();
        assert_eq!(r["docker.io"]["^library/nginx$"], "m/lib/nginx");
        assert_eq!(r["docker.io"]["^a/b\\.c/d$"], "m/a-b.c-d");
        let even = Routes::new(
            MirrorRegistry::default(),
            [Route {
                source: "quay.io/org/app".into(),
                mirror: "site/m/org/app".into(),
            }],
        );
        assert_eq!(even.k3s_rewrites()["quay.io"]["^(.*)$"], "m/$1");
    }
}
