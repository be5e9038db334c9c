//! A registry that refuses a write for a rule of its own, which retrying cannot change:
//! a tag that is immutable there, or a namespace that must exist before anything is
//! pushed into it (a Harbor project, an ECR repository). The answers differ per product
//! and say little a person can act on, so they are recognised here and said in one line
//! with the fix.
//!
//! - Harbor: `412` `PRECONDITION` "… configured as immutable" (tag immutability rules);
//!   `404` `NOT_FOUND` "project NAME not found" for a push into a missing project.
//! - Amazon ECR: `400` `TAG_INVALID` "… already exists … cannot be overwritten because
//!   the repository is immutable"; `404` `NAME_UNKNOWN` "The repository with name … does
//!   not exist" (ECR makes no repository on push).
//! - Artifactory: `403` "Not enough permissions to delete/overwrite artifact" when an
//!   existing tag may not be replaced (no delete/overwrite permission, or a repository
//!   that blocks redeploys).

/// A rule of the registry's own that refused a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteRule {
    /// The tag exists there and may not be moved.
    ImmutableTag,
    /// The namespace (`project` in Harbor, the repository in ECR) must be made first.
    MissingNamespace {
        /// Its name, when the answer gives it.
        name: Option<String>,
        /// Which product's rule: `Harbor project`, `repository`.
        kind: &'static str,
    },
}

impl WriteRule {
    /// Recognises the rule in a status and the start of an error body.
    pub fn recognise(status: u16, body: &str) -> Option<WriteRule> {
        let lower = body.to_ascii_lowercase();
        let immutable = (status == 412 && lower.contains("immutable"))
            || (status == 400
                && lower.contains("tag_invalid")
                && lower.contains("cannot be overwritten"))
            || (status == 403 && lower.contains("overwrite"));
        if immutable {
            return Some(WriteRule::ImmutableTag);
        }
        if status == 404 {
            if let Some(name) = between(&lower, "project ", " not found") {
                return Some(WriteRule::MissingNamespace {
                    name: Some(name),
                    kind: "Harbor project",
                });
            }
            if lower.contains("repository with name") && lower.contains("does not exist") {
                return Some(WriteRule::MissingNamespace {
                    name: between(&lower, "with name '", "'"),
                    kind: "repository",
                });
            }
        }
        None
    }

    /// The one line: what the registry refused, and the fix.
    pub fn describe(&self, registry: &str, what: &str) -> String {
        match self {
            WriteRule::ImmutableTag => format!(
                "`{registry}` refused to move the immutable tag of {what}; hint: the tag already names another image there: push under another tag, or choose --existing-tags keep to leave such tags as they are"
            ),
            WriteRule::MissingNamespace { name, kind } => {
                let named = name
                    .as_deref()
                    .map(|n| format!(" `{n}`"))
                    .unwrap_or_default();
                format!(
                    "`{registry}` has no {kind}{named} for {what}, and makes none on push; hint: create it there first, or give --create-repositories (Harbor projects are made through Harbor's API)"
                )
            }
        }
    }
}

/// The text between `start` and `end` in `text`, if it is one plain name.
fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    let name = &text[from..from + len];
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
    plain.then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_products_answer_is_recognised() {
        let harbor = r#"{"errors":[{"code":"PRECONDITION","message":"Failed to process request due to 'site/app:1' configured as immutable."}]}"#;
        assert_eq!(
            WriteRule::recognise(412, harbor),
            Some(WriteRule::ImmutableTag)
        );
        let ecr = r#"{"errors":[{"code":"TAG_INVALID","message":"The image tag '1' already exists in the 'app' repository and cannot be overwritten because the repository is immutable."}]}"#;
        assert_eq!(
            WriteRule::recognise(400, ecr),
            Some(WriteRule::ImmutableTag)
        );
        let artifactory = r#"{"errors":[{"status":403,"message":"Not enough permissions to delete/overwrite artifact 'docker-local:app/1/manifest.json' (user: 'ci' needs DELETE permission)."}]}"#;
        assert_eq!(
            WriteRule::recognise(403, artifactory),
            Some(WriteRule::ImmutableTag)
        );
        let project = r#"{"errors":[{"code":"NOT_FOUND","message":"project site not found"}]}"#;
        assert_eq!(
            WriteRule::recognise(404, project),
            Some(WriteRule::MissingNamespace {
                name: Some("site".into()),
                kind: "Harbor project"
            })
        );
        let ecr_repo = r#"{"errors":[{"code":"NAME_UNKNOWN","message":"The repository with name 'app' does not exist in the registry with id '123'"}]}"#;
        assert_eq!(
            WriteRule::recognise(404, ecr_repo),
            Some(WriteRule::MissingNamespace {
                name: Some("app".into()),
                kind: "repository"
            })
        );
    }

    #[test]
    fn other_answers_are_not_rules() {
        // Harbor's quota answer is a 412 too: a storage failure, not an immutable tag.
        let quota = r#"{"errors":[{"code":"DENIED","message":"adding 1.2 GiB of storage resource, which when updated to current usage of 9 GiB will exceed the configured upper limit of 10 GiB."}]}"#;
        assert_eq!(WriteRule::recognise(412, quota), None);
        assert_eq!(
            WriteRule::recognise(404, r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#),
            None
        );
        assert_eq!(
            WriteRule::recognise(403, "denied: requested access to the resource is denied"),
            None
        );
    }
}
