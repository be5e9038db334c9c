//! A structural check of a Kubernetes object against the `openAPIV3Schema` of a published
//! CRD (fixtures/openshift-crds/, copied from github.com/openshift/api), as the API server
//! checks it: kind and apiVersion, types, unknown fields, required fields, enums, list
//! limits and uniqueness, and the image-scope `pattern` OpenShift's mirror sets use (the
//! one pattern these CRDs have, matched by hand: no regex engine here; an unknown pattern
//! is reported, so a changed CRD is noticed). CEL rules (`x-kubernetes-validations`) are
//! not evaluated.

use serde_json::Value;

/// The scope pattern of `mirrors` items (host[:port][/path]).
const SCOPE: &str = r"^((?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?)(?:(?:/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$";

/// The pattern of `source`: a scope, or `*.domain`.
const SOURCE: &str = r"^\*(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+$|^((?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?)(?:(?:/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$";

/// Every way `object` (YAML) breaks the CRD `crd` (YAML); empty when it fits.
pub fn problems(crd: &str, object: &str) -> Vec<String> {
    let crd: Value = serde_saphyr::from_str(crd).expect("CRD YAML");
    let object: Value = serde_saphyr::from_str(object).expect("object YAML");
    let mut out = Vec::new();
    let group = crd["spec"]["group"].as_str().unwrap_or_default();
    let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or_default();
    if object["kind"] != kind {
        out.push(format!("kind {} is not {kind}", object["kind"]));
    }
    let api = object["apiVersion"].as_str().unwrap_or_default();
    let Some(version) = crd["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| format!("{group}/{}", v["name"].as_str().unwrap_or_default()) == api)
    else {
        out.push(format!("apiVersion `{api}` is not served by the CRD"));
        return out;
    };
    if object["metadata"]["name"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        out.push("metadata.name is missing".into());
    }
    check(&version["schema"]["openAPIV3Schema"], &object, "", &mut out);
    out
}

fn check(schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let mut fail = |m: String| out.push(format!("{}: {m}", if at.is_empty() { "." } else { at }));
    match schema["type"].as_str() {
        Some("object") => {
            let Some(map) = value.as_object() else {
                return fail(format!("expected an object, got {value}"));
            };
            for r in schema["required"].as_array().into_iter().flatten() {
                if let Some(r) = r.as_str()
                    && !map.contains_key(r)
                {
                    fail(format!("`{r}` is required"));
                }
            }
            let properties = schema["properties"].as_object();
            let open = schema["x-kubernetes-preserve-unknown-fields"] == true
                || properties.is_none()
                || !schema["additionalProperties"].is_null();
            for (key, v) in map {
                let path = format!("{at}.{key}");
                match properties.and_then(|p| p.get(key)) {
                    Some(s) => check(s, v, &path, out),
                    None if open => {}
                    None => out.push(format!("{path}: unknown field")),
                }
            }
        }
        Some("array") => {
            let Some(items) = value.as_array() else {
                return fail(format!("expected a list, got {value}"));
            };
            if let Some(max) = schema["maxItems"].as_u64()
                && items.len() as u64 > max
            {
                fail(format!("{} items, at most {max}", items.len()));
            }
            if let Some(min) = schema["minItems"].as_u64()
                && (items.len() as u64) < min
            {
                fail(format!("{} items, at least {min}", items.len()));
            }
            if schema["x-kubernetes-list-type"] == "set" {
                let mut seen = std::collections::HashSet::new();
                if !items.iter().all(|i| seen.insert(i.to_string())) {
                    fail("a set with repeated items".into());
                }
            }
            for (i, item) in items.iter().enumerate() {
                check(&schema["items"], item, &format!("{at}[{i}]"), out);
            }
        }
        Some("string") => {
            let Some(text) = value.as_str() else {
                return fail(format!("expected a string, got {value}"));
            };
            if let Some(values) = schema["enum"].as_array()
                && !values.iter().any(|v| v == text)
            {
                fail(format!("`{text}` is not one of {values:?}"));
            }
            if let Some(max) = schema["maxLength"].as_u64()
                && text.chars().count() as u64 > max
            {
                fail(format!("longer than {max}"));
            }
            match schema["pattern"].as_str() {
                None => {}
                Some(SCOPE) if !scope(text) => fail(format!("`{text}` is not a registry scope")),
                Some(SOURCE) if !(scope(text) || wildcard(text)) => {
                    fail(format!("`{text}` is not a registry scope or `*.domain`"))
                }
                Some(SCOPE | SOURCE) => {}
                Some(other) => fail(format!("a pattern this check does not know: {other}")),
            }
        }
        Some("boolean") if !value.is_boolean() => fail(format!("expected a boolean, got {value}")),
        Some("integer") if !value.is_i64() && !value.is_u64() => {
            fail(format!("expected an integer, got {value}"))
        }
        _ => {}
    }
}

/// A DNS label as the pattern has it: alphanumerics, `-` inside.
fn label(l: &str) -> bool {
    let b = l.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// A path component: lowercase alphanumeric runs joined by `.`, `_`, `__` or `-`s.
fn component(c: &str) -> bool {
    let lower = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = c.as_bytes();
    if b.is_empty() || !lower(b[0]) || !lower(b[b.len() - 1]) {
        return false;
    }
    c.split(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .all(|run| matches!(run, "." | "_" | "__") || run.bytes().all(|x| x == b'-'))
}

/// `host[:port][/path]`.
fn scope(text: &str) -> bool {
    let (authority, path) = text.split_once('/').unwrap_or((text, ""));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    host.split('.').all(label)
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && (path.is_empty() || path.split('/').all(component))
}

/// `*.domain`.
fn wildcard(text: &str) -> bool {
    text.strip_prefix("*.")
        .is_some_and(|rest| rest.split('.').all(label))
}
