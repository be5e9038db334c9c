//! What each section of the config must hold: the original outrider's `images`, `runtime`,
//! `transport`, `targets`, `remote_tar_path`, `post_instructions`, and the bundle era's
//! `platforms`, `registries`, `parallel`. Each rule records its problems on the
//! [`Checker`] and goes on, so one run reports them all.

use super::checker::{Checker, kind};
use super::location::Step;
use super::schema::{
    PLUGINS, REGISTRY_FIELDS, RUNTIME_TYPES, TARGET_FIELDS, TOP, TRANSPORT_OPTIONS, suggestion,
};
use serde_json::Value;

/// Checks a whole document; nothing is required at the top level.
pub fn document(c: &mut Checker<'_>, doc: &Value) {
    if doc.is_null() {
        return;
    }
    let Some(map) = c.mapping(&[], doc, TOP) else {
        return;
    };
    for (key, value) in map {
        let path = [Step::Key(key.as_str())];
        match key.as_str() {
            "images" => images(c, &path, value),
            "charts" | "files" => carried(c, &path, value, key == "charts"),
            "runtime" => runtime(c, &path, value),
            "transport" => transport(c, &path, value),
            "targets" => targets(c, &path, value),
            "output_tar" | "bundle" | "registry" | "state_dir" => {
                c.string(&path, value);
            }
            "remote_tar_path" => remote_tar_path(c, &path, value),
            "platforms" => platforms(c, &path, value),
            "registries" => registries(c, &path, value),
            "parallel" if !value.as_u64().is_some_and(|n| (1..=256).contains(&n)) => {
                c.problem(
                    &path,
                    format!(
                        "expected a number of targets from 1 to 256, got {}",
                        kind(value)
                    ),
                );
            }
            "post_instructions" => post_instructions(c, &path, value),
            "map" | "max_depth" | "depth_separator" => names(c, &path, key, value),
            _ => {}
        }
    }
}

/// `path` with one more step.
fn child<'a>(path: &[Step<'a>], step: Step<'a>) -> Vec<Step<'a>> {
    let mut p = path.to_vec();
    p.push(step);
    p
}

/// `known`'s own spelling of `key`, so a child path borrows from the schema, not the
/// document.
fn field(known: &[&'static str], key: &str) -> &'static str {
    known.iter().find(|k| **k == key).copied().unwrap_or("?")
}

fn images(c: &mut Checker<'_>, path: &[Step<'_>], value: &Value) {
    let Some(list) = value.as_array() else {
        c.problem(
            path,
            format!("expected a list of image references, got {}", kind(value)),
        );
        return;
    };
    for (i, item) in list.iter().enumerate() {
        let p = child(path, Step::Index(i));
        if let Some(s) = c.string(&p, item)
            && let Err(e) = crate::location::ImageRequest::parse(&s)
        {
            c.problem(&p, e.to_string());
        }
    }
}

/// `charts:` and `files:`: lists of what `pack` carries besides images, each as a
/// request once its prefix is added ([`super::carried_request`]).
fn carried(c: &mut Checker<'_>, path: &[Step<'_>], value: &Value, charts: bool) {
    let what = if charts {
        "charts (`https://REPO/NAME[:VERSION]`, `oci://…`, a .tgz or a chart folder)"
    } else {
        "files (`https://URL#sha256=HEX` or a path)"
    };
    let Some(list) = value.as_array() else {
        c.problem(
            path,
            format!("expected a list of {what}, got {}", kind(value)),
        );
        return;
    };
    for (i, item) in list.iter().enumerate() {
        let p = child(path, Step::Index(i));
        if let Some(s) = c.string(&p, item)
            && let Err(e) = crate::location::ImageRequest::parse(&super::carried_request(
                &s,
                charts,
                std::path::Path::new("."),
            ))
        {
            c.problem(&p, e.to_string());
        }
    }
}

fn platforms(c: &mut Checker<'_>, path: &[Step<'_>], value: &Value) {
    let Some(list) = value.as_array() else {
        c.problem(
            path,
            format!(
                "expected a list of platforms (os/arch[/variant]), got {}",
                kind(value)
            ),
        );
        return;
    };
    for (i, item) in list.iter().enumerate() {
        let p = child(path, Step::Index(i));
        if let Some(s) = c.string(&p, item)
            && let Err(e) = s.parse::<crate::oci::Platform>()
        {
            c.problem(&p, e.to_string());
        }
    }
}

fn registries<'v>(c: &mut Checker<'_>, path: &[Step<'v>], value: &'v Value) {
    let Some(map) = value.as_object() else {
        c.problem(
            path,
            format!(
                "expected a mapping of registry host to settings, got {}",
                kind(value)
            ),
        );
        return;
    };
    for (host, settings) in map {
        let p = child(path, Step::Key(host.as_str()));
        let Some(o) = c.mapping(&p, settings, REGISTRY_FIELDS) else {
            continue;
        };
        for (key, v) in o
            .iter()
            .filter(|(k, _)| REGISTRY_FIELDS.contains(&k.as_str()))
        {
            let q = child(&p, Step::Key(field(REGISTRY_FIELDS, key)));
            match key.as_str() {
                "plain_http" | "insecure_skip_verify" => c.boolean(&q, v),
                "ca_file" => c.readable_file(&q, v, false),
                _ => {
                    c.string(&q, v);
                }
            }
        }
        if o.contains_key("password") && o.contains_key("password_env") {
            c.problem(&p, "give `password` or `password_env`, not both".into());
        }
    }
}

fn runtime(c: &mut Checker<'_>, path: &[Step<'_>], value: &Value) {
    // The original writes `runtime: {type: docker, options: {cmd: …}}`; a bare
    // `runtime: docker` is accepted as the same thing.
    if let Value::String(t) = value {
        if !RUNTIME_TYPES.contains(&t.as_str()) {
            c.problem(
                path,
                format!("unknown runtime `{t}`{}", suggestion(t, RUNTIME_TYPES)),
            );
        }
        return;
    }
    let Some(map) = c.mapping(path, value, &["type", "options"]) else {
        return;
    };
    let p = child(path, Step::Key("type"));
    match map.get("type") {
        None => c.problem(
            path,
            "missing `type` (one of: docker, podman, containerd, k3s)".into(),
        ),
        Some(t) => {
            if let Some(t) = c.string(&p, t)
                && !RUNTIME_TYPES.contains(&t.as_str())
            {
                c.problem(
                    &p,
                    format!("unknown runtime `{t}`{}", suggestion(&t, RUNTIME_TYPES)),
                );
            }
        }
    }
    if let Some(options) = map.get("options") {
        let p = child(path, Step::Key("options"));
        if let Some(o) = c.mapping(&p, options, &["cmd"])
            && let Some(cmd) = o.get("cmd")
        {
            c.string(&child(&p, Step::Key("cmd")), cmd);
        }
    }
}

fn transport(c: &mut Checker<'_>, path: &[Step<'_>], value: &Value) {
    let Some(map) = c.mapping(path, value, &["type", "options"]) else {
        return;
    };
    if let Some(t) = map.get("type") {
        let p = child(path, Step::Key("type"));
        if let Some(t) = c.string(&p, t)
            && t != "ssh"
            && t != "local"
        {
            c.problem(
                &p,
                format!("unknown transport `{t}`; expected `ssh` (or `local`)"),
            );
        }
    } else {
        c.problem(path, "missing `type` (`ssh`)".into());
    }
    let Some(options) = map.get("options") else {
        return;
    };
    let p = child(path, Step::Key("options"));
    let Some(o) = c.mapping(&p, options, TRANSPORT_OPTIONS) else {
        return;
    };
    for (key, v) in o
        .iter()
        .filter(|(k, _)| TRANSPORT_OPTIONS.contains(&k.as_str()))
    {
        let q = child(&p, Step::Key(field(TRANSPORT_OPTIONS, key)));
        match key.as_str() {
            // A missing known_hosts is an empty one, as for ssh; a key must exist.
            "key_file" => c.readable_file(&q, v, false),
            "known_hosts" => c.readable_file(&q, v, true),
            "password" | "passphrase_env" => {
                c.string(&q, v);
            }
            "accept_new_host_keys" | "keepalive" => c.boolean(&q, v),
            "connect_timeout" | "command_timeout" | "idle_timeout"
                if v.as_u64().is_none_or(|n| n == 0) =>
            {
                c.problem(&q, format!("expected a number of seconds, got {}", kind(v)));
            }
            _ => {}
        }
    }
}

/// A file name on the targets. One beginning with `-` is fine: the deploy hands it to
/// remote tools as `./-…`, which none reads as an option.
fn remote_tar_path(c: &mut Checker<'_>, path: &[Step<'_>], value: &Value) {
    let Some(p) = c.string(path, value) else {
        return;
    };
    if p.trim().is_empty() || p.ends_with('/') || p.contains('\n') || p.contains('\0') {
        c.problem(
            path,
            format!(
                "`{}` is not a file name (the tar is written to it with `.partial` added, then renamed)",
                p.escape_debug()
            ),
        );
    }
}

fn targets(c: &mut Checker<'_>, path: &[Step<'_>], value: &Value) {
    let Some(list) = value.as_array() else {
        c.problem(
            path,
            format!("expected a list of targets, got {}", kind(value)),
        );
        return;
    };
    for (i, item) in list.iter().enumerate() {
        let p = child(path, Step::Index(i));
        let Some(t) = c.mapping(&p, item, TARGET_FIELDS) else {
            continue;
        };
        match t.get("host") {
            None => c.problem(&p, "missing `host`".into()),
            Some(h) => {
                let q = child(&p, Step::Key("host"));
                if let Some(h) = c.string(&q, h)
                    && h.trim().is_empty()
                {
                    c.problem(&q, "empty host".into());
                }
            }
        }
        if let Some(u) = t.get("user") {
            c.string(&child(&p, Step::Key("user")), u);
        }
        if let Some(port) = t.get("port")
            && !port.as_u64().is_some_and(|n| (1..=65535).contains(&n))
        {
            c.problem(
                &child(&p, Step::Key("port")),
                format!("expected a port number from 1 to 65535, got {}", kind(port)),
            );
        }
    }
}

fn post_instructions(c: &mut Checker<'_>, path: &[Step<'_>], value: &Value) {
    if value.is_null() {
        return;
    }
    let Some(map) = c.mapping(path, value, &["plugin", "options"]) else {
        return;
    };
    let names: Vec<&str> = PLUGINS.iter().map(|(n, _)| *n).collect();
    let p = child(path, Step::Key("plugin"));
    let plugin = match map.get("plugin") {
        None => {
            c.problem(
                path,
                format!("missing `plugin` (one of: {})", names.join(", ")),
            );
            return;
        }
        Some(v) => match c.string(&p, v) {
            Some(name) => name,
            None => return,
        },
    };
    let Some((_, known)) = PLUGINS.iter().find(|(n, _)| *n == plugin) else {
        c.problem(
            &p,
            format!("unknown plugin `{plugin}`{}", suggestion(&plugin, &names)),
        );
        return;
    };
    let Some(options) = map.get("options") else {
        if plugin == "generic_ssh" {
            c.problem(
                path,
                "the generic_ssh plugin needs `options.command`".into(),
            );
        }
        return;
    };
    let q = child(path, Step::Key("options"));
    let Some(o) = c.mapping(&q, options, known) else {
        return;
    };
    for (key, v) in o.iter().filter(|(k, _)| known.contains(&k.as_str())) {
        let r = child(&q, Step::Key(field(known, key)));
        match key.as_str() {
            "cleanup_tar" | "import_now" | "use_sudo" => c.boolean(&r, v),
            _ => {
                c.string(&r, v);
            }
        }
    }
    if plugin == "generic_ssh" && !o.contains_key("command") {
        c.problem(&q, "missing `command`".into());
    }
    if plugin == "docker"
        && o.contains_key("sudo_password")
        && o.get("use_sudo") != Some(&Value::Bool(true))
    {
        c.problem(
            &q,
            "`sudo_password` is given but `use_sudo` is not true".into(),
        );
    }
}

/// `map:` (a list of `SRC=DST`, as `--map`), `max_depth:` (1 or more) and
/// `depth_separator:` (`-`, `_`, `__` or `.`), for `unpack -c`'s push.
fn names(c: &mut Checker<'_>, path: &[Step<'_>], key: &str, value: &Value) {
    match key {
        "map" => {
            let Some(list) = value.as_array() else {
                c.problem(
                    path,
                    format!("expected a list of SRC=DST, got {}", kind(value)),
                );
                return;
            };
            for (i, item) in list.iter().enumerate() {
                let at = child(path, Step::Index(i));
                if let Some(text) = c.string(&at, item)
                    && let Err(e) = crate::destination::PathMap::parse(&text)
                {
                    c.problem(&at, e.to_string());
                }
            }
        }
        "max_depth" if value.as_u64().is_none_or(|n| n < 1) => {
            c.problem(
                path,
                format!("expected a path depth of 1 or more, got {}", kind(value)),
            );
        }
        "depth_separator" => {
            if let Some(text) = c.string(path, value)
                && !matches!(text.as_str(), "-" | "_" | "__" | ".")
            {
                c.problem(
                    path,
                    format!("`{text}` cannot join path components: use `-`, `_`, `__` or `.`"),
                );
            }
        }
        _ => {}
    }
}
