//! The PostgreSQL connection URL: where the database is, as whom, and how
//! the connection is protected.
//!
//! The URL carries the role's password, so it never prints: `Debug` and
//! `describe` show the user, hosts and database only, and parse errors never
//! quote the URL. TLS follows libpq's `sslmode` names, restricted to the three
//! that mean something definite: `verify-full` (the default), `require` and
//! `disable`. A plaintext connection is allowed only to a loopback address or
//! a Unix socket, unless the operator says `danger_allow_plaintext`.

use std::path::Path;
use std::time::Duration;

use postgres::config::Host;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// How long a connection attempt may take unless the URL says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the connection to the server is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// `sslmode=disable`: no TLS (loopback or a Unix socket, or explicitly
    /// allowed).
    Disable,
    /// `sslmode=require`: encrypted, but the server's certificate is not
    /// checked (libpq's meaning): a defence against eavesdroppers only.
    Require,
    /// `sslmode=verify-full`, the default: encrypted, and the server must
    /// present a certificate for its host name from a trusted authority:
    /// the CA certificates of `sslrootcert` when given (a private CA, such as
    /// Amazon RDS's bundle), else the Mozilla root programme's.
    VerifyFull { roots: Option<Vec<CertificateDer<'static>>> },
}

impl TlsMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Require => "require",
            TlsMode::VerifyFull { .. } => "verify-full",
        }
    }
}

/// Why a connection URL was refused. None quotes the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("must be a postgresql:// (or postgres://) URL")]
    NotUrl,
    #[error("is not a valid PostgreSQL connection URL: {0}")]
    Invalid(String),
    #[error("names no host")]
    NoHost,
    #[error("names no user")]
    NoUser,
    #[error("names `{0}` more than once")]
    Repeated(&'static str),
    #[error("sslmode must be disable, require or verify-full (the default)")]
    SslMode,
    #[error("sslrootcert is used only with sslmode=verify-full")]
    RootCertWithoutVerify,
    #[error("sslrootcert {path}: {message}")]
    RootCert { path: String, message: String },
    #[error(
        "sslmode=disable sends the password and every row in clear: it is allowed only to a loopback address or a Unix socket, unless storage.danger_allow_plaintext = true"
    )]
    Plaintext,
}

/// A validated connection URL. Its password never prints.
#[derive(Clone)]
pub struct DatabaseUrl {
    /// As given, kept only to compare two configurations.
    raw: SecretString,
    /// The URL without the TLS parameters, which are applied from `tls`
    /// (boxed: it is large, and configurations are moved around whole).
    config: Box<tokio_postgres::Config>,
    tls: TlsMode,
}

impl DatabaseUrl {
    /// Validate `raw`. A relative `sslrootcert` is taken from `base_dir`.
    pub fn parse(raw: &str, base_dir: &Path, allow_plaintext: bool) -> Result<Self, UrlError> {
        let raw = raw.trim();
        if !(raw.starts_with("postgresql://") || raw.starts_with("postgres://")) {
            return Err(UrlError::NotUrl);
        }
        let (base, query) = raw.split_once('?').unwrap_or((raw, ""));
        let (mut sslmode, mut rootcert, mut kept) = (None, None, Vec::new());
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match decode(key).as_str() {
                "sslmode" => (&mut sslmode, "sslmode"),
                "sslrootcert" => (&mut rootcert, "sslrootcert"),
                _ => {
                    kept.push(pair);
                    continue;
                }
            };
            if slot.0.replace(decode(value)).is_some() {
                return Err(UrlError::Repeated(slot.1));
            }
        }
        let rest = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
        // tokio-postgres's parse errors name the option at fault, never its value.
        let mut config: tokio_postgres::Config =
            rest.parse().map_err(|e: tokio_postgres::Error| UrlError::Invalid(e.to_string()))?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return Err(UrlError::NoHost);
        }
        if config.get_user().is_none_or(str::is_empty) {
            return Err(UrlError::NoUser);
        }
        let tls = match (sslmode.as_deref(), rootcert) {
            (Some("disable"), None) => TlsMode::Disable,
            (Some("require"), None) => TlsMode::Require,
            (None | Some("verify-full"), rootcert) => {
                TlsMode::VerifyFull { roots: rootcert.map(|p| read_roots(&p, base_dir)).transpose()? }
            }
            (Some("disable" | "require"), Some(_)) => return Err(UrlError::RootCertWithoutVerify),
            (Some(_), _) => return Err(UrlError::SslMode),
        };
        if tls == TlsMode::Disable && !allow_plaintext && !stays_on_this_machine(&config) {
            return Err(UrlError::Plaintext);
        }
        config.ssl_mode(match tls {
            TlsMode::Disable => tokio_postgres::config::SslMode::Disable,
            TlsMode::Require | TlsMode::VerifyFull { .. } => tokio_postgres::config::SslMode::Require,
        });
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("rootvault");
        }
        Ok(Self { raw: SecretString::from(raw.to_owned()), config: Box::new(config), tls })
    }

    /// The connection settings for the synchronous client (the store).
    pub fn config(&self) -> postgres::Config {
        postgres::Config::from(*self.config.clone())
    }

    /// The connection settings for the asynchronous client (the HA lease).
    pub fn async_config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    pub fn tls(&self) -> &TlsMode {
        &self.tls
    }

    /// The role the URL connects as.
    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or_default()
    }

    /// `user@host:port/database (sslmode)`, for messages: no password.
    pub fn describe(&self) -> String {
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let ports: Vec<String> = self.config.get_ports().iter().map(u16::to_string).collect();
        format!(
            "{}@{}{}{}/{} ({})",
            self.user(),
            if hosts.is_empty() { "(hostaddr)".to_owned() } else { hosts.join(",") },
            if ports.is_empty() { "" } else { ":" },
            ports.join(","),
            self.config.get_dbname().unwrap_or(self.user()),
            self.tls.as_str()
        )
    }
}

impl PartialEq for DatabaseUrl {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.raw.expose_secret().as_bytes().ct_eq(other.raw.expose_secret().as_bytes()))
            && self.tls == other.tls
    }
}

impl Eq for DatabaseUrl {}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.describe()).finish()
    }
}

/// Percent-decode one query key or value the way tokio-postgres does (a `+`
/// stays a `+`, unlike in HTML forms).
fn decode(text: &str) -> String {
    let form = format!("x={}", text.replace('+', "%2B"));
    url::form_urlencoded::parse(form.as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// Whether every address the connection may go to is a loopback address or
/// a Unix socket. A name such as `localhost` is not: the resolver decides.
fn stays_on_this_machine(config: &tokio_postgres::Config) -> bool {
    let host_is_local = |h: &Host| match h {
        Host::Unix(_) => true,
        Host::Tcp(name) => name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
    };
    config.get_hosts().iter().all(host_is_local) && config.get_hostaddrs().iter().all(|ip| ip.is_loopback())
}

/// The CA certificates of an `sslrootcert` PEM file: at least one, each one
/// usable as a trust anchor.
fn read_roots(path: &str, base_dir: &Path) -> Result<Vec<CertificateDer<'static>>, UrlError> {
    let file = Path::new(path);
    let file = if file.is_relative() { base_dir.join(file) } else { file.to_path_buf() };
    let fail = |message: String| UrlError::RootCert { path: file.display().to_string(), message };
    let certs = CertificateDer::pem_file_iter(&file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| fail(format!("cannot read it: {e}")))?;
    let mut store = rustls::RootCertStore::empty();
    let (valid, invalid) = store.add_parsable_certificates(certs.iter().cloned());
    if valid == 0 || invalid > 0 {
        return Err(fail(format!(
            "holds {valid} usable and {invalid} unusable CA certificates; it needs one or more, all usable"
        )));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<DatabaseUrl, UrlError> {
        DatabaseUrl::parse(raw, Path::new("/etc/rootvault"), false)
    }

    #[test]
    fn verify_full_is_the_default_and_the_password_never_prints() {
        let url = parse("postgresql://svc:s3cret-pw@db.example:5432/rootvault").unwrap();
        assert_eq!(url.tls(), &TlsMode::VerifyFull { roots: None });
        assert_eq!(url.user(), "svc");
        assert_eq!(url.config().get_password(), Some(&b"s3cret-pw"[..]));
        assert_eq!(url.config().get_application_name(), Some("rootvault"));
        assert_eq!(url.config().get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(url.describe(), "svc@db.example:5432/rootvault (verify-full)");
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn plaintext_is_for_loopback_and_unix_sockets_unless_allowed() {
        for local in [
            "postgresql://svc@127.0.0.1:5432/rv?sslmode=disable",
            "postgres://svc@[::1]/rv?sslmode=disable",
            "postgresql://svc@%2Fvar%2Frun%2Fpostgresql/rv?sslmode=disable",
            "postgresql://svc@127.0.0.2/rv?hostaddr=127.0.0.1&sslmode=disable",
        ] {
            assert_eq!(parse(local).unwrap().tls(), &TlsMode::Disable, "{local}");
        }
        for remote in [
            "postgresql://svc@db.example/rv?sslmode=disable",
            "postgresql://svc@localhost/rv?sslmode=disable",
            "postgresql://svc@127.0.0.1,db.example/rv?sslmode=disable",
            "postgresql://svc@127.0.0.1/rv?hostaddr=10.0.0.5&sslmode=disable",
        ] {
            assert_eq!(parse(remote).unwrap_err(), UrlError::Plaintext, "{remote}");
            let allowed = DatabaseUrl::parse(remote, Path::new("/"), true).unwrap();
            assert_eq!(allowed.config().get_ssl_mode(), postgres::config::SslMode::Disable);
        }
    }

    #[test]
    fn other_parameters_pass_through_and_tls_ones_are_checked() {
        let url =
            parse("postgresql://svc@db.example/rv?application_name=node-a&sslmode=require&connect_timeout=3").unwrap();
        assert_eq!(url.tls(), &TlsMode::Require);
        assert_eq!(url.config().get_ssl_mode(), postgres::config::SslMode::Require);
        assert_eq!(url.config().get_application_name(), Some("node-a"));
        assert_eq!(url.config().get_connect_timeout(), Some(&Duration::from_secs(3)));

        let cases = [
            ("mysql://svc@db.example/rv", UrlError::NotUrl),
            ("host=db.example user=svc", UrlError::NotUrl),
            ("postgresql://db.example/rv", UrlError::NoUser),
            ("postgresql://svc@db.example/rv?sslmode=prefer", UrlError::SslMode),
            ("postgresql://svc@db.example/rv?sslmode=verify-ca", UrlError::SslMode),
            ("postgresql://svc@db.example/rv?sslmode=require&sslmode=disable", UrlError::Repeated("sslmode")),
            ("postgresql://svc@db.example/rv?sslmode=require&sslrootcert=ca.pem", UrlError::RootCertWithoutVerify),
        ];
        for (raw, error) in cases {
            assert_eq!(parse(raw).unwrap_err(), error, "{raw}");
        }
        let unknown = parse("postgresql://svc:hunter2@db.example/rv?sslcert=client.pem").unwrap_err();
        assert!(matches!(&unknown, UrlError::Invalid(m) if !m.contains("hunter2")), "{unknown}");
    }

    #[test]
    fn a_private_ca_comes_from_sslrootcert_relative_to_the_configuration() {
        let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/postgres/testdata");
        let url = DatabaseUrl::parse("postgresql://svc@db.example/rv?sslrootcert=ca.pem", &testdata, false).unwrap();
        assert!(matches!(url.tls(), TlsMode::VerifyFull { roots: Some(roots) } if roots.len() == 1));
        let dir = tempfile::tempdir().unwrap();
        let missing = DatabaseUrl::parse("postgresql://svc@db.example/rv?sslrootcert=rds.pem", dir.path(), false);
        assert!(matches!(missing, Err(UrlError::RootCert { .. })));
        std::fs::write(dir.path().join("rds.pem"), "not a certificate\n").unwrap();
        let empty = DatabaseUrl::parse("postgresql://svc@db.example/rv?sslrootcert=rds.pem", dir.path(), false);
        assert!(matches!(empty, Err(UrlError::RootCert { .. })));
    }

    #[test]
    fn two_urls_are_equal_only_when_their_text_is() {
        let a = parse("postgresql://svc:one@db.example/rv").unwrap();
        assert_eq!(a, parse("postgresql://svc:one@db.example/rv").unwrap());
        assert_ne!(a, parse("postgresql://svc:two@db.example/rv").unwrap());
    }
}
