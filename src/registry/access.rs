//! What a request needs access to, as a token scope: the one value every verb hands to
//! `Registry::send` and the token request spells out.

/// What a request needs access to, as a token scope.
#[derive(Clone, Debug)]
pub enum Access {
    /// List repositories.
    Catalog,
    /// Read a repository.
    Pull(String),
    /// Read and write a repository.
    Push(String),
    /// Write `repo` and read `from` (a cross-repository mount).
    Mount {
        /// Destination repository.
        repo: String,
        /// Source repository.
        from: String,
    },
}

impl Access {
    pub(super) fn scope(&self) -> String {
        match self {
            Access::Catalog => "registry:catalog:*".to_owned(),
            Access::Pull(r) => format!("repository:{r}:pull"),
            Access::Push(r) => format!("repository:{r}:pull,push"),
            Access::Mount { repo, from } => {
                format!("repository:{repo}:pull,push repository:{from}:pull")
            }
        }
    }
}
