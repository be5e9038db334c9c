//! A Harbor-like front for the real registry: the rules a Harbor instance adds to the
//! distribution API, played by the test proxy with Harbor's own requests and answers, so
//! outrider's handling of them is tested without a Harbor install:
//!
//! - a repository's first path component is a *project*, which must exist before a push:
//!   writes into a missing project get `404` with `NOT_FOUND` "project … not found";
//! - projects are made with `POST /api/v2.0/projects` (`{"project_name": …}` → `201`,
//!   `409 CONFLICT` when it exists) and checked with `HEAD /api/v2.0/projects?project_name=`;
//!   `GET /api/v2.0/ping` answers `Pong`, as Harbor's does;
//! - with immutability on, a manifest PUT that would move an existing tag gets `412` with
//!   `PRECONDITION` "… configured as immutable".
//!
//! Every request line is recorded, so a test can assert what was (not) sent.

use super::proxy::{self, Pass, Reply};
use sha2::Digest as _;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// A running front.
pub struct Harbor {
    /// `127.0.0.1:PORT` of the front.
    pub host: String,
    /// Every request line seen, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    /// The projects that exist.
    pub projects: Arc<Mutex<BTreeSet<String>>>,
}

fn error(status: &str, code: &str, message: &str) -> Reply {
    Reply {
        status: status.into(),
        headers: Vec::new(),
        body: serde_json::json!({ "errors": [{ "code": code, "message": message }] }).to_string(),
    }
}

impl Harbor {
    /// A front for the registry at `upstream` holding `projects`; `immutable` turns on a
    /// rule that makes every tag immutable once set.
    pub fn start(upstream: &str, projects: &[&str], immutable: bool) -> Harbor {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let existing: BTreeSet<String> = projects.iter().map(|p| (*p).to_owned()).collect();
        let projects = Arc::new(Mutex::new(existing));
        let tags: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
        let (seen, known) = (requests.clone(), projects.clone());
        let host = proxy::start(upstream.to_owned(), move |line| {
            seen.lock().expect("lock").push(line.to_owned());
            let mut words = line.split(' ');
            let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let known = known.clone();
            if target == "/api/v2.0/ping" {
                return Pass::Decide(Box::new(|_| {
                    Some(Reply {
                        status: "200 OK".into(),
                        headers: Vec::new(),
                        body: "\"Pong\"".into(),
                    })
                }));
            }
            if let Some(query) = target.strip_prefix("/api/v2.0/projects?project_name=") {
                let exists = known.lock().expect("lock").contains(query);
                // A HEAD answer has no body, whatever the status.
                let head = method == "HEAD";
                return Pass::Decide(Box::new(move |_| {
                    Some(match (exists, head) {
                        (true, _) | (false, true) => Reply {
                            status: if exists { "200 OK" } else { "404 Not Found" }.into(),
                            headers: Vec::new(),
                            body: String::new(),
                        },
                        (false, false) => error("404 Not Found", "NOT_FOUND", "project not found"),
                    })
                }));
            }
            if method == "POST" && target == "/api/v2.0/projects" {
                return Pass::Decide(Box::new(move |body| {
                    let request: serde_json::Value =
                        serde_json::from_slice(body).unwrap_or_default();
                    let Some(name) = request["project_name"].as_str() else {
                        return Some(error(
                            "400 Bad Request",
                            "BAD_REQUEST",
                            "project_name is required",
                        ));
                    };
                    let mut projects = known.lock().expect("lock");
                    if !projects.insert(name.to_owned()) {
                        return Some(error(
                            "409 Conflict",
                            "CONFLICT",
                            &format!("The project named {name} already exists"),
                        ));
                    }
                    Some(Reply {
                        status: "201 Created".into(),
                        headers: vec![(
                            "Location".into(),
                            format!("/api/v2.0/projects/{}", projects.len()),
                        )],
                        body: String::new(),
                    })
                }));
            }
            let Some(path) = target.strip_prefix("/v2/").filter(|p| !p.is_empty()) else {
                return Pass::Whole;
            };
            let writes = matches!(method, "POST" | "PUT" | "PATCH");
            let project = path.split('/').next().unwrap_or("").to_owned();
            if writes && !known.lock().expect("lock").contains(&project) {
                return Pass::Decide(Box::new(move |_| {
                    Some(error(
                        "404 Not Found",
                        "NOT_FOUND",
                        &format!("project {project} not found"),
                    ))
                }));
            }
            let manifest_put = method == "PUT" && path.contains("/manifests/");
            if immutable && manifest_put {
                let (repo, reference) = path.rsplit_once("/manifests/").unwrap_or((path, ""));
                let (repo, reference) = (repo.to_owned(), reference.to_owned());
                let tags = tags.clone();
                return Pass::Decide(Box::new(move |body| {
                    if reference.starts_with("sha256:") {
                        return None;
                    }
                    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)));
                    let key = format!("{repo}:{reference}");
                    let mut tags = tags.lock().expect("lock");
                    match tags.get(&key) {
                        Some(d) if *d != digest => Some(error(
                            "412 Precondition Failed",
                            "PRECONDITION",
                            &format!(
                                "Failed to process request due to '{key}' configured as immutable."
                            ),
                        )),
                        _ => {
                            tags.insert(key, digest);
                            None
                        }
                    }
                }));
            }
            Pass::Whole
        });
        Harbor {
            host,
            requests,
            projects,
        }
    }

    /// The request lines seen that match `method` and contain `part`.
    pub fn seen(&self, method: &str, part: &str) -> Vec<String> {
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|l| l.starts_with(method) && l.contains(part))
            .cloned()
            .collect()
    }
}
