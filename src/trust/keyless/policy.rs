//! Who may sign: identity policies as cosign spells them. A policy pairs the certificate's
//! identity (its SAN: a workflow URI, an email) with the Fulcio OIDC issuer, each matched
//! exactly or by regular expression. Like cosign (Go's `regexp.MatchString`), a regexp
//! matches anywhere in the value unless anchored with `^…$`. Several policies may be given;
//! any one satisfied admits the signature.

use regex::Regex;

/// How one value is matched.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// Equal, byte for byte.
    Exact(String),
    /// A regular expression found in the value.
    Regexp(Regex),
}

impl Matcher {
    /// A regexp matcher, or why the expression is invalid.
    pub fn regexp(expression: &str) -> Result<Matcher, String> {
        Regex::new(expression)
            .map(Matcher::Regexp)
            .map_err(|e| format!("`{expression}` is not a regular expression: {e}"))
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regexp(r) => r.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "`{s}`"),
            Matcher::Regexp(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// One identity policy: both parts must match.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The certificate identity (SAN).
    pub identity: Matcher,
    /// The OIDC issuer.
    pub issuer: Matcher,
}

impl Policy {
    /// Whether this certificate identity and issuer satisfy the policy.
    pub fn admits(&self, identity: &str, issuer: &str) -> bool {
        self.identity.matches(identity) && self.issuer.matches(issuer)
    }
}

/// The policies a site accepts; empty accepts nobody.
#[derive(Clone, Debug, Default)]
pub struct Policies(pub Vec<Policy>);

impl Policies {
    /// Whether any policy admits this identity and issuer.
    pub fn admits(&self, identity: &str, issuer: &str) -> bool {
        self.0.iter().any(|p| p.admits(identity, issuer))
    }

    /// Whether no policy is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The policies, for a message.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "no identity policy (give --certificate-identity and --certificate-oidc-issuer)"
                .into();
        }
        self.0
            .iter()
            .map(|p| format!("identity {} from issuer {}", p.identity, p.issuer))
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_policy_admits_and_regexps_are_unanchored_like_cosign() {
        let p = Policies(vec![
            Policy {
                identity: Matcher::Exact("a@example.com".into()),
                issuer: Matcher::Exact("https://issuer".into()),
            },
            Policy {
                identity: Matcher::regexp("^https://github.com/org/").expect("valid"),
                issuer: Matcher::regexp("githubusercontent").expect("valid"),
            },
        ]);
        assert!(p.admits("a@example.com", "https://issuer"));
        assert!(!p.admits("a@example.com", "https://other"));
        assert!(p.admits(
            "https://github.com/org/repo/.github/workflows/x.yml@refs/heads/main",
            "https://token.actions.githubusercontent.com"
        ));
        assert!(!p.admits(
            "https://github.com/evil/org/",
            "https://token.actions.githubusercontent.com"
        ));
        assert!(!Policies::default().admits("a", "b"));
    }
}
