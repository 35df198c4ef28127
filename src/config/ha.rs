//! `[ha]`: this node within a cluster of nodes sharing one PostgreSQL
//! database (DESIGN §17, docs/high-availability.md).
//!
//! The section parses on its own, with or without a cluster: a single
//! SQLite node needs none of it. [`HaSettings::check_clustered`] says what a
//! cluster needs once the storage backend is known. The cluster secret
//! comes from a file or the environment and never prints.

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{ConfigError, Env, secret_from};

/// The environment variable that overrides `cluster_secret_file`.
pub const CLUSTER_SECRET_ENV: &str = "ROOTVAULT_HA_CLUSTER_SECRET";

/// The shortest cluster secret accepted, in bytes: an HMAC key of 256 bits.
const MIN_SECRET_BYTES: usize = 32;

/// The secret the nodes prove forwarded requests with: never printed.
#[derive(Clone)]
pub struct ClusterSecret(SecretString);

impl ClusterSecret {
    pub fn new(secret: String) -> Self {
        Self(SecretString::from(secret))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl PartialEq for ClusterSecret {
    fn eq(&self, other: &Self) -> bool {
        self.expose().as_bytes().ct_eq(other.expose().as_bytes()).into()
    }
}

impl Eq for ClusterSecret {}

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(…)")
    }
}

/// `[ha]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaSettings {
    /// The name `GET /v1/sys/ha-status` shows; the host's name by default.
    pub node: String,
    /// Where the other nodes reach this one, e.g.
    /// `https://rv-1.internal:8750`: https, or http to a loopback address.
    pub api_addr: Option<String>,
    /// What proves a forwarded request's client address (`forward`).
    pub cluster_secret: Option<ClusterSecret>,
    /// Extra CA certificates (PEM) trusted for the other nodes' `api_addr`.
    pub ca_file: Option<PathBuf>,
    /// `danger_single_node = true`: on PostgreSQL, run as the database's
    /// only node, with no lease and no fence (a trial, the test suite).
    /// A second node so configured on the same database would write beside
    /// this one: each then fails the other's audit appends until one stops.
    pub danger_single_node: bool,
}

impl HaSettings {
    /// A node with no `[ha]` section: named after its host, nothing else.
    pub fn single_node() -> Self {
        Self { node: host_name(), api_addr: None, cluster_secret: None, ca_file: None, danger_single_node: false }
    }

    /// What a cluster needs (`[storage] backend = "postgres"`): an address
    /// the other nodes forward to, the secret that proves forwarded
    /// requests, and keys that unseal by themselves: only the active node
    /// writes, so a standby could not record its own unseal, and while
    /// every node waits for unseal shares none may lead. Call once the
    /// storage backend is known.
    pub fn check_clustered(&self, keys: &super::KeysConfig) -> Result<(), ConfigError> {
        if *keys == super::KeysConfig::Local {
            return Err(ConfigError::new(
                "keys.provider",
                "must be \"aws-kms\" when the storage backend is postgres: the nodes of a cluster unseal through KMS",
            ));
        }
        if self.api_addr.is_none() {
            return Err(ConfigError::new("ha.api_addr", "is required when the storage backend is postgres"));
        }
        if self.cluster_secret.is_none() {
            return Err(ConfigError::new(
                "ha.cluster_secret_file",
                format!("is required when the storage backend is postgres (or set {CLUSTER_SECRET_ENV})"),
            ));
        }
        Ok(())
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileHa {
    node: Option<String>,
    api_addr: Option<String>,
    cluster_secret_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    danger_single_node: bool,
}

/// The host's name if it is a usable node name, else `rootvault`.
fn host_name() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| valid_node(h))
        .unwrap_or_else(|| "rootvault".into())
}

/// 1 to 63 letters, digits, `.`, `-` or `_`: any host name is one.
fn valid_node(name: &str) -> bool {
    (1..=63).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `https://host[:port][/prefix]`, or `http://` to a loopback address.
/// Forwarded requests carry tokens and cookies, and their answers carry
/// released passwords: they never cross a network in the clear.
fn parse_api_addr(raw: &str) -> Result<String, ConfigError> {
    let bad = |m: &str| ConfigError::new("ha.api_addr", m);
    let url = url::Url::parse(raw).map_err(|_| bad("must be a URL like https://rv-1.internal:8750"))?;
    if !super::auth::is_acceptable_url(raw) {
        return Err(bad("must be an https:// URL (or http:// on a loopback address)"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not carry credentials, a query or a fragment"));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// Validate `[ha]` with its environment overrides (`ROOTVAULT_HA_NODE`,
/// `ROOTVAULT_HA_API_ADDR`, `ROOTVAULT_HA_CLUSTER_SECRET`).
pub(super) fn parse_ha(file: Option<FileHa>, base_dir: &Path, env: &dyn Env) -> Result<HaSettings, ConfigError> {
    let file = file.unwrap_or_default();
    let node = match env.var("ROOTVAULT_HA_NODE").or(file.node) {
        None => host_name(),
        Some(node) if valid_node(&node) => node,
        Some(_) => return Err(ConfigError::new("ha.node", "must be 1 to 63 letters, digits, '.', '-' or '_'")),
    };
    let api_addr = env.var("ROOTVAULT_HA_API_ADDR").or(file.api_addr).map(|a| parse_api_addr(&a)).transpose()?;
    let secret = secret_from(env, CLUSTER_SECRET_ENV, file.cluster_secret_file, base_dir, "ha.cluster_secret_file")?;
    if secret.as_ref().is_some_and(|s| s.len() < MIN_SECRET_BYTES) {
        return Err(ConfigError::new(
            "ha.cluster_secret_file",
            format!("the secret must be at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)"),
        ));
    }
    let ca_file = file.ca_file.map(|f| if f.is_relative() { base_dir.join(f) } else { f });
    if let Some(path) = &ca_file {
        let pem = std::fs::read(path).map_err(|e| ConfigError::new("ha.ca_file", format!("cannot read it: {e}")))?;
        if !reqwest::Certificate::from_pem_bundle(&pem).is_ok_and(|certs| !certs.is_empty()) {
            return Err(ConfigError::new("ha.ca_file", "holds no PEM certificate"));
        }
    }
    Ok(HaSettings {
        node,
        api_addr,
        cluster_secret: secret.map(ClusterSecret::new),
        ca_file,
        danger_single_node: file.danger_single_node,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::KeysConfig;
    use crate::config::tests::FakeEnv;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    const KMS: KeysConfig = KeysConfig::AwsKms(crate::crypto::kms::KmsSettings {
        region: String::new(),
        endpoint_url: None,
        password_key_id: String::new(),
        mfa_key_id: String::new(),
    });

    fn parse(text: &str, env: &[(&'static str, &'static str)]) -> Result<HaSettings, ConfigError> {
        let file: FileHa = toml::from_str(text).unwrap();
        parse_ha(Some(file), Path::new("/nonexistent"), &FakeEnv(env.iter().copied().collect()))
    }

    #[test]
    fn without_a_section_the_node_is_named_after_its_host_and_is_no_cluster() {
        let none = parse_ha(None, Path::new("/"), &FakeEnv(HashMap::new())).unwrap();
        assert!(valid_node(&none.node), "{}", none.node);
        assert_eq!((none.api_addr, none.cluster_secret, none.ca_file), (None, None, None));
        assert_eq!(HaSettings::single_node().node, none.node);
        assert_eq!(parse("", &[]).unwrap().check_clustered(&KMS).unwrap_err().key, "ha.api_addr");
    }

    #[test]
    fn a_cluster_node_reads_every_key_and_the_environment_wins() {
        let text = "node = \"rv-1\"\napi_addr = \"https://rv-1.internal:8750/\"\n";
        let s = parse(text, &[("ROOTVAULT_HA_CLUSTER_SECRET", SECRET)]).unwrap();
        assert_eq!(s.node, "rv-1");
        assert_eq!(s.api_addr.as_deref(), Some("https://rv-1.internal:8750"), "a trailing slash is dropped");
        assert_eq!(s.cluster_secret.as_ref().unwrap().expose(), SECRET);
        assert!(s.check_clustered(&KMS).is_ok());
        assert_eq!(s.check_clustered(&KeysConfig::Local).unwrap_err().key, "keys.provider");
        assert!(!s.danger_single_node);
        assert!(parse("danger_single_node = true", &[]).unwrap().danger_single_node);
        assert!(!format!("{s:?}").contains(SECRET), "the secret never prints");

        let env = [
            ("ROOTVAULT_HA_NODE", "rv-2"),
            ("ROOTVAULT_HA_API_ADDR", "http://127.0.0.1:8751"),
            ("ROOTVAULT_HA_CLUSTER_SECRET", SECRET),
        ];
        let s = parse(text, &env).unwrap();
        assert_eq!((s.node.as_str(), s.api_addr.as_deref()), ("rv-2", Some("http://127.0.0.1:8751")));
    }

    #[test]
    fn the_secret_and_the_ca_come_from_files_beside_the_configuration() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cluster-secret"), format!("{SECRET}\n")).unwrap();
        let file: FileHa = toml::from_str("cluster_secret_file = \"cluster-secret\"").unwrap();
        let s = parse_ha(Some(file), dir.path(), &FakeEnv(HashMap::new())).unwrap();
        assert_eq!(s.cluster_secret.unwrap().expose(), SECRET);

        std::fs::write(dir.path().join("ca.pem"), "not a certificate").unwrap();
        let file: FileHa = toml::from_str("ca_file = \"ca.pem\"").unwrap();
        let err = parse_ha(Some(file), dir.path(), &FakeEnv(HashMap::new())).unwrap_err();
        assert_eq!(err.key, "ha.ca_file");
    }

    #[test]
    fn each_mistake_names_its_key() {
        type Case = (&'static str, &'static [(&'static str, &'static str)], &'static str);
        let cases: [Case; 9] = [
            ("node = \"\"", &[], "ha.node"),
            ("node = \"rv 1\"", &[], "ha.node"),
            ("api_addr = \"rv-1.internal:8750\"", &[], "ha.api_addr"),
            ("api_addr = \"http://rv-1.internal:8750\"", &[], "ha.api_addr"),
            ("api_addr = \"https://user:pw@rv-1.internal\"", &[], "ha.api_addr"),
            ("api_addr = \"https://rv-1.internal/?a=1\"", &[], "ha.api_addr"),
            ("", &[("ROOTVAULT_HA_CLUSTER_SECRET", "short")], "ha.cluster_secret_file"),
            ("cluster_secret_file = \"missing\"", &[], "ha.cluster_secret_file"),
            ("ca_file = \"missing.pem\"", &[], "ha.ca_file"),
        ];
        for (text, env, key) in cases {
            let err = parse(text, env).unwrap_err();
            assert_eq!(err.key, key, "{text}: {err}");
        }
        let no_secret = parse("api_addr = \"https://rv-1.internal\"", &[]).unwrap();
        assert_eq!(no_secret.check_clustered(&KMS).unwrap_err().key, "ha.cluster_secret_file");
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let err = crate::config::Config::parse(
            "data_dir = \"/d\"\nprovider_org = \"acme\"\n[[orgs]]\nname = \"acme\"\nissuer = \"https://i\"\njwks_file = \"j\"\n[keys]\nprovider = \"local\"\n[ha]\nnodes = 3\n",
            Path::new("/"),
            &FakeEnv(HashMap::new()),
        )
        .unwrap_err();
        assert_eq!(err.key, "nodes");
    }
}
