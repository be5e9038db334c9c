//! The clients of one command, one per registry, and the warning about per-host flags
//! that matched none of them.

use super::client::Registry;
use super::credentials::ExplicitCredentials;
use super::error::RegistryError;
use super::http::{self, TransportOptions};
use std::collections::HashMap;
use std::sync::Arc;

/// Registry clients by name, created on first use and shared. When dropped, it warns
/// about per-host flags that named no registry it reached: a flag that silently matches
/// nothing (`--insecure-skip-verify 127.0.0.1` for `127.0.0.1:5000`) costs an operator
/// an hour.
pub struct Registries {
    options: TransportOptions,
    credentials: ExplicitCredentials,
    clients: tokio::sync::Mutex<HashMap<String, Arc<Registry>>>,
}

impl Drop for Registries {
    fn drop(&mut self) {
        let clients = self.clients.get_mut();
        if clients.is_empty() {
            return;
        }
        let realms: Vec<String> = clients.values().flat_map(|c| c.plain_realms()).collect();
        let mut reached: Vec<&str> = clients
            .values()
            .flat_map(|c| [c.name.as_str(), c.host.as_str()])
            .chain(realms.iter().map(String::as_str))
            .collect();
        reached.sort();
        reached.dedup();
        for (flag, named) in &self.options.flags {
            let port = if flag == "--plain-http" { 80 } else { 443 };
            if !reached.iter().any(|r| http::same_host(named, r, port)) {
                crate::output::problem(&format!(
                    "warning: {flag} `{named}` matched no registry this run reached ({}); name the port unless it is the default",
                    reached
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
}

impl Registries {
    /// A factory with these settings.
    pub fn new(options: TransportOptions, credentials: ExplicitCredentials) -> Registries {
        Registries {
            options,
            credentials,
            clients: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The transport settings every client of this command is built with (TLS flags,
    /// `certs.d`, timeouts): chart repositories and file URLs are reached with them too.
    pub fn options(&self) -> &TransportOptions {
        &self.options
    }

    /// The credentials given for this command, looked up for `host` as for a registry
    /// (flags and config first, then the login files).
    pub async fn credential(
        &self,
        host: &str,
    ) -> Result<Option<super::credentials::Credential>, super::credentials::CredentialError> {
        super::credentials::lookup(host, &self.credentials).await
    }

    /// The client for `name`.
    pub async fn get(&self, name: &str) -> Result<Arc<Registry>, RegistryError> {
        let mut clients = self.clients.lock().await;
        if let Some(c) = clients.get(name) {
            return Ok(c.clone());
        }
        let client = Arc::new(Registry::connect(name, &self.options, &self.credentials).await?);
        clients.insert(name.to_owned(), client.clone());
        Ok(client)
    }
}
