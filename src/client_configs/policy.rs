//! containers-policy.json(5) and containers-registries.d(5) for the carried images, so a
//! node that pulls them through the mirror (registries.conf) also requires their cosign
//! signature. The two files must agree, or signature checks break on mirrored nodes (an
//! OpenShift installer once wrote a policy scoped to the mirror while the runtime checked
//! the original name):
//!
//! - the policy scopes both the original repository (`docker.io/library/nginx`, what the
//!   node asks for) and its mirror (`site:5000/mirror/library/nginx`), each requiring a
//!   `sigstoreSigned` signature by the site's key; the original name matches the identity
//!   cosign signed (`matchRepository`: cosign's claim names the repository, no tag), the
//!   mirror's is mapped back to it (`remapIdentity`);
//! - registries.d turns on `use-sigstore-attachments` for the same scopes, so the
//!   signatures are looked up where cosign stores them (`sha256-<hex>.sig` tags), which
//!   `unpack --push` carried across.
//!
//! The existing policy is merged: its default and other scopes are kept.

use super::{BANNER, ClientConfigError, Routes};
use serde_json::{Map, Value, json};
use std::path::PathBuf;

/// What each carried image must be signed with, as the node finds it.
#[derive(Clone, Debug, Default)]
pub struct SignaturePolicy {
    /// Public keys (PEM) on the node: one key is `keyPath`; several are `keyPaths` (any
    /// one may have signed; read by containers/image 5.29 and later).
    pub key_paths: Vec<PathBuf>,
}

impl SignaturePolicy {
    fn requirement(&self, identity: Value) -> Value {
        let mut r = Map::new();
        r.insert("type".into(), json!("sigstoreSigned"));
        match self.key_paths.as_slice() {
            [one] => {
                r.insert("keyPath".into(), json!(one.display().to_string()));
            }
            many => {
                let paths: Vec<String> = many.iter().map(|p| p.display().to_string()).collect();
                r.insert("keyPaths".into(), json!(paths));
            }
        }
        r.insert("signedIdentity".into(), identity);
        Value::Object(r)
    }
}

/// `existing` (the node's policy.json text, if any) with every route's scopes requiring
/// `signatures`. A new policy's default accepts what it does not name, as the policy
/// distributions ship does; an existing default is kept.
pub fn policy_json(
    existing: Option<&str>,
    routes: &Routes,
    signatures: &SignaturePolicy,
) -> Result<String, ClientConfigError> {
    let existing_error = |reason: String| ClientConfigError::Existing {
        path: "policy.json".into(),
        reason,
    };
    let mut doc: Value = match existing.map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => serde_json::from_str(text).map_err(|e| existing_error(e.to_string()))?,
        None => json!({ "default": [{ "type": "insecureAcceptAnything" }] }),
    };
    let Some(top) = doc.as_object_mut() else {
        return Err(existing_error("it is not a JSON object".into()));
    };
    top.entry("default")
        .or_insert_with(|| json!([{ "type": "insecureAcceptAnything" }]));
    let docker = top
        .entry("transports")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| existing_error("`transports` is not an object".into()))?
        .entry("docker")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| existing_error("`transports.docker` is not an object".into()))?;
    for route in &routes.routes {
        docker.insert(
            route.source.clone(),
            json!([signatures.requirement(json!({ "type": "matchRepository" }))]),
        );
        docker.insert(
            route.mirror.clone(),
            json!([signatures.requirement(json!({
                "type": "remapIdentity",
                "prefix": route.mirror,
                "signedPrefix": route.source,
            }))]),
        );
    }
    let mut text = serde_json::to_string_pretty(&doc).map_err(|e| ClientConfigError::Render {
        what: "policy.json",
        reason: e.to_string(),
    })?;
    text.push('\n');
    Ok(text)
}

/// A registries.d drop-in (`/etc/containers/registries.d/outrider.yaml`) that looks up
/// sigstore signatures for the original and the mirror scope of every route.
pub fn registries_d(routes: &Routes) -> Result<String, ClientConfigError> {
    let mut docker = Map::new();
    for route in &routes.routes {
        for scope in [&route.source, &route.mirror] {
            docker.insert(scope.clone(), json!({ "use-sigstore-attachments": true }));
        }
    }
    let yaml = serde_saphyr::to_string(&json!({ "docker": docker })).map_err(|e| {
        ClientConfigError::Render {
            what: "registries.d",
            reason: e.to_string(),
        }
    })?;
    Ok(format!("# {BANNER}\n{yaml}"))
}

#[cfg(test)]
mod tests {
    use super::super::{MirrorRegistry, Route};
    use super::*;

    fn one() -> Routes {
        Routes::new(
            MirrorRegistry {
                host: "site:5000".into(),
                ..MirrorRegistry::default()
            },
            [Route {
                source: "docker.io/library/nginx".into(),
                mirror: "site:5000/m/library/nginx".into(),
            }],
        )
    }

    #[test]
    fn both_scopes_require_the_key_and_other_scopes_stay() {
        let existing = r#"{"default":[{"type":"reject"}],"transports":{"docker":{"other.io":[{"type":"insecureAcceptAnything"}]}}}"#;
        let policy = SignaturePolicy {
            key_paths: vec!["/etc/containers/site.pub".into()],
        };
        let text = policy_json(Some(existing), &one(), &policy).expect("merged");
        let doc: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(doc["default"][0]["type"], "reject");
        assert_eq!(
            doc["transports"]["docker"]["other.io"][0]["type"],
            "insecureAcceptAnything"
        );
        let original = &doc["transports"]["docker"]["docker.io/library/nginx"][0];
        assert_eq!(original["type"], "sigstoreSigned");
        assert_eq!(original["keyPath"], "/etc/containers/site.pub");
        assert_eq!(original["signedIdentity"]["type"], "matchRepository");
        let mirror = &doc["transports"]["docker"]["site:5000/m/library/nginx"][0];
        assert_eq!(mirror["signedIdentity"]["type"], "remapIdentity");
        assert_eq!(
            mirror["signedIdentity"]["signedPrefix"],
            "docker.io/library/nginx"
        );
    }

    #[test]
    fn a_policy_that_is_not_an_object_is_named() {
        let e = policy_json(Some("[]"), &one(), &SignaturePolicy::default()).expect_err("array");
        assert!(e.to_string().contains("not a JSON object"), "{e}");
    }

    #[test]
    fn registries_d_turns_on_attachments_for_both_scopes() {
        let text = registries_d(&one()).expect("yaml");
        let doc: Value = serde_saphyr::from_str(&text).expect("parses");
        assert_eq!(
            doc["docker"]["docker.io/library/nginx"]["use-sigstore-attachments"],
            true
        );
        assert_eq!(
            doc["docker"]["site:5000/m/library/nginx"]["use-sigstore-attachments"],
            true
        );
    }
}
