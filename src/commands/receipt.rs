//! `outrider receipt`: registry → receipt, for sites that lost theirs. Reads the catalog,
//! every tag, and every manifest reachable from the tags (children included).

use super::{Outcome, registry_settings};
use crate::cli::ReceiptArgs;
use crate::oci::{Digest, ParsedManifest};
use crate::output;
use crate::receipt::Receipt;
use crate::registry::{Registries, RegistryError};
use anyhow::Context;

/// Runs `receipt`.
pub async fn run(args: ReceiptArgs) -> anyhow::Result<Outcome> {
    let (options, credentials) =
        registry_settings(&args.registry_args, std::slice::from_ref(&args.registry))?;
    let registries = Registries::new(options, credentials);
    let registry = registries.get(&args.registry).await?;
    registry.ready(&crate::registry::Access::Catalog).await?;
    let repositories = registry
        .catalog()
        .await
        .with_context(|| format!("listing repositories of `{}`", args.registry))?;
    let prefix = args
        .prefix
        .as_deref()
        .map(|p| format!("{}/", p.trim_matches('/')));
    let mut receipt = Receipt::new(&args.registry);
    for repo in repositories
        .iter()
        .filter(|r| prefix.as_ref().is_none_or(|p| r.starts_with(p.as_str())))
    {
        // A repository with blobs but no tag (what a failed push leaves) answers 404
        // NAME_UNKNOWN on tags/list: it holds no image, so it is skipped, not fatal.
        let tags = match registry.tags(repo).await {
            Ok(tags) => tags,
            Err(RegistryError::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("listing tags of `{repo}`")),
        };
        if tags.is_empty() {
            output::note(&format!(
                "`{repo}` has no tags (a failed push leaves such repositories); skipped"
            ));
            continue;
        }
        let content = receipt.repositories.entry(repo.clone()).or_default();
        for tag in tags {
            let top = registry
                .get_manifest(repo, &tag)
                .await
                .with_context(|| format!("reading `{repo}:{tag}`"))?;
            content.tags.insert(tag, top.digest.clone());
            let mut stack = vec![top];
            while let Some(m) = stack.pop() {
                if !content.manifests.insert(m.digest.clone()) {
                    continue;
                }
                match m.parse()? {
                    ParsedManifest::Image { config, layers } => {
                        content
                            .blobs
                            .extend(std::iter::once(config).chain(layers).map(|d| d.digest));
                    }
                    ParsedManifest::Index { manifests } => {
                        for child in manifests {
                            let digest: Digest = child.descriptor.digest;
                            // Registries may hold an index without every child (a partial
                            // copy); only what is there goes into the receipt.
                            if let Ok(c) = registry.get_manifest(repo, digest.as_str()).await {
                                stack.push(c);
                            }
                        }
                    }
                }
            }
        }
    }
    receipt.write(&args.output)?;
    output::note(&format!(
        "receipt `{}`: {} repositories at `{}`",
        args.output.display(),
        receipt.repositories.len(),
        args.registry
    ));
    Ok(Outcome::Success)
}
