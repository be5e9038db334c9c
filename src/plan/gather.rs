//! Every request planned and joined: each image resolved through its source (several at
//! once), planned on its own, and joined in the order the user named them, so the plan
//! is the same whichever source answers first.

use super::error::PlanError;
use super::image::Shared;
use super::merge::Merged;
use super::options::{AT_ONCE, PlanOptions, PlatformChoice};
use super::planned::Plan;
use crate::location::Sources;
use crate::registry::Registries;
use futures_util::StreamExt;

/// Resolves every image and gathers the plan. Errors for one image do not stop the
/// others; they are returned beside the plan. Images are resolved several at once; the
/// plan is the same whichever answers first.
pub async fn plan(
    requests: &[String],
    choice: &PlatformChoice,
    registries: &Registries,
    options: &PlanOptions,
) -> (Plan, Vec<PlanError>) {
    let shared = Shared { options, choice };
    let sources = Sources::new(registries);
    let (shared, sources) = (&shared, &sources);
    let mut planned = futures_util::stream::iter(requests)
        .map(|request| async move {
            // What is recorded and said of the request: never a password a URL in it holds.
            let shown = crate::secret::without_userinfo(request);
            let located = super::locate::locate(request, &shown, sources, options).await?;
            shared.image(&shown, located).await
        })
        .buffered(AT_ONCE);
    let mut merged = Merged::new();
    let mut errors = Vec::new();
    while let Some(next) = planned.next().await {
        match next {
            Ok(image) => merged.add(image),
            Err(e) => errors.push(e),
        }
    }
    (merged.plan, errors)
}
