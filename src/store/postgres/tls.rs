//! TLS for connections to PostgreSQL, with rustls and the ring provider.
//!
//! `verify-full` checks the server's certificate chain and host name with
//! rustls's own verifier. `require` keeps libpq's meaning (encrypt, trust any
//! certificate): its verifier accepts every certificate but still checks the
//! handshake signatures with the provider's algorithms, so the session keys
//! belong to whoever holds the certificate's key.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::database_url::TlsMode;

/// The connector for `mode`. With `disable` it is never used (the
/// connection's `sslmode` is off), but one type serves every mode.
pub fn connector(mode: &TlsMode) -> MakeRustlsConnect {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| unreachable!("the ring provider supports TLS 1.2 and 1.3, the safe defaults"));
    let config = match mode {
        TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
        TlsMode::Disable | TlsMode::VerifyFull { roots: None } => builder
            .with_root_certificates(RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })
            .with_no_client_auth(),
        TlsMode::VerifyFull { roots: Some(certs) } => {
            let mut roots = RootCertStore::empty();
            // Every certificate was checked usable when the URL was parsed.
            roots.add_parsable_certificates(certs.iter().cloned());
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    MakeRustlsConnect::new(config)
}

/// `sslmode=require`: any certificate, but a valid handshake signature by it.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::path::Path;
    use std::time::Duration;

    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    use rustls::{ServerConfig, ServerConnection};

    use super::*;
    use crate::store::postgres::{DatabaseUrl, connect};

    /// The test CA and a certificate it signed for 127.0.0.1, valid from 2000
    /// to 2999 (made once with Python's `cryptography`; the key is a test key).
    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/postgres/testdata");

    /// A server on a loopback port that answers PostgreSQL's TLS request and
    /// shakes hands with the test certificate. The thread says whether the
    /// client accepted the certificate (the handshake completed).
    fn tls_server() -> (u16, std::thread::JoinHandle<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handshake = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut request = [0u8; 8];
            socket.read_exact(&mut request).unwrap();
            assert_eq!(request, [0, 0, 0, 8, 4, 210, 22, 47], "an SSLRequest (length 8, code 80877103)");
            socket.write_all(b"S").unwrap();
            let chain = CertificateDer::pem_file_iter(format!("{TESTDATA}/server.pem"))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_file(format!("{TESTDATA}/server.key")).unwrap();
            let config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap();
            let mut server = ServerConnection::new(Arc::new(config)).unwrap();
            while server.is_handshaking() {
                if server.complete_io(&mut socket).is_err() {
                    return false;
                }
            }
            true
        });
        (port, handshake)
    }

    /// Whether a client connecting with `url` (`PORT` replaced) accepts the
    /// test server's certificate.
    fn accepts(url: &str) -> bool {
        let (port, handshake) = tls_server();
        let url = DatabaseUrl::parse(&url.replace("PORT", &port.to_string()), Path::new(TESTDATA), false).unwrap();
        assert!(connect(&url).is_err(), "the test server never completes a PostgreSQL start-up");
        handshake.join().unwrap()
    }

    #[test]
    fn verify_full_trusts_only_the_named_ca_and_checks_the_host() {
        assert!(accepts("postgresql://svc@127.0.0.1:PORT/rv?sslrootcert=ca.pem"));
        assert!(!accepts("postgresql://svc@127.0.0.1:PORT/rv"), "the Mozilla roots do not know the test CA");
        assert!(
            !accepts("postgresql://svc@db.example:PORT/rv?hostaddr=127.0.0.1&sslrootcert=ca.pem"),
            "the certificate is for 127.0.0.1, not db.example"
        );
    }

    #[test]
    fn require_encrypts_with_any_certificate() {
        assert!(accepts("postgresql://svc@db.example:PORT/rv?hostaddr=127.0.0.1&sslmode=require"));
    }
}
