//! The listing verbs of [`Registry`]: the catalog and a repository's tags, following
//! `Link` pagination (distribution spec, "Listing tags", and the catalog extension).

use super::access::Access;
use super::body;
use super::client::Registry;
use super::endpoint::Endpoint;
use super::error::RegistryError;
use crate::oci::artifact::Referrer;
use crate::oci::{Digest, media_type};
use reqwest::{Response, StatusCode};

/// Most pages of a referrers answer followed: at the registries' usual page size that is
/// far more artifacts than any image carries, and a registry cannot keep a pack looping.
const MAX_REFERRER_PAGES: usize = 100;

/// What all the pages of one listing (catalog, tags, referrers) may add up to: each page
/// is bounded on its own (`body`), and a registry that keeps naming a next page must not
/// make the whole grow without end either. 64 MiB is half a million 128-character names.
const LISTING_LIMIT: u64 = 64 * 1024 * 1024;
/// Most pages of a catalog or tag list followed: at `?n=1000` ten million names.
const MAX_LISTING_PAGES: usize = 10_000;

/// The pages and bytes one listing has taken so far.
#[derive(Default)]
struct Budget {
    pages: usize,
    bytes: u64,
}

impl Registry {
    /// Every repository (`GET /v2/_catalog`, following `Link` pagination).
    pub async fn catalog(&self) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            repositories: Vec<String>,
        }
        let mut out = Vec::new();
        let mut budget = Budget::default();
        let mut next = Some(self.url("_catalog?n=1000").await);
        while let Some(url) = next.take() {
            self.next_of(&mut budget, "catalog")?;
            let response = self
                .send(&Access::Catalog, "catalog", &|c| c.get(&url))
                .await?;
            if !response.status().is_success() {
                return Err(self.status_error("GET", "catalog", response).await);
            }
            next = self.next_page(&response);
            let page: Page = self.json(response, "catalog", &mut budget).await?;
            out.extend(page.repositories);
        }
        Ok(out)
    }

    /// Every tag of `repo` (`GET /v2/<repo>/tags/list`, following `Link` pagination).
    pub async fn tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let what = format!("tags of `{repo}`");
        let mut out = Vec::new();
        let mut budget = Budget::default();
        let mut next = Some(self.endpoint_url(repo, Endpoint::Tags, &what).await?);
        while let Some(url) = next.take() {
            self.next_of(&mut budget, &what)?;
            let response = self
                .send(&Access::Pull(repo.into()), &what, &|c| c.get(&url))
                .await?;
            if !response.status().is_success() {
                return Err(self.status_error("GET", &what, response).await);
            }
            next = self.next_page(&response);
            let page: Page = self.json(response, &what, &mut budget).await?;
            out.extend(page.tags.unwrap_or_default());
        }
        Ok(out)
    }

    /// The OCI 1.1 referrers of `digest` in `repo` (`GET /v2/<repo>/referrers/<digest>`,
    /// following `Link` pagination, at most [`MAX_REFERRER_PAGES`] pages), or `None` when
    /// the registry does not offer the API: the spec forbids a registry that offers it to
    /// answer 404 for a well-formed digest, so 404 (and 405 or 501) means "ask the
    /// referrers tag schema instead".
    pub async fn referrers(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> Result<Option<Vec<Referrer>>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Page {
            manifests: Option<Vec<Referrer>>,
        }
        let what = format!("referrers of {digest} in `{repo}`");
        let mut out = Vec::new();
        let mut budget = Budget::default();
        let mut next = Some(
            self.endpoint_url(repo, Endpoint::Referrers(digest), &what)
                .await?,
        );
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_REFERRER_PAGES {
                break;
            }
            let response = self
                .send(&Access::Pull(repo.into()), &what, &|c| {
                    c.get(&url)
                        .header(reqwest::header::ACCEPT, media_type::OCI_INDEX)
                })
                .await?;
            match response.status() {
                StatusCode::NOT_FOUND
                | StatusCode::METHOD_NOT_ALLOWED
                | StatusCode::NOT_IMPLEMENTED
                    if pages == 1 =>
                {
                    return Ok(None);
                }
                s if s.is_success() => {}
                _ => return Err(self.status_error("GET", &what, response).await),
            }
            next = self.next_page(&response);
            let body = self
                .bounded_body(response, &what, body::MANIFEST_LIMIT)
                .await?;
            self.spend(&mut budget, &what, body.len())?;
            // Not JSON, or JSON without `manifests` (a catch-all page): no API here.
            let manifests = serde_json::from_slice::<Page>(&body)
                .ok()
                .and_then(|p| p.manifests);
            match manifests {
                Some(m) => out.extend(m),
                None if pages == 1 => return Ok(None),
                None => {}
            }
        }
        Ok(Some(out))
    }

    /// The `Link: <…>; rel="next"` target, resolved against the registry; on another
    /// origin it is asked without credentials (see [`super::origin`]).
    fn next_page(&self, response: &Response) -> Option<String> {
        let link = response
            .headers()
            .get(reqwest::header::LINK)?
            .to_str()
            .ok()?;
        let target = link
            .split(';')
            .next()?
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        self.page_url(target)
    }

    /// Counts one more page of a listing before it is asked for: refused past
    /// [`MAX_LISTING_PAGES`].
    fn next_of(&self, budget: &mut Budget, what: &str) -> Result<(), RegistryError> {
        budget.pages += 1;
        if budget.pages > MAX_LISTING_PAGES {
            return Err(RegistryError::Status {
                registry: self.name.clone(),
                method: "GET".into(),
                what: what.into(),
                status: 200,
                body: format!("a `Link` to a next page after {MAX_LISTING_PAGES} pages; refused"),
            });
        }
        Ok(())
    }

    /// Adds a page's bytes to its listing's: refused past [`LISTING_LIMIT`] in all.
    fn spend(&self, budget: &mut Budget, what: &str, bytes: usize) -> Result<(), RegistryError> {
        budget.bytes += bytes as u64;
        if budget.bytes > LISTING_LIMIT {
            return Err(RegistryError::TooLarge {
                registry: self.name.clone(),
                what: format!("{what}, all pages together,"),
                limit: LISTING_LIMIT,
            });
        }
        Ok(())
    }

    /// One page of a listing, read up to [`body::PAGE_LIMIT`] and then counted against
    /// its listing's [`LISTING_LIMIT`], as JSON.
    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        response: Response,
        what: &str,
        budget: &mut Budget,
    ) -> Result<T, RegistryError> {
        let bytes = self
            .bounded_body(response, &format!("{what} page"), body::PAGE_LIMIT)
            .await?;
        self.spend(budget, what, bytes.len())?;
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::Status {
            registry: self.name.clone(),
            method: "GET".into(),
            what: what.into(),
            status: 200,
            body: format!("unreadable JSON: {e}"),
        })
    }
}
