//! Typed configuration: a TOML file, then `ROOTVAULT_*` environment overrides.
//!
//! Every problem is reported with the key that caused it, so an operator can
//! fix the file without guessing. Dev mode builds its configuration in code
//! (`Config::dev`) instead of reading a file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod auth;
mod ha;
mod lifecycle;
mod metrics;
mod notify;
mod storage;
mod watch;
pub use auth::{AuthSettings, ClientSecret, OidcIssuer, OidcSettings, client_secret_env};
pub use ha::{CLUSTER_SECRET_ENV, ClusterSecret, HaSettings};
pub use metrics::MetricsSettings;
pub use notify::{
    ChatChannel, ChatFormat, ChatUrl, EmailSettings, OrgRouting, PeopleChannels, SMTP_PASSWORD_ENV, SmtpPassword,
    SmtpTls, chat_url_env, routing_of,
};

use crate::audit::witness::{OnUnavailable, S3WitnessSettings, WitnessConfig};
use crate::crypto::kms::KmsSettings;
use crate::domain::breakglass::{Policy, PolicyError};
use crate::domain::ids::OrgName;
use crate::http::ServerSettings;
use crate::notify::NotifySettings;
use crate::store::postgres::PostgresSettings;
use crate::store::secrets_manager::SecretsManagerSettings;
use crate::watch::WatchSettings;

/// The audience tokens must carry unless configured otherwise.
pub const DEFAULT_AUDIENCE: &str = "rootvault";
/// Where the embedded default listens.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8750";

/// A configuration mistake, naming the key at fault.
#[derive(Debug, thiserror::Error)]
#[error("configuration key `{key}`: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self { key: key.to_owned(), message: message.into() }
    }
}

/// Where an issuer's public keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    File(PathBuf),
    Url(String),
    /// The org's dev issuer key in the data directory.
    Dev,
}

/// A trusted issuer of bearer tokens (DESIGN §5) and its public keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerIssuer {
    pub issuer: String,
    pub jwks: JwksSource,
}

/// One organisation: the issuer that vouches for its machines' bearer
/// tokens and the OpenID provider its people sign in with (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgConfig {
    pub name: OrgName,
    pub bearer: Option<BearerIssuer>,
    pub oidc: Option<OidcSettings>,
    /// Where the org hears about its accounts (`[orgs.notify]`).
    pub notify: OrgRouting,
}

/// Which key provider protects the halves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysConfig {
    Local,
    AwsKms(KmsSettings),
}

impl KeysConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            KeysConfig::Local => "local",
            KeysConfig::AwsKms(_) => "aws-kms",
        }
    }
}

/// Where the service keeps its state (`[storage]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StorageConfig {
    /// Everything in SQLite in the data directory.
    #[default]
    Sqlite,
    /// SQLite, with the encrypted half versions in AWS Secrets Manager.
    SecretsManager(SecretsManagerSettings),
    /// Everything in PostgreSQL, shared by the nodes of one service.
    Postgres(PostgresSettings),
}

impl StorageConfig {
    /// Where the state is, for the operator (no password).
    pub fn describe(&self, data_dir: &Path) -> String {
        match self {
            StorageConfig::Sqlite => format!("data in {}", data_dir.display()),
            StorageConfig::SecretsManager(sm) => {
                format!("data in {}, halves in Secrets Manager ({})", data_dir.display(), sm.region)
            }
            StorageConfig::Postgres(pg) => format!("data in PostgreSQL at {}", pg.url.describe()),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub audience: String,
    pub provider_org: OrgName,
    /// Every org, the provider first.
    pub orgs: Vec<OrgConfig>,
    pub keys: KeysConfig,
    /// How break-glass requests are approved and released.
    pub break_glass: Policy,
    /// How notifications are delivered (webhooks, e-mail, chat).
    pub notify: NotifySettings,
    /// The SMTP relay and chat channels people are reached through.
    pub people: PeopleChannels,
    /// Where the encrypted halves are kept.
    pub storage: StorageConfig,
    /// The address recipients reach link pages at, e.g. `https://vault.example`;
    /// by default `http://` and the listening address.
    pub public_url: Option<String>,
    /// Read timeouts for slow clients.
    pub server: ServerSettings,
    /// Where signed checkpoints are anchored outside the database
    /// (`[audit.witness]`).
    pub witness: WitnessConfig,
    /// Session lifetimes and the step-up age of releases (`[auth]`).
    pub auth: AuthSettings,
    /// The root sign-in watch (`[watch]`); off when no queue is configured.
    pub watch: Option<WatchSettings>,
    /// When DDI moves may happen without a fee (`[lifecycle]`).
    pub move_windows: crate::domain::moves::MoveWindows,
    /// This node within a cluster (`[ha]`).
    pub ha: HaSettings,
    /// Where `GET /metrics` is served (`[metrics]`).
    pub metrics: MetricsSettings,
    /// Set only by `rootvault dev`: dev issuers and auto-unseal.
    pub dev: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    audience: Option<String>,
    provider_org: Option<String>,
    #[serde(default)]
    orgs: Vec<FileOrg>,
    keys: Option<FileKeys>,
    #[serde(default)]
    break_glass: FileBreakGlass,
    #[serde(default)]
    notify: FileNotify,
    storage: Option<storage::FileStorage>,
    #[serde(default)]
    server: FileServer,
    audit: Option<FileAudit>,
    #[serde(default)]
    auth: auth::FileAuth,
    watch: Option<watch::FileWatch>,
    lifecycle: Option<lifecycle::FileLifecycle>,
    ha: Option<ha::FileHa>,
    metrics: Option<metrics::FileMetrics>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileServer {
    header_read_timeout_seconds: Option<u64>,
    body_read_timeout_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAudit {
    witness: Option<FileWitness>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWitness {
    file: Option<PathBuf>,
    s3: Option<FileS3Witness>,
    on_witness_unavailable: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileS3Witness {
    bucket: String,
    prefix: Option<String>,
    retention_days: u32,
    region: String,
    endpoint_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBreakGlass {
    #[serde(default = "default_approvals")]
    approvals_required: u8,
    #[serde(default = "default_views")]
    password_views: u8,
    #[serde(default = "default_pending_ttl")]
    pending_ttl_minutes: u32,
}

fn default_approvals() -> u8 {
    2
}
fn default_views() -> u8 {
    1
}
fn default_pending_ttl() -> u32 {
    60
}

impl Default for FileBreakGlass {
    fn default() -> Self {
        Self {
            approvals_required: default_approvals(),
            password_views: default_views(),
            pending_ttl_minutes: default_pending_ttl(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileNotify {
    retry_base_seconds: Option<u64>,
    retry_max_seconds: Option<u64>,
    max_attempts: Option<u32>,
    timeout_seconds: Option<u64>,
    danger_allow_private_targets: Option<bool>,
    email: Option<notify::FileEmail>,
    #[serde(default)]
    chat: Vec<notify::FileChat>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOrg {
    name: String,
    issuer: Option<String>,
    jwks_file: Option<PathBuf>,
    jwks_url: Option<String>,
    oidc: Option<auth::FileOidc>,
    notify: Option<notify::FileOrgNotify>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKeys {
    provider: String,
    aws_kms: Option<FileKms>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKms {
    region: String,
    endpoint_url: Option<String>,
    password_key_id: String,
    mfa_key_id: String,
}

/// Reads `ROOTVAULT_*` overrides; a seam so tests can supply their own.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A secret from the environment variable `env_name`, else from `file`
/// (relative to the configuration's directory), trimmed; `None` when
/// neither is set. An empty secret is refused under `field`.
fn secret_from(
    env: &dyn Env,
    env_name: &str,
    file: Option<PathBuf>,
    base_dir: &Path,
    field: &str,
) -> Result<Option<String>, ConfigError> {
    let secret = match (env.var(env_name), file) {
        (Some(secret), _) => secret,
        (None, Some(path)) => {
            let path = if path.is_relative() { base_dir.join(path) } else { path };
            std::fs::read_to_string(&path).map_err(|e| ConfigError::new(field, format!("cannot read it: {e}")))?
        }
        (None, None) => return Ok(None),
    };
    let secret = secret.trim().to_owned();
    if secret.is_empty() {
        return Err(ConfigError::new(field, "the secret is empty"));
    }
    Ok(Some(secret))
}

/// The dev witness file: `<data-dir>-witness/checkpoints`, beside (not
/// inside) the data directory.
pub fn dev_witness_file(data_dir: &Path) -> PathBuf {
    let mut dir = data_dir.as_os_str().to_owned();
    dir.push("-witness");
    PathBuf::from(dir).join("checkpoints")
}

/// Validate `[audit.witness]`. The file must lie outside the data
/// directory: a copy that goes wherever the database goes witnesses nothing.
fn parse_witness(
    file: Option<FileWitness>,
    base_dir: &Path,
    data_dir: &Path,
    env: &dyn Env,
) -> Result<WitnessConfig, ConfigError> {
    let Some(w) = file else { return Ok(WitnessConfig::default()) };
    let on_unavailable = match w.on_witness_unavailable.as_deref() {
        None | Some("refuse") => OnUnavailable::Refuse,
        Some("warn") => OnUnavailable::Warn,
        Some(other) => {
            return Err(ConfigError::new(
                "audit.witness.on_witness_unavailable",
                format!("{other:?} is not refuse or warn"),
            ));
        }
    };
    let file = w.file.map(|f| if f.is_relative() { base_dir.join(f) } else { f });
    if let Some(f) = &file
        && f.starts_with(data_dir)
    {
        return Err(ConfigError::new("audit.witness.file", "must lie outside data_dir"));
    }
    let s3 = match w.s3 {
        None => None,
        Some(s3) => {
            if s3.bucket.trim().is_empty() {
                return Err(ConfigError::new("audit.witness.s3.bucket", "must not be empty"));
            }
            if s3.region.trim().is_empty() {
                return Err(ConfigError::new("audit.witness.s3.region", "must not be empty"));
            }
            if s3.retention_days == 0 {
                return Err(ConfigError::new("audit.witness.s3.retention_days", "must be at least 1"));
            }
            Some(S3WitnessSettings {
                bucket: s3.bucket,
                prefix: s3.prefix.unwrap_or_else(|| "rootvault/checkpoints".into()),
                retention_days: s3.retention_days,
                region: s3.region,
                endpoint_url: env.var("ROOTVAULT_WITNESS_S3_ENDPOINT_URL").or(s3.endpoint_url),
            })
        }
    };
    Ok(WitnessConfig { file, s3, on_unavailable })
}

fn parse_listen(key: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| ConfigError::new(key, format!("{value:?} is not an address like 127.0.0.1:8750")))
}

fn parse_org(key: &str, value: &str) -> Result<OrgName, ConfigError> {
    value.parse().map_err(|e: crate::domain::ids::IdError| ConfigError::new(key, e.to_string()))
}

impl Config {
    /// Load and validate a TOML file, then apply environment overrides.
    pub fn load(path: &Path, env: &dyn Env) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new("(file)", format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text, path.parent().unwrap_or(Path::new(".")), env)
    }

    /// Validate TOML text; relative paths are taken from `base_dir`.
    pub fn parse(text: &str, base_dir: &Path, env: &dyn Env) -> Result<Self, ConfigError> {
        let mut file: FileConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().to_owned();
            let key = message
                .split('`')
                .nth(1)
                .filter(|_| message.starts_with("unknown field"))
                .unwrap_or("(syntax)")
                .to_owned();
            ConfigError { key, message }
        })?;
        let listen_raw = env.var("ROOTVAULT_LISTEN").or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = parse_listen("listen", &listen_raw)?;
        let data_dir = env
            .var("ROOTVAULT_DATA_DIR")
            .map(PathBuf::from)
            .or(file.data_dir)
            .ok_or_else(|| ConfigError::new("data_dir", "is required"))?;
        let data_dir = if data_dir.is_relative() { base_dir.join(data_dir) } else { data_dir };
        let audience = env.var("ROOTVAULT_AUDIENCE").or(file.audience).unwrap_or_else(|| DEFAULT_AUDIENCE.to_owned());
        if audience.trim().is_empty() {
            return Err(ConfigError::new("audience", "must not be empty"));
        }
        let provider_raw = file.provider_org.ok_or_else(|| ConfigError::new("provider_org", "is required"))?;
        let provider_org = parse_org("provider_org", &provider_raw)?;

        let allow_private = file.notify.danger_allow_private_targets.unwrap_or(false);
        let chat = notify::parse_chat(std::mem::take(&mut file.notify.chat), allow_private, base_dir, env)?;
        let email = file.notify.email.take().map(|e| notify::parse_email(e, base_dir, env)).transpose()?;
        let people = PeopleChannels { email, chat };

        let mut orgs = Vec::new();
        for (i, org) in file.orgs.into_iter().enumerate() {
            let key = |field: &str| format!("orgs[{i}].{field}");
            let name = parse_org(&key("name"), &org.name)?;
            if orgs.iter().any(|o: &OrgConfig| o.name == name) {
                return Err(ConfigError::new(&key("name"), format!("org {name} is listed twice")));
            }
            let bearer = match (org.issuer, org.jwks_file, org.jwks_url) {
                (None, None, None) => None,
                (None, _, _) => return Err(ConfigError::new(&key("issuer"), "is required with jwks_file or jwks_url")),
                (Some(issuer), file, url) => {
                    if issuer.trim().is_empty() {
                        return Err(ConfigError::new(&key("issuer"), "must not be empty"));
                    }
                    let taken = |o: &OrgConfig| o.bearer.as_ref().is_some_and(|b| b.issuer == issuer);
                    if orgs.iter().any(taken) {
                        return Err(ConfigError::new(&key("issuer"), "each issuer vouches for exactly one org"));
                    }
                    let jwks = match (file, url) {
                        (Some(file), None) => {
                            JwksSource::File(if file.is_relative() { base_dir.join(file) } else { file })
                        }
                        (None, Some(url)) if auth::is_acceptable_url(&url) => JwksSource::Url(url),
                        (None, Some(_)) => {
                            return Err(ConfigError::new(
                                &key("jwks_url"),
                                "must be an https:// URL (or http:// on a loopback address)",
                            ));
                        }
                        _ => {
                            return Err(ConfigError::new(
                                &key("jwks_file"),
                                "set exactly one of jwks_file or jwks_url",
                            ));
                        }
                    };
                    Some(BearerIssuer { issuer, jwks })
                }
            };
            let oidc = match org.oidc {
                None => None,
                Some(file) => Some(auth::parse_oidc(&key("oidc"), &name, file, base_dir, env)?),
            };
            if let Some(OidcSettings { issuer: OidcIssuer::Url(url), .. }) = &oidc {
                let taken = |o: &OrgConfig| o.oidc.as_ref().is_some_and(|c| c.issuer == OidcIssuer::Url(url.clone()));
                if orgs.iter().any(taken) {
                    return Err(ConfigError::new(&key("oidc.issuer"), "each provider vouches for exactly one org"));
                }
            }
            if bearer.is_none() && oidc.is_none() {
                return Err(ConfigError::new(
                    &key("issuer"),
                    "an org needs a bearer issuer, an [orgs.oidc] provider, or both",
                ));
            }
            let notify = notify::parse_routing(&key("notify"), org.notify, &people.chat)?;
            orgs.push(OrgConfig { name, bearer, oidc, notify });
        }
        let Some(position) = orgs.iter().position(|o| o.name == provider_org) else {
            return Err(ConfigError::new("provider_org", format!("org {provider_org} is not listed under [[orgs]]")));
        };
        orgs.swap(0, position);

        let keys = file.keys.ok_or_else(|| ConfigError::new("keys.provider", "is required (local or aws-kms)"))?;
        let keys = match (keys.provider.as_str(), keys.aws_kms) {
            ("local", None) => KeysConfig::Local,
            ("local", Some(_)) => {
                return Err(ConfigError::new("keys.aws_kms", "is only used with keys.provider = \"aws-kms\""));
            }
            ("aws-kms", Some(kms)) => {
                let endpoint_url = env.var("ROOTVAULT_KMS_ENDPOINT_URL").or(kms.endpoint_url);
                for (field, value) in [
                    ("region", &kms.region),
                    ("password_key_id", &kms.password_key_id),
                    ("mfa_key_id", &kms.mfa_key_id),
                ] {
                    if value.trim().is_empty() {
                        return Err(ConfigError::new(&format!("keys.aws_kms.{field}"), "must not be empty"));
                    }
                }
                if kms.password_key_id == kms.mfa_key_id {
                    return Err(ConfigError::new(
                        "keys.aws_kms.mfa_key_id",
                        "must differ from password_key_id: each half needs its own key",
                    ));
                }
                KeysConfig::AwsKms(KmsSettings {
                    region: kms.region,
                    endpoint_url,
                    password_key_id: kms.password_key_id,
                    mfa_key_id: kms.mfa_key_id,
                })
            }
            ("aws-kms", None) => return Err(ConfigError::new("keys.aws_kms", "is required with provider aws-kms")),
            (other, _) => {
                return Err(ConfigError::new("keys.provider", format!("{other:?} is not local or aws-kms")));
            }
        };
        let bg = file.break_glass;
        let break_glass =
            Policy::new(bg.approvals_required, bg.password_views, bg.pending_ttl_minutes).map_err(|e| {
                let key = match e {
                    PolicyError::Threshold(_) => "break_glass.approvals_required",
                    PolicyError::Views(_) => "break_glass.password_views",
                    PolicyError::PendingTtl => "break_glass.pending_ttl_minutes",
                };
                ConfigError::new(key, e.to_string())
            })?;
        let defaults = NotifySettings::default();
        let seconds = |key: &str, value: Option<u64>, default: Duration| match value {
            Some(0) => Err(ConfigError::new(key, "must be at least 1")),
            Some(n) => Ok(Duration::from_secs(n)),
            None => Ok(default),
        };
        let notify = NotifySettings {
            retry_base: seconds("notify.retry_base_seconds", file.notify.retry_base_seconds, defaults.retry_base)?,
            retry_max: seconds("notify.retry_max_seconds", file.notify.retry_max_seconds, defaults.retry_max)?,
            timeout: seconds("notify.timeout_seconds", file.notify.timeout_seconds, defaults.timeout)?,
            max_attempts: match file.notify.max_attempts {
                Some(0) => return Err(ConfigError::new("notify.max_attempts", "must be at least 1")),
                Some(n) => n,
                None => defaults.max_attempts,
            },
            poll_interval: defaults.poll_interval,
            allow_private_targets: allow_private,
        };
        let server_defaults = ServerSettings::default();
        let server = ServerSettings {
            header_read_timeout: seconds(
                "server.header_read_timeout_seconds",
                file.server.header_read_timeout_seconds,
                server_defaults.header_read_timeout,
            )?,
            body_read_timeout: seconds(
                "server.body_read_timeout_seconds",
                file.server.body_read_timeout_seconds,
                server_defaults.body_read_timeout,
            )?,
        };
        let storage = storage::parse_storage(file.storage, &keys, base_dir, env)?;
        let witness = parse_witness(file.audit.and_then(|a| a.witness), base_dir, &data_dir, env)?;
        let auth = auth::parse_auth(file.auth)?;
        let watch = watch::parse_watch(file.watch, env)?;
        let move_windows = lifecycle::parse_lifecycle(file.lifecycle)?;
        let ha = ha::parse_ha(file.ha, base_dir, env)?;
        let metrics = metrics::parse_metrics(file.metrics, listen, env)?;
        let public_url = env.var("ROOTVAULT_PUBLIC_URL").or(file.public_url);
        if let Some(url) = &public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError::new("public_url", "must be an http(s):// URL"));
        }
        Ok(Self {
            listen,
            data_dir,
            audience,
            provider_org,
            orgs,
            keys,
            break_glass,
            notify,
            people,
            storage,
            public_url,
            server,
            witness,
            auth,
            watch,
            move_windows,
            ha,
            metrics,
            dev: false,
        })
    }

    /// The embedded default: provider `acme`, customers `globex` and
    /// `initech`, each with a dev issuer, local keys, auto-unsealed.
    pub fn dev(data_dir: PathBuf, listen: SocketAddr) -> Self {
        let org = |name: &str| {
            let name: OrgName = name.parse().unwrap_or_else(|_| unreachable!("dev org names are valid"));
            let bearer = BearerIssuer { issuer: crate::auth::dev::DevIssuer::issuer_for(&name), jwks: JwksSource::Dev };
            // The OpenID provider is the dev one, wired once it exists
            // (`crate::dev::open_configured`): its client secret lives
            // only in that process.
            OrgConfig { name, bearer: Some(bearer), oidc: None, notify: OrgRouting::default() }
        };
        let witness_file = dev_witness_file(&data_dir);
        Self {
            listen,
            data_dir,
            audience: DEFAULT_AUDIENCE.to_owned(),
            provider_org: org("acme").name,
            orgs: vec![org("acme"), org("globex"), org("initech")],
            keys: KeysConfig::Local,
            break_glass: Policy::default(),
            // Dev receivers run on this machine, over plain http.
            notify: NotifySettings { allow_private_targets: true, ..NotifySettings::default() },
            people: PeopleChannels::default(),
            storage: StorageConfig::Sqlite,
            public_url: None,
            server: ServerSettings::default(),
            witness: WitnessConfig { file: Some(witness_file), s3: None, on_unavailable: OnUnavailable::Warn },
            auth: AuthSettings::dev(),
            watch: None,
            move_windows: crate::domain::moves::MoveWindows::default(),
            ha: HaSettings::single_node(),
            metrics: MetricsSettings::default(),
            dev: true,
        }
    }

    /// The customer orgs (every org but the provider).
    pub fn customer_orgs(&self) -> impl Iterator<Item = &OrgName> {
        self.orgs.iter().map(|o| &o.name).filter(|n| **n != self.provider_org)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Environment variables a test sets (also used by the submodules' tests).
    pub(super) struct FakeEnv(pub(super) HashMap<&'static str, &'static str>);
    impl Env for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }

    const GOOD: &str = r#"
        data_dir = "/var/lib/rootvault"
        provider_org = "acme"
        [[orgs]]
        name = "globex"
        issuer = "https://idp.globex.example"
        jwks_file = "globex.jwks.json"
        [[orgs]]
        name = "acme"
        issuer = "https://idp.acme.example"
        jwks_url = "https://idp.acme.example/jwks.json"
        [keys]
        provider = "local"
    "#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/rootvault"), &FakeEnv(HashMap::new()))
    }

    #[test]
    fn a_complete_file_parses_with_the_provider_first() {
        let config = parse(GOOD).unwrap();
        assert_eq!(config.orgs[0].name.as_str(), "acme");
        assert_eq!(
            config.orgs[1].bearer.as_ref().unwrap().jwks,
            JwksSource::File("/etc/rootvault/globex.jwks.json".into())
        );
        assert_eq!(config.auth, AuthSettings::default());
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.audience, DEFAULT_AUDIENCE);
    }

    #[test]
    fn webhook_targets_are_public_and_slow_clients_timed_out_unless_configured_otherwise() {
        let config = parse(GOOD).unwrap();
        assert!(!config.notify.allow_private_targets);
        assert_eq!(config.server, ServerSettings::default());
        assert!(Config::dev(PathBuf::from("/tmp/x"), DEFAULT_LISTEN.parse().unwrap()).notify.allow_private_targets);
        let text = format!(
            "{GOOD}\n[notify]\ndanger_allow_private_targets = true\n[server]\nheader_read_timeout_seconds = 3\nbody_read_timeout_seconds = 4\n"
        );
        let config = parse(&text).unwrap();
        assert!(config.notify.allow_private_targets);
        assert_eq!(config.server.header_read_timeout, Duration::from_secs(3));
        assert_eq!(config.server.body_read_timeout, Duration::from_secs(4));
        let zero = format!("{GOOD}\n[server]\nheader_read_timeout_seconds = 0\n");
        assert_eq!(parse(&zero).unwrap_err().key, "server.header_read_timeout_seconds");
    }

    #[test]
    fn environment_overrides_win() {
        let env = FakeEnv([("ROOTVAULT_LISTEN", "127.0.0.1:9999"), ("ROOTVAULT_DATA_DIR", "/srv/rv")].into());
        let config = Config::parse(GOOD, Path::new("/"), &env).unwrap();
        assert_eq!(config.listen.port(), 9999);
        assert_eq!(config.data_dir, PathBuf::from("/srv/rv"));
    }

    #[test]
    fn a_jwks_url_may_be_plain_http_only_on_a_loopback_address() {
        for url in ["http://127.0.0.1:8080/jwks", "http://[::1]/jwks"] {
            let config = parse(&GOOD.replace("https://idp.acme.example/jwks.json", url)).unwrap();
            let acme = config.orgs.iter().find(|o| o.name.as_str() == "acme").unwrap();
            assert_eq!(acme.bearer.as_ref().unwrap().jwks, JwksSource::Url(url.to_owned()));
        }
    }

    #[test]
    fn each_mistake_names_its_key() {
        let cases = [
            (GOOD.replace("provider = \"local\"", "provider = \"vault\""), "keys.provider"),
            (GOOD.replace("provider_org = \"acme\"", "provider_org = \"umbrella\""), "provider_org"),
            (GOOD.replace("name = \"globex\"", "name = \"Globex!\""), "orgs[0].name"),
            (
                GOOD.replace("jwks_url = \"https://idp.acme.example/jwks.json\"", "jwks_url = \"ftp://x\""),
                "orgs[1].jwks_url",
            ),
            (
                GOOD.replace("https://idp.acme.example/jwks.json", "http://127.0.0.1.evil.example/jwks.json"),
                "orgs[1].jwks_url",
            ),
            (GOOD.replace("https://idp.acme.example/jwks.json", "http://127.0.0.1@evil.example/"), "orgs[1].jwks_url"),
            (GOOD.replace("data_dir", "datadir"), "datadir"),
            (GOOD.replace("provider = \"local\"", "provider = \"aws-kms\""), "keys.aws_kms"),
            (format!("listen = \"nowhere\"\n{GOOD}"), "listen"),
            (format!("{GOOD}\n[break_glass]\napprovals_required = 1\n"), "break_glass.approvals_required"),
            (format!("{GOOD}\n[break_glass]\npassword_views = 4\n"), "break_glass.password_views"),
            (format!("{GOOD}\n[notify]\nmax_attempts = 0\n"), "notify.max_attempts"),
            (
                format!(
                    "{GOOD}\n[storage]\nbackend = \"secrets-manager\"\n[storage.secrets_manager]\nregion = \"eu-west-1\"\n"
                ),
                "storage.backend",
            ),
            (format!("{GOOD}\n[storage]\nbackend = \"s3\"\n"), "storage.backend"),
        ];
        for (text, key) in cases {
            let err = parse(&text).unwrap_err();
            assert_eq!(err.key, key, "{err}");
        }
    }

    #[test]
    fn checkpoint_witnesses_default_to_refuse_and_must_lie_outside_the_data_directory() {
        let none = parse(GOOD).unwrap();
        assert_eq!(none.witness, WitnessConfig::default());
        assert_eq!(none.witness.on_unavailable, OnUnavailable::Refuse);

        let text = format!(
            "{GOOD}\n[audit.witness]\nfile = \"/var/lib/rootvault-witness/checkpoints\"\n[audit.witness.s3]\nbucket = \"w\"\nretention_days = 30\nregion = \"eu-west-1\"\n"
        );
        let both = parse(&text).unwrap().witness;
        assert_eq!(both.file, Some(PathBuf::from("/var/lib/rootvault-witness/checkpoints")));
        let s3 = both.s3.unwrap();
        assert_eq!((s3.bucket.as_str(), s3.prefix.as_str(), s3.retention_days), ("w", "rootvault/checkpoints", 30));

        let mistakes = [
            ("file = \"/var/lib/rootvault/witness\"", "audit.witness.file"),
            ("on_witness_unavailable = \"ignore\"", "audit.witness.on_witness_unavailable"),
            (
                "[audit.witness.s3]\nbucket = \"w\"\nretention_days = 0\nregion = \"r\"",
                "audit.witness.s3.retention_days",
            ),
        ];
        for (section, key) in mistakes {
            let err = parse(&format!("{GOOD}\n[audit.witness]\n{section}\n")).unwrap_err();
            assert_eq!(err.key, key, "{err}");
        }
    }

    #[test]
    fn the_dev_witness_sits_beside_the_data_directory() {
        let dev = Config::dev(PathBuf::from(".rootvault-dev"), DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(dev.witness.file, Some(PathBuf::from(".rootvault-dev-witness/checkpoints")));
        assert_eq!(dev.witness.on_unavailable, OnUnavailable::Warn);
    }

    #[test]
    fn the_two_kms_keys_must_differ() {
        let text = GOOD.replace(
            "provider = \"local\"",
            "provider = \"aws-kms\"\n[keys.aws_kms]\nregion = \"eu-west-1\"\npassword_key_id = \"k\"\nmfa_key_id = \"k\"",
        );
        assert_eq!(parse(&text).unwrap_err().key, "keys.aws_kms.mfa_key_id");
    }

    const OIDC: &str = r#"
        [orgs.oidc]
        issuer = "https://login.globex.example/"
        client_id = "rootvault"
        client_secret_file = "globex-secret"
        scopes = "openid email groups"
        roles_claim = "groups"
        role_map = { "rootvault-admins" = "admin", "oncall" = "staff" }
    "#;

    /// GOOD with globex's provider (globex is the first org listed).
    fn with_oidc(extra: &str) -> String {
        GOOD.replacen("jwks_file = \"globex.jwks.json\"", &format!("jwks_file = \"globex.jwks.json\"\n{extra}"), 1)
    }

    #[test]
    fn an_org_provider_takes_its_secret_from_the_environment_before_the_file() {
        let env = FakeEnv([("ROOTVAULT_OIDC_CLIENT_SECRET_GLOBEX", " s3cret\n")].into());
        let config = Config::parse(&with_oidc(OIDC), Path::new("/nonexistent"), &env).unwrap();
        let oidc = config.orgs[1].oidc.as_ref().unwrap();
        assert_eq!(oidc.issuer, OidcIssuer::Url("https://login.globex.example".into()));
        assert_eq!(oidc.client_secret.expose(), "s3cret");
        assert_eq!(oidc.scopes, ["openid", "email", "groups"]);
        assert_eq!(oidc.roles_of(&["oncall".into(), "admin".into()]), [crate::domain::ids::Role::Staff]);
        assert_eq!((oidc.subject_claim.as_str(), oidc.display_claim.as_str()), ("sub", "email"));
        assert!(!format!("{config:?}").contains("s3cret"), "the secret never reaches Debug output");

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("globex-secret"), "from-file\n").unwrap();
        let config = Config::parse(&with_oidc(OIDC), dir.path(), &FakeEnv(HashMap::new())).unwrap();
        assert_eq!(config.orgs[1].oidc.as_ref().unwrap().client_secret.expose(), "from-file");
    }

    #[test]
    fn provider_mistakes_name_their_key() {
        let env = FakeEnv([("ROOTVAULT_OIDC_CLIENT_SECRET_GLOBEX", "s")].into());
        let cases = [
            (OIDC.replace("https://login.globex.example/", "http://login.globex.example"), "orgs[0].oidc.issuer"),
            (OIDC.replace("openid email groups", "email"), "orgs[0].oidc.scopes"),
            (OIDC.replace("\"oncall\" = \"staff\"", "\"oncall\" = \"root\""), "orgs[0].oidc.role_map"),
            (OIDC.replace("roles_claim = \"groups\"", "roles_claim = \"\""), "orgs[0].oidc.roles_claim"),
            (format!("{OIDC}\nprompt = \"login\""), "prompt"),
        ];
        for (section, key) in cases {
            let err = Config::parse(&with_oidc(&section), Path::new("/"), &env).unwrap_err();
            assert_eq!(err.key, key, "{err}");
        }
        let missing = Config::parse(&with_oidc(OIDC), Path::new("/nonexistent"), &FakeEnv(HashMap::new()));
        assert_eq!(missing.unwrap_err().key, "orgs[0].oidc.client_secret_file");
    }

    #[test]
    fn an_org_may_sign_in_people_only_but_needs_one_way_in() {
        let env = FakeEnv([("ROOTVAULT_OIDC_CLIENT_SECRET_GLOBEX", "s")].into());
        let people_only = with_oidc(OIDC)
            .replace("issuer = \"https://idp.globex.example\"\n", "")
            .replace("jwks_file = \"globex.jwks.json\"\n", "");
        let config = Config::parse(&people_only, Path::new("/"), &env).unwrap();
        assert!(config.orgs[1].bearer.is_none() && config.orgs[1].oidc.is_some());
        let neither = GOOD
            .replace("issuer = \"https://idp.globex.example\"\n", "")
            .replace("jwks_file = \"globex.jwks.json\"\n", "");
        assert_eq!(parse(&neither).unwrap_err().key, "orgs[0].issuer");
    }

    #[test]
    fn session_and_step_up_limits_are_durations() {
        let text = format!(
            "{GOOD}\n[auth]\nrelease_max_auth_age = \"5m\"\nsession_idle_timeout = \"900s\"\nsession_absolute_timeout = \"8h\"\n"
        );
        let auth = parse(&text).unwrap().auth;
        assert_eq!(auth.release_max_auth_age, Duration::from_secs(300));
        assert_eq!(auth.session_idle_timeout, Duration::from_secs(900));
        assert_eq!(auth.session_absolute_timeout, Duration::from_secs(8 * 3600));
        let bad = format!("{GOOD}\n[auth]\nsession_idle_timeout = \"13h\"\n");
        assert_eq!(parse(&bad).unwrap_err().key, "auth.session_idle_timeout");
        let dev = Config::dev(PathBuf::from("/tmp/x"), DEFAULT_LISTEN.parse().unwrap());
        assert_eq!(
            dev.auth.release_max_auth_age,
            Duration::from_secs(12 * 3600),
            "dev keeps the walkthrough working all day"
        );
    }
}
