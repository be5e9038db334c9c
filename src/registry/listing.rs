//! The listing verbs of [`Registry`]: the catalog and a repository's tags, following
//! `Link` pagination (distribution spec, "Listing tags", and the catalog extension).

use super::endpoint::Endpoint;
use super::{Access, Registry, RegistryError};
use reqwest::Response;

impl Registry {
    /// Every repository (`GET /v2/_catalog`, following `Link` pagination).
    pub async fn catalog(&self) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            repositories: Vec<String>,
        }
        let mut out = Vec::new();
        let mut next = Some(self.url("_catalog?n=1000").await);
        while let Some(url) = next.take() {
            let response = self
                .send(&Access::Catalog, "catalog", &|c| c.get(&url))
                .await?;
            if !response.status().is_success() {
                return Err(self.status_error("GET", "catalog", response).await);
            }
            next = self.next_page(&response);
            let page: Page = self.json(response, "catalog").await?;
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
        let mut next = Some(self.endpoint_url(repo, Endpoint::Tags, &what).await?);
        while let Some(url) = next.take() {
            let response = self
                .send(&Access::Pull(repo.into()), &what, &|c| c.get(&url))
                .await?;
            if !response.status().is_success() {
                return Err(self.status_error("GET", &what, response).await);
            }
            next = self.next_page(&response);
            let page: Page = self.json(response, &what).await?;
            out.extend(page.tags.unwrap_or_default());
        }
        Ok(out)
    }

    /// The `Link: <…>; rel="next"` target, resolved against the registry.
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
        Some(self.upload_url(target, &[]))
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        response: Response,
        what: &str,
    ) -> Result<T, RegistryError> {
        let bytes = response.bytes().await.map_err(|e| self.transport(&e))?;
        serde_json::from_slice(&bytes).map_err(|e| RegistryError::Status {
            registry: self.name.clone(),
            method: "GET".into(),
            what: what.into(),
            status: 200,
            body: format!("unreadable JSON: {e}"),
        })
    }
}
