//! The sign-in part of the configuration: each org's OpenID provider
//! (`[orgs.oidc]`) and the session and step-up limits (`[auth]`).
//!
//! See docs/signin.md for the meaning of every key.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{ConfigError, Env, secret_from};
use crate::domain::ids::{OrgName, Role};

/// Where an org's OpenID provider is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcIssuer {
    /// A provider discovered at `{url}/.well-known/openid-configuration`.
    Url(String),
    /// The dev identity provider this process serves at
    /// `{public_url}/dev/idp/{org}` (dev mode only).
    DevIdp,
}

/// A relying-party client secret: never printed, compared in constant time.
#[derive(Clone)]
pub struct ClientSecret(SecretString);

impl ClientSecret {
    pub fn new(secret: SecretString) -> Self {
        Self(secret)
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(…)")
    }
}

impl PartialEq for ClientSecret {
    fn eq(&self, other: &Self) -> bool {
        self.expose().as_bytes().ct_eq(other.expose().as_bytes()).into()
    }
}

impl Eq for ClientSecret {}

/// One org's OpenID provider and how its ID tokens map to principals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    pub issuer: OidcIssuer,
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub scopes: Vec<String>,
    pub roles_claim: String,
    /// Claim value → role. `None`: values that are role names count as
    /// themselves.
    pub role_map: Option<BTreeMap<String, Role>>,
    pub subject_claim: String,
    pub display_claim: String,
}

impl OidcSettings {
    /// The settings of a dev org: its dev identity provider, whose ID
    /// tokens carry the role names in `roles`.
    pub fn dev(client_id: &str, client_secret: ClientSecret) -> Self {
        Self {
            issuer: OidcIssuer::DevIdp,
            client_id: client_id.to_owned(),
            client_secret,
            scopes: default_scopes(),
            roles_claim: "roles".into(),
            role_map: None,
            subject_claim: "sub".into(),
            display_claim: "email".into(),
        }
    }

    /// The roles a claim's values confer.
    pub fn roles_of(&self, values: &[String]) -> Vec<Role> {
        let mut roles: Vec<Role> = values
            .iter()
            .filter_map(|v| match &self.role_map {
                Some(map) => map.get(v).copied(),
                None => v.parse().ok(),
            })
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(str::to_owned).to_vec()
}

/// Session lifetimes and the step-up age of releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthSettings {
    /// A release needs a sign-in at most this old.
    pub release_max_auth_age: Duration,
    /// A console session unused this long ends.
    pub session_idle_timeout: Duration,
    /// A session (console or CLI) ends this long after sign-in.
    pub session_absolute_timeout: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            release_max_auth_age: Duration::from_secs(15 * 60),
            session_idle_timeout: Duration::from_secs(30 * 60),
            session_absolute_timeout: Duration::from_secs(12 * 3600),
        }
    }
}

impl AuthSettings {
    /// Dev mode: the printed walkthrough must work all day (DESIGN §13).
    pub fn dev() -> Self {
        Self { release_max_auth_age: Duration::from_secs(12 * 3600), ..Self::default() }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileOidc {
    issuer: String,
    client_id: String,
    client_secret_file: Option<std::path::PathBuf>,
    scopes: Option<String>,
    roles_claim: Option<String>,
    role_map: Option<BTreeMap<String, String>>,
    subject_claim: Option<String>,
    display_claim: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileAuth {
    release_max_auth_age: Option<String>,
    session_idle_timeout: Option<String>,
    session_absolute_timeout: Option<String>,
}

/// `https://`, or `http://` on a loopback address (local providers,
/// tests). The host is parsed, not matched as a prefix:
/// `http://127.0.0.1.evil.example` and `http://127.0.0.1@evil.example` are
/// remote hosts over plain http, and so is a name like `localhost`, which
/// the resolver decides.
pub(super) fn is_acceptable_url(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else { return false };
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}

/// The environment variable that overrides an org's client secret file.
pub fn client_secret_env(org: &OrgName) -> String {
    format!("ROOTVAULT_OIDC_CLIENT_SECRET_{}", org.as_str().to_uppercase().replace('-', "_"))
}

pub(super) fn parse_oidc(
    key: &str,
    org: &OrgName,
    file: FileOidc,
    base_dir: &Path,
    env: &dyn Env,
) -> Result<OidcSettings, ConfigError> {
    let field = |f: &str| format!("{key}.{f}");
    let issuer = file.issuer.trim_end_matches('/').to_owned();
    if !is_acceptable_url(&issuer) {
        return Err(ConfigError::new(&field("issuer"), "must be an https:// URL (or http:// on loopback)"));
    }
    if file.client_id.trim().is_empty() {
        return Err(ConfigError::new(&field("client_id"), "must not be empty"));
    }
    let field_name = field("client_secret_file");
    let secret = secret_from(env, &client_secret_env(org), file.client_secret_file, base_dir, &field_name)?
        .ok_or_else(|| ConfigError::new(&field_name, format!("is required (or set {})", client_secret_env(org))))?;
    let scopes = match file.scopes {
        None => default_scopes(),
        Some(s) => s.split_whitespace().map(str::to_owned).collect(),
    };
    if !scopes.iter().any(|s| s == "openid") {
        return Err(ConfigError::new(&field("scopes"), "must include openid"));
    }
    let role_map = match file.role_map {
        None => None,
        Some(map) => {
            let mut out = BTreeMap::new();
            for (value, role) in map {
                let role = role.parse::<Role>().map_err(|_| {
                    ConfigError::new(&field("role_map"), format!("{role:?} is not admin, staff, approver or auditor"))
                })?;
                out.insert(value, role);
            }
            Some(out)
        }
    };
    let claim = |name: &str, value: Option<String>, default: &str| -> Result<String, ConfigError> {
        match value {
            Some(v) if v.trim().is_empty() => Err(ConfigError::new(&field(name), "must not be empty")),
            Some(v) => Ok(v),
            None => Ok(default.to_owned()),
        }
    };
    Ok(OidcSettings {
        issuer: OidcIssuer::Url(issuer),
        client_id: file.client_id,
        client_secret: ClientSecret::new(SecretString::from(secret)),
        scopes,
        roles_claim: claim("roles_claim", file.roles_claim, "roles")?,
        role_map,
        subject_claim: claim("subject_claim", file.subject_claim, "sub")?,
        display_claim: claim("display_claim", file.display_claim, "email")?,
    })
}

/// No session or sign-in age is meant to outlast a year.
const MAX_DURATION_SECONDS: u64 = 366 * 86_400;

/// `15m`, `900s`, `12h`.
fn parse_duration(key: &str, text: &str) -> Result<Duration, ConfigError> {
    let text = text.trim();
    let bad = || ConfigError::new(key, format!("{text:?} is not a duration like 900s, 15m or 12h"));
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    if seconds == 0 {
        return Err(ConfigError::new(key, "must be longer than zero"));
    }
    if seconds > MAX_DURATION_SECONDS {
        return Err(ConfigError::new(key, "must be at most 366 days"));
    }
    Ok(Duration::from_secs(seconds))
}

pub(super) fn parse_auth(file: FileAuth) -> Result<AuthSettings, ConfigError> {
    let defaults = AuthSettings::default();
    let get = |key: &str, value: Option<String>, default: Duration| match value {
        Some(v) => parse_duration(key, &v),
        None => Ok(default),
    };
    let settings = AuthSettings {
        release_max_auth_age: get(
            "auth.release_max_auth_age",
            file.release_max_auth_age,
            defaults.release_max_auth_age,
        )?,
        session_idle_timeout: get(
            "auth.session_idle_timeout",
            file.session_idle_timeout,
            defaults.session_idle_timeout,
        )?,
        session_absolute_timeout: get(
            "auth.session_absolute_timeout",
            file.session_absolute_timeout,
            defaults.session_absolute_timeout,
        )?,
    };
    if settings.session_idle_timeout > settings.session_absolute_timeout {
        return Err(ConfigError::new("auth.session_idle_timeout", "must not exceed session_absolute_timeout"));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_minutes_or_hours() {
        assert_eq!(parse_duration("k", "900s").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("k", "15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("k", "12h").unwrap(), Duration::from_secs(43_200));
        for bad in ["", "m", "15", "15d", "-1m", "0s", "1.5h", "8785h", "99999999999999999h"] {
            assert_eq!(parse_duration("k", bad).unwrap_err().key, "k", "{bad}");
        }
    }

    #[test]
    fn providers_are_https_or_on_loopback() {
        assert!(is_acceptable_url("https://login.globex.example"));
        assert!(is_acceptable_url("http://127.0.0.1:9000"));
        assert!(!is_acceptable_url("http://localhost:9000/realms/x"));
        assert!(!is_acceptable_url("http://127.0.0.1.evil.example/"));
        assert!(!is_acceptable_url("http://login.globex.example"));
        assert!(!is_acceptable_url("http://10.0.0.1"));
        assert!(!is_acceptable_url("ftp://x"));
    }

    #[test]
    fn a_role_map_decides_alone_once_given() {
        let mut settings = OidcSettings::dev("c", ClientSecret::new(SecretString::from("s")));
        let values = ["admin".to_owned(), "oncall".to_owned(), "nobody".to_owned()];
        assert_eq!(settings.roles_of(&values), [Role::Admin]);
        settings.role_map = Some(BTreeMap::from([("oncall".to_owned(), Role::Staff)]));
        assert_eq!(settings.roles_of(&values), [Role::Staff]);
    }
}
