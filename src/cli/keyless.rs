//! Keyless trust options, as cosign spells them: `--trusted-root` (a Sigstore
//! `trusted_root.json`) and the identity policies an image's Fulcio certificate must meet.

use crate::trust::keyless::images::Keyless;
use crate::trust::keyless::{Matcher, Policies, Policy, TrustedRoot};
use clap::Args;
use std::path::PathBuf;

/// A keyless option that cannot be used (the commands report it as a usage error, exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Keyless (Sigstore) signatures every image must carry.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Trust")]
pub struct KeylessArgs {
    /// Require each image to carry a keyless signature (a Fulcio certificate, cosign 3's
    /// Sigstore bundle or a legacy `.sig`) that verifies offline against this Sigstore
    /// `trusted_root.json` (as `cosign verify --trusted-root`), with the identity given.
    #[arg(long = "trusted-root", value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// The certificate identity (SAN: workflow URI or email) expected; repeatable.
    #[arg(long = "certificate-identity", value_name = "IDENTITY")]
    pub identities: Vec<String>,
    /// A regular expression the identity must match (anywhere, as cosign; anchor with
    /// ^…$); repeatable.
    #[arg(long = "certificate-identity-regexp", value_name = "REGEXP")]
    pub identity_regexps: Vec<String>,
    /// The OIDC issuer expected (Fulcio's issuer extension); one for every identity, or one
    /// per identity in the order given.
    #[arg(long = "certificate-oidc-issuer", value_name = "ISSUER")]
    pub issuers: Vec<String>,
    /// A regular expression the OIDC issuer must match.
    #[arg(long = "certificate-oidc-issuer-regexp", value_name = "REGEXP")]
    pub issuer_regexps: Vec<String>,
}

/// `pack`'s keyless options: the same, and whether to check before carrying.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Trust")]
pub struct PackKeylessArgs {
    /// Refuse to carry an image whose keyless signature does not verify (with
    /// --trusted-root and the identities): the bundle written is checked and removed.
    #[arg(long, requires = "trusted_root")]
    pub verify_signatures: bool,
    /// The trust root and identities.
    #[command(flatten)]
    pub keyless: KeylessArgs,
}

impl KeylessArgs {
    /// The trust root and policies, or `None` when no keyless option is given. A root
    /// without identities (or the reverse), an unreadable root or a bad regexp is a usage
    /// error (exit 2).
    pub fn load(&self) -> Result<Option<Keyless>, UsageError> {
        let identities: Vec<Matcher> = self
            .identities
            .iter()
            .map(|s| Ok(Matcher::Exact(s.clone())))
            .chain(self.identity_regexps.iter().map(|r| Matcher::regexp(r)))
            .collect::<Result<_, String>>()
            .map_err(UsageError)?;
        let issuers: Vec<Matcher> = self
            .issuers
            .iter()
            .map(|s| Ok(Matcher::Exact(s.clone())))
            .chain(self.issuer_regexps.iter().map(|r| Matcher::regexp(r)))
            .collect::<Result<_, String>>()
            .map_err(UsageError)?;
        let Some(path) = &self.trusted_root else {
            if identities.is_empty() && issuers.is_empty() {
                return Ok(None);
            }
            return Err(UsageError(
                "--certificate-identity needs --trusted-root (the Sigstore trusted_root.json)"
                    .into(),
            ));
        };
        if identities.is_empty() || issuers.is_empty() {
            return Err(UsageError(
                "--trusted-root needs --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]"
                    .into(),
            ));
        }
        // Pairing by position across exact and regexp lists would lose the order they were
        // given in (all exact ones first), so a pairing the user never wrote could admit a
        // signer: with several of each, one kind per side.
        let mixed = |exact: usize, regexps: usize| exact > 0 && regexps > 0;
        if identities.len() > 1
            && issuers.len() > 1
            && (mixed(self.identities.len(), self.identity_regexps.len())
                || mixed(self.issuers.len(), self.issuer_regexps.len()))
        {
            return Err(UsageError(
                "several identities and several issuers pair in the order given: use either --certificate-identity or --certificate-identity-regexp (and either --certificate-oidc-issuer or --certificate-oidc-issuer-regexp), not both, or one issuer for all identities"
                    .into(),
            ));
        }
        let policies = pair(identities, issuers)?;
        let bytes =
            fs_err::read(path).map_err(|e| UsageError(format!("reading the trusted root: {e}")))?;
        let root = TrustedRoot::from_json(&bytes)
            .map_err(|e| UsageError(format!("`{}`: {e}", path.display())))?;
        Ok(Some(Keyless { root, policies }))
    }
}

/// One issuer pairs with every identity (and one identity with every issuer); otherwise
/// they pair in order.
fn pair(identities: Vec<Matcher>, issuers: Vec<Matcher>) -> Result<Policies, UsageError> {
    let policies = match (identities.len(), issuers.len()) {
        (_, 1) => identities
            .into_iter()
            .map(|identity| Policy {
                identity,
                issuer: issuers[0].clone(),
            })
            .collect(),
        (1, _) => issuers
            .into_iter()
            .map(|issuer| Policy {
                identity: identities[0].clone(),
                issuer,
            })
            .collect(),
        (a, b) if a == b => identities
            .into_iter()
            .zip(issuers)
            .map(|(identity, issuer)| Policy { identity, issuer })
            .collect(),
        (a, b) => {
            return Err(UsageError(format!(
                "{a} identities and {b} OIDC issuers: give one issuer for all, or one per identity"
            )));
        }
    };
    Ok(Policies(policies))
}

#[cfg(test)]
mod mixing_tests {
    use super::KeylessArgs;

    #[test]
    fn several_pairs_across_exact_and_regexp_lists_are_refused() {
        let args = KeylessArgs {
            trusted_root: Some("/nonexistent/trusted_root.json".into()),
            identities: vec!["a@example.com".into()],
            identity_regexps: vec![".*@example.org".into()],
            issuers: vec!["https://issuer.y".into()],
            issuer_regexps: vec!["https://issuer\\.x".into()],
        };
        let e = args.load().expect_err("mixed").0;
        assert!(e.contains("pair in the order given"), "{e}");
    }
}
