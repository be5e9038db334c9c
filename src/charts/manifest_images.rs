//! The images Kubernetes manifests name: every container, init container and ephemeral
//! container of every workload kind (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet,
//! ReplicationController, Job, CronJob, and any kind with a pod template in the usual
//! place), in multi-document YAML such as `helm template` or `kustomize build` prints.

use super::{ChartError, FoundImage};
use serde_json::Value;

/// Where each kind keeps its pod spec.
fn pod_spec(doc: &Value) -> Option<&Value> {
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    match kind {
        "Pod" => doc.get("spec"),
        "CronJob" => doc.pointer("/spec/jobTemplate/spec/template/spec"),
        // Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, and
        // custom kinds that follow the same template shape.
        _ => doc.pointer("/spec/template/spec"),
    }
}

/// Images in the manifests of `text` (`source` names the file, `-` for stdin).
pub fn in_manifests(text: &str, source: &str) -> Result<Vec<FoundImage>, ChartError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| ChartError::Invalid {
        what: source.to_owned(),
        reason: e.to_string(),
    })?;
    let mut found = Vec::new();
    for (n, doc) in docs.iter().enumerate() {
        let docs_here: Vec<&Value> = match doc.get("kind").and_then(Value::as_str) {
            // `kubectl get -o yaml` and some tools wrap documents in a List.
            Some("List") => doc
                .get("items")
                .and_then(Value::as_array)
                .map(|items| items.iter().collect())
                .unwrap_or_default(),
            _ => vec![doc],
        };
        for doc in docs_here {
            let Some(spec) = pod_spec(doc) else { continue };
            let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("?");
            let name = doc
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            for list in ["initContainers", "containers", "ephemeralContainers"] {
                for container in spec
                    .get(list)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let Some(image) = container.get("image").and_then(Value::as_str) else {
                        continue;
                    };
                    let cname = container.get("name").and_then(Value::as_str).unwrap_or("?");
                    found.push(FoundImage {
                        reference: image.trim().to_owned(),
                        found_at: format!("{source} #{} {kind}/{name} {list} {cname}", n + 1),
                    });
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_kind_and_container_list_is_read() {
        let text = r#"
apiVersion: v1
kind: Service
metadata: {name: web}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      initContainers: [{name: init, image: busybox:1.36}]
      containers: [{name: app, image: "nginx:1.27"}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: job, image: ghcr.io/org/backup@sha256:0000000000000000000000000000000000000000000000000000000000000000}]
---
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec:
  containers: [{name: c, image: alpine:3}]
  ephemeralContainers: [{name: e, image: debug:1}]
---
"#;
        let found = in_manifests(text, "install.yaml").expect("yaml");
        let refs: Vec<&str> = found.iter().map(|f| f.reference.as_str()).collect();
        assert_eq!(refs.len(), 5, "{refs:?}");
        assert!(refs.contains(&"busybox:1.36") && refs.contains(&"debug:1"));
        assert!(
            found
                .iter()
                .any(|f| f.found_at == "install.yaml #2 Deployment/web containers app")
        );
        assert!(
            found
                .iter()
                .any(|f| f.found_at.starts_with("install.yaml #3 CronJob/backup"))
        );
    }

    #[test]
    fn not_yaml_is_named() {
        assert!(in_manifests("a: [", "bad.yaml").is_err());
    }
}
