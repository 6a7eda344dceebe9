//! Syslog over TLS (RFC 5425): the TCP listener's framing behind a rustls server (ring
//! crypto, TLS 1.2 and 1.3).
//!
//! With a `client_ca_file`, every client must present a certificate issued by one of its CAs
//! (mutual TLS). The certificate's subject common names and DNS subject alternative names are
//! then looked up, in that order, in the listener's `client_orgs` table; the first name found
//! gives the organization of everything that connection sends. That organization overrides
//! attribution by asset (an asset is kept only when it belongs to it), so a sender cannot
//! place events in another organization by naming its hosts. A certificate whose names are not
//! in the table is accepted and its events are attributed as usual.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use vigil_model::OrgId;

/// Certificate files of a TLS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The server's certificate chain, PEM, leaf first.
    pub cert_file: PathBuf,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// CA certificates (PEM) for client certificates; when set, clients must present one.
    pub client_ca_file: Option<PathBuf>,
    /// Client certificate names (subject CN or DNS SAN) and the organization they send for.
    pub client_orgs: Vec<ClientOrg>,
}

/// One row of the client certificate → organization table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOrg {
    /// Compared case-insensitively with the certificate's subject CNs and DNS SANs.
    pub name: String,
    pub org: OrgId,
}

/// Why a TLS listener cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn file_err(path: &Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| file_err(path, e))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(file_err(path, "holds no certificate"));
    }
    Ok(certs)
}

/// A loaded TLS listener: the acceptor and the name → organization table.
#[derive(Clone)]
pub(crate) struct Tls {
    pub acceptor: TlsAcceptor,
    client_orgs: Arc<Vec<ClientOrg>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("client_orgs", &self.client_orgs)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads the certificate files and builds the server configuration.
    pub fn load(s: &TlsSettings) -> Result<Tls, TlsError> {
        let chain = certs(&s.cert_file)?;
        let key_bytes = std::fs::read(&s.key_file).map_err(|e| file_err(&s.key_file, e))?;
        let key = PrivateKeyDer::from_pem_slice(&key_bytes)
            .map_err(|e| file_err(&s.key_file, format!("no PEM private key: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match &s.client_ca_file {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in certs(ca)? {
                    roots
                        .add(c)
                        .map_err(|e| file_err(ca, format!("not a usable CA certificate: {e}")))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Config(format!("certificate and key: {e}")))?;
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            client_orgs: Arc::new(s.client_orgs.clone()),
        })
    }

    /// The organization of a verified client certificate, with the name that matched.
    pub fn org_of(&self, leaf: Option<&CertificateDer<'_>>) -> Option<(String, OrgId)> {
        let leaf = leaf?;
        if self.client_orgs.is_empty() {
            return None;
        }
        cert_names(leaf).into_iter().find_map(|n| {
            self.client_orgs
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&n))
                .map(|c| (n, c.org))
        })
    }
}

/// The subject common names, then the DNS subject alternative names, of a DER certificate
/// (empty when it cannot be parsed).
pub fn cert_names(der: &[u8]) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_string))
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let GeneralName::DNSName(d) = n {
                names.push((*d).to_string());
            }
        }
    }
    names
}
