//! Config text → its document and every problem in it: the YAML is parsed (a syntax error
//! is one problem, at the place the parser names), then each section is checked.

use super::checker::Checker;
use super::location::syntax_location;
use super::problem::Problem;
use super::sections;
use serde_json::Value;
use std::path::Path;

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
    let mut checker = Checker::new(text, base);
    sections::document(&mut checker, &document);
    (document, checker.problems)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
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
