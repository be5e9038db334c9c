//! TLS for `serve`: a certificate and key from files, or a private CA and a server
//! certificate it signs, written to a folder the operator names (`--tls-self-signed DIR`).
//! The CA is made once and reused on later starts, so clients told to trust `DIR/ca.pem`
//! keep trusting the server when its names change; the server certificate is signed anew
//! on every start for the names given. Keys are written mode 0600.

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Files of a self-signed setup.
pub struct SelfSigned {
    /// The CA certificate clients trust.
    pub ca: PathBuf,
    /// The server certificate.
    pub cert: PathBuf,
    /// The server key.
    pub key: PathBuf,
}

/// The rustls server configuration for a certificate chain and key in PEM files.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .with_context(|| format!("reading certificates from `{}`", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("`{}` holds no PEM certificate", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading a private key from `{}`", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and key do not make a TLS identity (do they belong together?)")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn ca_params() -> anyhow::Result<rcgen::CertificateParams> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "outrider serve CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// Writes a PEM file whole or not at all; keys readable by the owner only.
fn write(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
    let mode = if secret { 0o600 } else { 0o644 };
    crate::atomic_file::write(path, text.as_bytes(), Some(mode))
        .with_context(|| format!("writing `{}`", path.display()))
}

/// Makes (or reuses) the CA in `dir` and signs a server certificate for `names` (host
/// names and IP addresses).
pub fn self_signed(dir: &Path, names: &[String]) -> anyhow::Result<SelfSigned> {
    fs_err::create_dir_all(dir)?;
    let ca = dir.join("ca.pem");
    let ca_key_path = dir.join("ca-key.pem");
    let ca_key = if ca.exists() && ca_key_path.exists() {
        let pem = fs_err::read_to_string(&ca_key_path)?;
        rcgen::KeyPair::from_pem(&pem)
            .with_context(|| format!("`{}` is not a private key", ca_key_path.display()))?
    } else {
        let key = rcgen::KeyPair::generate()?;
        let cert = ca_params()?.self_signed(&key)?;
        write(&ca_key_path, &key.serialize_pem(), true)?;
        write(&ca, &cert.pem(), false)?;
        key
    };
    let issuer = rcgen::Issuer::new(ca_params()?, ca_key);
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .context("a name for the certificate is not a valid host name or address")?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        names.first().map_or("outrider serve", String::as_str),
    );
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let key = rcgen::KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    let files = SelfSigned {
        ca,
        cert: dir.join("server.pem"),
        key: dir.join("server-key.pem"),
    };
    write(&files.key, &key.serialize_pem(), true)?;
    write(&files.cert, &cert.pem(), false)?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_kept_across_starts_and_the_identity_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let first = self_signed(dir.path(), &names).expect("first");
        let ca = std::fs::read(&first.ca).expect("ca");
        let second = self_signed(dir.path(), &["example.test".to_owned()]).expect("second");
        assert_eq!(std::fs::read(&second.ca).expect("ca"), ca);
        server_config(&second.cert, &second.key).expect("loads");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&second.key)
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
