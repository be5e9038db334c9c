//! The YAML config file, compatible with the original outrider's schema (`images`,
//! `runtime`, `transport`, `targets`, `output_tar`, `remote_tar_path`,
//! `post_instructions`), plus what the bundle era needs (`bundle`, `registry`,
//! `platforms`, `parallel`). [`validate`] reports every error at once with its field path
//! and line:column; nothing is required at the top level, because each command checks what
//! it needs (`pack -c` needs `images`, a deploy needs `targets`).

use serde_json::Value;
use std::path::{Path, PathBuf};

/// One problem in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Field path, e.g. `targets[1].port`.
    pub path: String,
    /// 1-based line and column of the field, when found.
    pub line: usize,
    /// Column.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

/// A config that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// I/O.
    #[error("reading config `{0}`: {1}")]
    Io(PathBuf, std::io::Error),
    /// Schema or syntax errors, all of them.
    #[error("config `{}` is invalid:\n{}", .0.display(), .1.iter().map(|p| format!("  {}:{}:{}: {}: {}", .0.display(), p.line, p.column, p.path, p.message)).collect::<Vec<_>>().join("\n"))]
    Invalid(PathBuf, Vec<Problem>),
}

/// A valid config, as the commands use it.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Images to carry.
    pub images: Vec<String>,
    /// The parsed document (validated), for the fields other commands read.
    pub document: Value,
    /// The directory the file was read from: relative paths in it resolve against this.
    pub base: PathBuf,
}

const TOP: &[&str] = &[
    "images",
    "runtime",
    "transport",
    "targets",
    "output_tar",
    "remote_tar_path",
    "post_instructions",
    "bundle",
    "registry",
    "state_dir",
    "registries",
    "platforms",
    "parallel",
];
const REGISTRY_FIELDS: &[&str] = &[
    "username",
    "password",
    "password_env",
    "plain_http",
    "insecure_skip_verify",
    "ca_file",
    "mirror",
];
const RUNTIME_TYPES: &[&str] = &["docker", "podman", "containerd", "k3s"];
const TRANSPORT_OPTIONS: &[&str] = &[
    "key_file",
    "password",
    "passphrase_env",
    "known_hosts",
    "accept_new_host_keys",
    "connect_timeout",
    "command_timeout",
    "idle_timeout",
    "keepalive",
];
const TARGET_FIELDS: &[&str] = &["host", "user", "port", "name"];
const PLUGINS: &[(&str, &[&str])] = &[
    (
        "k3s_airgap",
        &[
            "k3s_path",
            "images_dir",
            "import_now",
            "cleanup_tar",
            "containerd_path",
        ],
    ),
    (
        "docker",
        &["docker_cmd", "use_sudo", "sudo_password", "cleanup_tar"],
    ),
    ("generic_ssh", &["command"]),
];

/// Reads, validates and returns a config; every problem is reported at once.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = fs_err::read_to_string(path).map_err(|e| ConfigError::Io(path.to_owned(), e))?;
    let (document, problems) = validate(&text, path.parent().unwrap_or(Path::new(".")));
    if !problems.is_empty() {
        return Err(ConfigError::Invalid(path.to_owned(), problems));
    }
    let images = document
        .get("images")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(Config {
        images,
        document,
        base: path.parent().unwrap_or(Path::new(".")).to_owned(),
    })
}

/// Validates config text; relative key files are resolved against `base`. Returns the
/// parsed document and every problem found.
pub fn validate(text: &str, base: &Path) -> (Value, Vec<Problem>) {
    let document: Value = match serde_saphyr::from_str::<Option<Value>>(text) {
        Ok(v) => v.unwrap_or(Value::Null),
        Err(e) => {
            let message = e.to_string();
            let (line, column) = syntax_location(&message);
            return (
                Value::Null,
                vec![Problem {
                    path: "(document)".into(),
                    line,
                    column,
                    message: format!("not valid YAML: {}", first_line(&message)),
                }],
            );
        }
    };
    let mut v = Validator {
        text,
        problems: Vec::new(),
        base,
    };
    v.document(&document);
    (document, v.problems)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// serde-saphyr puts `line N column M` (or `N:M`) into its messages.
fn syntax_location(message: &str) -> (usize, usize) {
    let words: Vec<&str> = message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let find = |key: &str| {
        words
            .windows(2)
            .find(|w| w[0].eq_ignore_ascii_case(key))
            .and_then(|w| w[1].parse().ok())
    };
    (
        find("line").unwrap_or(1),
        find("column").or(find("col")).unwrap_or(1),
    )
}

/// One step of a field path.
#[derive(Clone)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn render(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        "(document)".into()
    } else {
        out
    }
}

/// Finds the line:column of a path in block-style YAML by indentation: each key is looked
/// for below its parent, each sequence index counts `- ` items. Flow style falls back to
/// the nearest enclosing field found.
fn locate(text: &str, path: &[Step<'_>]) -> (usize, usize) {
    let lines: Vec<&str> = text.lines().collect();
    let (mut from, mut to, mut min_indent) = (0usize, lines.len(), 0usize);
    let mut found = (1usize, 1usize);
    for step in path {
        let mut hit = None;
        match step {
            Step::Key(k) => {
                for (i, line) in lines.iter().enumerate().take(to).skip(from) {
                    let trimmed = line.trim_start().trim_start_matches("- ");
                    let indent = line.len() - trimmed.len();
                    if indent < min_indent || line.trim_start().starts_with('#') {
                        continue;
                    }
                    let key = trimmed
                        .split(':')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .trim_matches(['"', '\'']);
                    if key == *k
                        && trimmed[key.len()..]
                            .trim_start_matches(['"', '\''])
                            .trim_start()
                            .starts_with(':')
                    {
                        hit = Some((i, indent));
                        break;
                    }
                }
            }
            Step::Index(n) => {
                let mut count = 0;
                for (i, line) in lines.iter().enumerate().take(to).skip(from) {
                    let trimmed = line.trim_start();
                    let indent = line.len() - trimmed.len();
                    if indent >= min_indent && (trimmed.starts_with("- ") || trimmed == "-") {
                        if count == *n {
                            hit = Some((i, indent + 2));
                            break;
                        }
                        count += 1;
                    }
                }
            }
        }
        let Some((i, indent)) = hit else { break };
        found = (i + 1, indent + 1);
        // The child's block: following lines indented more than this one.
        let block_end = lines
            .iter()
            .enumerate()
            .skip(i + 1)
            .find(|(_, l)| {
                !l.trim().is_empty()
                    && (l.len() - l.trim_start().len())
                        <= indent.saturating_sub(if matches!(step, Step::Index(_)) { 2 } else { 0 })
                    && !l.trim_start().starts_with('#')
            })
            .map_or(to, |(j, _)| j);
        from = if matches!(step, Step::Index(_)) {
            i
        } else {
            i + 1
        };
        to = block_end.max(from + 1).min(lines.len());
        min_indent = indent + if matches!(step, Step::Index(_)) { 0 } else { 1 };
    }
    found
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn suggestion(key: &str, known: &[&str]) -> String {
    match known.iter().map(|k| (distance(key, k), k)).min() {
        Some((d, k)) if d <= 2 || (d <= 3 && key.len() > 6) => format!("; did you mean `{k}`?"),
        _ => format!("; expected one of: {}", known.join(", ")),
    }
}

struct Validator<'t> {
    text: &'t str,
    problems: Vec<Problem>,
    base: &'t Path,
}

/// What a value is, for messages: scalars shown as written, collections by kind.
fn kind(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => format!("`{}`", crate::output::sanitize(s)),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

impl Validator<'_> {
    fn problem(&mut self, path: &[Step<'_>], message: String) {
        let (line, column) = locate(self.text, path);
        self.problems.push(Problem {
            path: render(path),
            line,
            column,
            message,
        });
    }

    fn mapping<'v>(
        &mut self,
        path: &[Step<'_>],
        value: &'v Value,
        known: &[&str],
    ) -> Option<&'v serde_json::Map<String, Value>> {
        let Some(map) = value.as_object() else {
            self.problem(path, format!("expected a mapping, got {}", kind(value)));
            return None;
        };
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                let mut p = path.to_vec();
                p.push(Step::Key(key));
                self.problem(
                    &p,
                    format!("unknown field `{key}`{}", suggestion(key, known)),
                );
            }
        }
        Some(map)
    }

    fn string(&mut self, path: &[Step<'_>], value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            other => {
                self.problem(path, format!("expected a string, got {}", kind(other)));
                None
            }
        }
    }

    fn boolean(&mut self, path: &[Step<'_>], value: &Value) {
        if !value.is_boolean() {
            self.problem(path, format!("expected true or false, got {}", kind(value)));
        }
    }

    fn document(&mut self, doc: &Value) {
        if doc.is_null() {
            return;
        }
        let Some(map) = self.mapping(&[], doc, TOP) else {
            return;
        };
        let map = map.clone();
        for (key, value) in &map {
            let path = [Step::Key(key.as_str())];
            match key.as_str() {
                "images" => self.images(&path, value),
                "runtime" => self.runtime(&path, value),
                "transport" => self.transport(&path, value),
                "targets" => self.targets(&path, value),
                "output_tar" | "bundle" | "registry" | "state_dir" => {
                    self.string(&path, value);
                }
                "remote_tar_path" => self.remote_tar_path(&path, value),
                "platforms" => self.platforms(&path, value),
                "registries" => self.registries(&path, value),
                "parallel" if !value.as_u64().is_some_and(|n| (1..=256).contains(&n)) => {
                    self.problem(
                        &path,
                        format!(
                            "expected a number of targets from 1 to 256, got {}",
                            kind(value)
                        ),
                    );
                }
                "post_instructions" => self.post_instructions(&path, value),
                _ => {}
            }
        }
    }

    fn images(&mut self, path: &[Step<'_>], value: &Value) {
        let Some(list) = value.as_array() else {
            self.problem(
                path,
                format!("expected a list of image references, got {}", kind(value)),
            );
            return;
        };
        for (i, item) in list.iter().enumerate() {
            let mut p = path.to_vec();
            p.push(Step::Index(i));
            if let Some(s) = self.string(&p, item)
                && let Err(e) = crate::location::ImageRequest::parse(&s)
            {
                self.problem(&p, e.to_string());
            }
        }
    }

    fn platforms(&mut self, path: &[Step<'_>], value: &Value) {
        let Some(list) = value.as_array() else {
            self.problem(
                path,
                format!(
                    "expected a list of platforms (os/arch[/variant]), got {}",
                    kind(value)
                ),
            );
            return;
        };
        for (i, item) in list.iter().enumerate() {
            let mut p = path.to_vec();
            p.push(Step::Index(i));
            if let Some(s) = self.string(&p, item)
                && let Err(e) = s.parse::<crate::oci::Platform>()
            {
                self.problem(&p, e.to_string());
            }
        }
    }

    fn registries<'v>(&mut self, path: &[Step<'v>], value: &'v Value) {
        let Some(map) = value.as_object() else {
            self.problem(
                path,
                format!(
                    "expected a mapping of registry host to settings, got {}",
                    kind(value)
                ),
            );
            return;
        };
        for (host, settings) in map {
            let mut p = path.to_vec();
            p.push(Step::Key(host.as_str()));
            let Some(o) = self.mapping(&p, settings, REGISTRY_FIELDS) else {
                continue;
            };
            for (key, v) in o
                .clone()
                .into_iter()
                .filter(|(k, _)| REGISTRY_FIELDS.contains(&k.as_str()))
            {
                let mut q = p.clone();
                q.push(Step::Key(
                    REGISTRY_FIELDS
                        .iter()
                        .find(|k| **k == key)
                        .copied()
                        .unwrap_or("?"),
                ));
                match key.as_str() {
                    "plain_http" | "insecure_skip_verify" => self.boolean(&q, &v),
                    "ca_file" => {
                        if let Some(file) = self.string(&q, &v) {
                            let resolved = expand(&file, self.base);
                            if let Err(e) = std::fs::File::open(&resolved) {
                                self.problem(
                                    &q,
                                    format!("cannot read `{}`: {e}", resolved.display()),
                                );
                            }
                        }
                    }
                    _ => {
                        self.string(&q, &v);
                    }
                }
            }
            if o.contains_key("password") && o.contains_key("password_env") {
                self.problem(&p, "give `password` or `password_env`, not both".into());
            }
        }
    }

    fn runtime(&mut self, path: &[Step<'_>], value: &Value) {
        // The original writes `runtime: {type: docker, options: {cmd: …}}`; a bare
        // `runtime: docker` is accepted as the same thing.
        if let Value::String(t) = value {
            if !RUNTIME_TYPES.contains(&t.as_str()) {
                self.problem(
                    path,
                    format!("unknown runtime `{t}`{}", suggestion(t, RUNTIME_TYPES)),
                );
            }
            return;
        }
        let Some(map) = self.mapping(path, value, &["type", "options"]) else {
            return;
        };
        let map = map.clone();
        let mut p = path.to_vec();
        p.push(Step::Key("type"));
        match map.get("type") {
            None => self.problem(
                path,
                "missing `type` (one of: docker, podman, containerd, k3s)".into(),
            ),
            Some(t) => {
                if let Some(t) = self.string(&p, t)
                    && !RUNTIME_TYPES.contains(&t.as_str())
                {
                    self.problem(
                        &p,
                        format!("unknown runtime `{t}`{}", suggestion(&t, RUNTIME_TYPES)),
                    );
                }
            }
        }
        if let Some(options) = map.get("options") {
            let mut p = path.to_vec();
            p.push(Step::Key("options"));
            if let Some(o) = self.mapping(&p, options, &["cmd"]) {
                let o = o.clone();
                if let Some(cmd) = o.get("cmd") {
                    p.push(Step::Key("cmd"));
                    self.string(&p, cmd);
                }
            }
        }
    }

    fn transport(&mut self, path: &[Step<'_>], value: &Value) {
        let Some(map) = self.mapping(path, value, &["type", "options"]) else {
            return;
        };
        let map = map.clone();
        if let Some(t) = map.get("type") {
            let mut p = path.to_vec();
            p.push(Step::Key("type"));
            if let Some(t) = self.string(&p, t)
                && t != "ssh"
                && t != "local"
            {
                self.problem(
                    &p,
                    format!("unknown transport `{t}`; expected `ssh` (or `local`)"),
                );
            }
        } else {
            self.problem(path, "missing `type` (`ssh`)".into());
        }
        let Some(options) = map.get("options") else {
            return;
        };
        let mut p = path.to_vec();
        p.push(Step::Key("options"));
        let Some(o) = self.mapping(&p, options, TRANSPORT_OPTIONS) else {
            return;
        };
        for (key, v) in o
            .clone()
            .into_iter()
            .filter(|(k, _)| TRANSPORT_OPTIONS.contains(&k.as_str()))
        {
            let mut q = p.clone();
            q.push(Step::Key(
                TRANSPORT_OPTIONS
                    .iter()
                    .find(|k| **k == key)
                    .copied()
                    .unwrap_or("?"),
            ));
            match key.as_str() {
                "key_file" | "known_hosts" => {
                    if let Some(file) = self.string(&q, &v) {
                        let resolved = expand(&file, self.base);
                        // A missing known_hosts is an empty one, as for ssh; a key must exist.
                        let missing_ok = key == "known_hosts" && !resolved.exists();
                        if !missing_ok && let Err(e) = std::fs::File::open(&resolved) {
                            self.problem(&q, format!("cannot read `{}`: {e}", resolved.display()));
                        }
                    }
                }
                "password" | "passphrase_env" => {
                    self.string(&q, &v);
                }
                "accept_new_host_keys" | "keepalive" => self.boolean(&q, &v),
                "connect_timeout" | "command_timeout" | "idle_timeout"
                    if v.as_u64().is_none_or(|n| n == 0) =>
                {
                    self.problem(
                        &q,
                        format!("expected a number of seconds, got {}", kind(&v)),
                    );
                }
                _ => {}
            }
        }
    }

    /// A file name on the targets. One beginning with `-` is fine: the deploy hands it to
    /// remote tools as `./-…`, which none reads as an option.
    fn remote_tar_path(&mut self, path: &[Step<'_>], value: &Value) {
        let Some(p) = self.string(path, value) else {
            return;
        };
        if p.trim().is_empty() || p.ends_with('/') || p.contains('\n') || p.contains('\0') {
            self.problem(
                path,
                format!(
                    "`{}` is not a file name (the tar is written to it with `.partial` added, then renamed)",
                    p.escape_debug()
                ),
            );
        }
    }

    fn targets(&mut self, path: &[Step<'_>], value: &Value) {
        let Some(list) = value.as_array() else {
            self.problem(
                path,
                format!("expected a list of targets, got {}", kind(value)),
            );
            return;
        };
        for (i, item) in list.iter().enumerate() {
            let mut p = path.to_vec();
            p.push(Step::Index(i));
            let Some(t) = self.mapping(&p, item, TARGET_FIELDS) else {
                continue;
            };
            let t = t.clone();
            match t.get("host") {
                None => self.problem(&p, "missing `host`".into()),
                Some(h) => {
                    let mut q = p.clone();
                    q.push(Step::Key("host"));
                    if let Some(h) = self.string(&q, h)
                        && h.trim().is_empty()
                    {
                        self.problem(&q, "empty host".into());
                    }
                }
            }
            if let Some(u) = t.get("user") {
                let mut q = p.clone();
                q.push(Step::Key("user"));
                self.string(&q, u);
            }
            if let Some(port) = t.get("port") {
                let mut q = p.clone();
                q.push(Step::Key("port"));
                if !port.as_u64().is_some_and(|n| (1..=65535).contains(&n)) {
                    self.problem(
                        &q,
                        format!("expected a port number from 1 to 65535, got {}", kind(port)),
                    );
                }
            }
        }
    }

    fn post_instructions(&mut self, path: &[Step<'_>], value: &Value) {
        if value.is_null() {
            return;
        }
        let Some(map) = self.mapping(path, value, &["plugin", "options"]) else {
            return;
        };
        let map = map.clone();
        let names: Vec<&str> = PLUGINS.iter().map(|(n, _)| *n).collect();
        let mut p = path.to_vec();
        p.push(Step::Key("plugin"));
        let plugin = match map.get("plugin") {
            None => {
                self.problem(
                    path,
                    format!("missing `plugin` (one of: {})", names.join(", ")),
                );
                return;
            }
            Some(v) => match self.string(&p, v) {
                Some(name) => name,
                None => return,
            },
        };
        let Some((_, known)) = PLUGINS.iter().find(|(n, _)| *n == plugin) else {
            self.problem(
                &p,
                format!("unknown plugin `{plugin}`{}", suggestion(&plugin, &names)),
            );
            return;
        };
        let Some(options) = map.get("options") else {
            if plugin == "generic_ssh" {
                self.problem(
                    path,
                    "the generic_ssh plugin needs `options.command`".into(),
                );
            }
            return;
        };
        let mut q = path.to_vec();
        q.push(Step::Key("options"));
        let Some(o) = self.mapping(&q, options, known) else {
            return;
        };
        let o = o.clone();
        for (key, v) in o.iter().filter(|(k, _)| known.contains(&k.as_str())) {
            let mut r = q.clone();
            r.push(Step::Key(
                known
                    .iter()
                    .find(|k| **k == key.as_str())
                    .copied()
                    .unwrap_or("?"),
            ));
            match key.as_str() {
                "cleanup_tar" | "import_now" | "use_sudo" => self.boolean(&r, v),
                _ => {
                    self.string(&r, v);
                }
            }
        }
        if plugin == "generic_ssh" && !o.contains_key("command") {
            self.problem(&q, "missing `command`".into());
        }
        if plugin == "docker"
            && o.contains_key("sudo_password")
            && o.get("use_sudo") != Some(&Value::Bool(true))
        {
            self.problem(
                &q,
                "`sudo_password` is given but `use_sudo` is not true".into(),
            );
        }
    }
}

/// `~/…` against HOME; relative paths against the config's directory.
fn expand(path: &str, base: &Path) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    let p = PathBuf::from(path);
    if p.is_absolute() { p } else { base.join(p) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        validate(text, Path::new("/")).1
    }

    #[test]
    fn every_error_with_its_place() {
        let text = "images:\n  - nginx:1.27\n  - Bad:ref\ntargets:\n  - host: a\n    port: 99999\n  - user: x\npost_instructions:\n  plugin: k3s_airgap\n  options:\n    cleanup_tarr: true\nimagez: []\n";
        let p = problems(text);
        let at = |path: &str| {
            p.iter()
                .find(|x| x.path == path)
                .map(|x| (x.line, x.column))
                .unwrap_or_else(|| panic!("no problem at {path}: {p:?}"))
        };
        assert_eq!(at("images[1]"), (3, 5));
        assert_eq!(at("targets[0].port"), (6, 5));
        assert_eq!(at("targets[1]"), (7, 5));
        assert_eq!(at("post_instructions.options.cleanup_tarr"), (11, 5));
        assert_eq!(at("imagez"), (12, 1));
        assert!(
            p.iter()
                .any(|x| x.message.contains("did you mean `cleanup_tar`")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|x| x.message.contains("did you mean `images`")),
            "{p:?}"
        );
        assert_eq!(p.len(), 5, "{p:?}");
    }

    #[test]
    fn transport_timeouts_and_remote_tar_path() {
        let ok = "transport:\n  type: ssh\n  options:\n    idle_timeout: 30\n    command_timeout: 5\nremote_tar_path: -x.tar\n";
        assert!(problems(ok).is_empty(), "{:?}", problems(ok));
        let p = problems(
            "transport:\n  type: ssh\n  options:\n    idle_timeout: 0\nremote_tar_path: /tmp/\n",
        );
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p.iter().any(|x| x.path == "transport.options.idle_timeout"),
            "{p:?}"
        );
        assert!(p.iter().any(|x| x.path == "remote_tar_path"), "{p:?}");
    }

    #[test]
    fn syntax_errors_and_fragments() {
        assert!(problems("post_instructions: null\n").is_empty());
        assert!(problems("runtime:\n  type: docker\n  options:\n    cmd: docker\n").is_empty());
        let p = problems("images: [a\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.starts_with("not valid YAML"), "{p:?}");
    }
}
