//! TLS with rustls (ring provider): a self-signed server certificate generated on first
//! start and kept in the data directory, and the client configuration Session uses for
//! service nodes (no certificate validation — nodes are authenticated by their Ed25519
//! keys, not by their TLS certificates).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::RtError;
use crate::fs::write_private;

/// File name of the PEM certificate inside the data directory.
pub const CERT_FILE: &str = "cert.pem";
/// File name of the PEM private key inside the data directory (mode 0600).
pub const KEY_FILE: &str = "key.pem";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(e: impl std::fmt::Display) -> RtError {
    RtError::Tls {
        reason: e.to_string(),
    }
}

/// Loads `cert.pem`/`key.pem` from `dir`, generating a self-signed ECDSA P-256
/// certificate for `names` first if either file is missing. Returns the server config.
pub fn load_or_generate(
    dir: &Path,
    names: &[String],
) -> Result<Arc<rustls::ServerConfig>, RtError> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    if !cert_path.exists() || !key_path.exists() {
        let (cert_pem, key_pem) = generate_self_signed(names)?;
        write_private(&key_path, key_pem.as_bytes())?;
        write_private(&cert_path, cert_pem.as_bytes())?;
        tracing::info!(
            "generated a self-signed TLS certificate in {}",
            dir.display()
        );
    }
    let cert_pem = std::fs::read(&cert_path).map_err(|e| RtError::io("read", &cert_path, e))?;
    let key_pem = std::fs::read(&key_path).map_err(|e| RtError::io("read", &key_path, e))?;
    server_config(&cert_pem, &key_pem)
}

/// A self-signed certificate for `names` (DNS names or IP addresses): `(cert_pem, key_pem)`.
pub fn generate_self_signed(names: &[String]) -> Result<(String, String), RtError> {
    let names = if names.is_empty() {
        vec!["localhost".to_owned()]
    } else {
        names.to_vec()
    };
    let ck = rcgen::generate_simple_self_signed(names).map_err(tls_err)?;
    Ok((ck.cert.pem(), ck.signing_key.serialize_pem()))
}

/// A rustls server configuration (TLS 1.2 and 1.3, HTTP/1.1 ALPN) from PEM text.
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, RtError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(tls_err)?;
    if certs.is_empty() {
        return Err(tls_err("no certificate in PEM"));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(tls_err)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(tls_err)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Where [`verified_client_config`] looks for the system's trusted CA certificates
/// (PEM bundles), after the file named by `SSL_CERT_FILE`.
pub const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// A client configuration that validates server certificates against the system's
/// CA bundle (first of `SSL_CERT_FILE` and [`CA_BUNDLES`] that exists): what a node
/// uses to reach community and file servers over HTTPS. Fails when no bundle holds a
/// usable certificate.
pub fn verified_client_config() -> Result<Arc<rustls::ClientConfig>, RtError> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(c) = CONFIG.get() {
        return Ok(c.clone());
    }
    let from_env = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    let candidates = from_env
        .into_iter()
        .chain(CA_BUNDLES.iter().map(std::path::PathBuf::from));
    let mut roots = rustls::RootCertStore::empty();
    for path in candidates {
        let Ok(pem) = std::fs::read(&path) else {
            continue;
        };
        for cert in CertificateDer::pem_slice_iter(&pem).flatten() {
            // A bundle may hold certificates rustls cannot use; skip those.
            let _ = roots.add(cert);
        }
        if !roots.is_empty() {
            break;
        }
    }
    if roots.is_empty() {
        return Err(tls_err(
            "no trusted CA certificates found (set SSL_CERT_FILE to a PEM bundle)",
        ));
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
}

/// The client configuration for talking to service nodes: any certificate is accepted,
/// but the handshake signature is still checked against the presented certificate.
pub fn insecure_client_config() -> Result<Arc<rustls::ClientConfig>, RtError> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    if let Some(c) = CONFIG.get() {
        return Ok(c.clone());
    }
    let provider = provider();
    let verifier = Arc::new(AnyServerCert {
        algs: provider.signature_verification_algorithms,
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
}

#[derive(Debug)]
struct AnyServerCert {
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        load_or_generate(dir.path(), &["127.0.0.1".into()]).unwrap();
        let cert1 = std::fs::read(dir.path().join(CERT_FILE)).unwrap();
        load_or_generate(dir.path(), &[]).unwrap();
        let cert2 = std::fs::read(dir.path().join(CERT_FILE)).unwrap();
        assert_eq!(cert1, cert2, "an existing certificate is kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(server_config(b"nope", b"nope").is_err());
        assert!(insecure_client_config().is_ok());
    }
}
