//! OpenShift's `ImageDigestMirrorSet` and `ImageTagMirrorSet` (config.openshift.io/v1):
//! each carried repository with the repository that now holds it as its one mirror. The
//! digest set covers pulls by digest (what OpenShift releases and operators use); the tag
//! set covers pulls by tag, which OpenShift only sends to mirrors when told to.

use super::{ClientConfigError, Routes};
use serde_json::{Value, json};

fn mirror_set(
    routes: &Routes,
    name: &str,
    kind: &'static str,
    list: &str,
) -> Result<String, ClientConfigError> {
    let mirrors: Vec<Value> = routes
        .routes
        .iter()
        .map(|r| json!({ "source": r.source, "mirrors": [r.mirror] }))
        .collect();
    let doc = json!({
        "apiVersion": "config.openshift.io/v1",
        "kind": kind,
        "metadata": { "name": name },
        "spec": { list: mirrors },
    });
    serde_saphyr::to_string(&doc).map_err(|e| ClientConfigError::Render {
        what: kind,
        reason: e.to_string(),
    })
}

/// An `ImageDigestMirrorSet` named `name`.
pub fn digest_mirror_set(routes: &Routes, name: &str) -> Result<String, ClientConfigError> {
    mirror_set(routes, name, "ImageDigestMirrorSet", "imageDigestMirrors")
}

/// An `ImageTagMirrorSet` named `name`.
pub fn tag_mirror_set(routes: &Routes, name: &str) -> Result<String, ClientConfigError> {
    mirror_set(routes, name, "ImageTagMirrorSet", "imageTagMirrors")
}

#[cfg(test)]
mod tests {
    use super::super::{MirrorRegistry, Route};
    use super::*;

    #[test]
    fn each_repository_has_its_mirror() {
        let routes = Routes::new(
            MirrorRegistry::default(),
            [Route {
                source: "quay.io/org/app".into(),
                mirror: "site:5000/org/app".into(),
            }],
        );
        let doc: Value = serde_saphyr::from_str(&digest_mirror_set(&routes, "site").expect("yaml"))
            .expect("parses");
        assert_eq!(doc["kind"], "ImageDigestMirrorSet");
        assert_eq!(
            doc["spec"]["imageDigestMirrors"][0]["source"],
            "quay.io/org/app"
        );
        assert_eq!(
            doc["spec"]["imageDigestMirrors"][0]["mirrors"][0],
            "site:5000/org/app"
        );
        let doc: Value = serde_saphyr::from_str(&tag_mirror_set(&routes, "site").expect("yaml"))
            .expect("parses");
        assert_eq!(
            doc["spec"]["imageTagMirrors"][0]["mirrors"][0],
            "site:5000/org/app"
        );
    }
}
