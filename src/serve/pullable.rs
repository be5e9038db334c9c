//! What `serve` can be pulled by: every served `repository:tag` under the address clients
//! reach (`serve --list` prints them and exits; a start names them, the first few).

use super::catalog::Catalog;
use crate::output;

/// How many names a start prints before "… and N more" (`--list` prints all).
const ON_START: usize = 20;

/// Every pullable name: `HOST:PORT/repository:tag`, sorted.
pub fn names(catalog: &Catalog, at: &str) -> Vec<String> {
    catalog
        .repositories
        .iter()
        .flat_map(|(repo, r)| r.tags.keys().map(move |t| format!("{at}/{repo}:{t}")))
        .collect()
}

/// `serve --list`: one name per line on stdout.
pub fn list(catalog: &Catalog, at: &str) {
    for n in names(catalog, at) {
        output::line(&n);
    }
}

/// On start: the pullable names (the first [`ON_START`]) as one note.
pub fn announce(catalog: &Catalog, at: &str) {
    let all = names(catalog, at);
    if all.is_empty() {
        return;
    }
    let mut text = format!(
        "pull by name (or through a mirror, by the original name):\n  {}",
        all.iter()
            .take(ON_START)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    if all.len() > ON_START {
        text.push_str(&format!(
            "\n  … and {} more (serve --list prints all)",
            all.len() - ON_START
        ));
    }
    output::note(&text);
}
