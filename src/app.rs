//! Assembling a running service from a configuration.

use std::sync::Arc;

use crate::auth::dev::DevIssuer;
use crate::auth::issuer_keys::IssuerKeys;
use crate::auth::jwt::Authenticator;
use crate::auth::key_source::KeySource;
use crate::config::{Config, JwksSource, KeysConfig, StorageConfig};
use crate::crypto::KeyProvider;
use crate::crypto::kms::KmsKeyProvider;
use crate::crypto::local::LocalKeyProvider;
use crate::domain::orgs::OrgDirectory;
use crate::ha::fence::FenceState;
use crate::ha::gate::{Promotion, Workers};
use crate::ha::lease::{self, LeaseOptions};
use crate::ha::{Backend, Ha, InstanceId, LeaseTimings};
use crate::notify::worker::Deliverer;
use crate::store::keyring::{self, KeyringRecord};
use crate::store::{Store, StoreError};
use crate::vault::{PeopleRouting, Vault, now_rfc3339};

/// Why the service could not start. Each is one sentence for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("the data directory {0} is not initialised; run `rootvault init` first")]
    NotInitialised(String),
    #[error(
        "the data directory was initialised for the {stored} key provider, but the configuration says {configured}"
    )]
    ProviderMismatch { stored: String, configured: &'static str },
    #[error("the issuer keys of org {org} are unusable: {message}")]
    Issuer { org: String, message: String },
    #[error("cannot prepare sign-in through identity providers: {0}")]
    Signin(String),
    #[error("cannot open the audit log: {0}")]
    AuditLog(String),
    #[error("cannot prepare notifications: {0}")]
    Notify(String),
    #[error("cannot join the cluster: {0}")]
    Ha(#[from] crate::ha::HaError),
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The shared state of a running service, cheap to clone: every request
/// takes a few clones of it (the router's state, each middleware's), so it
/// is one reference-counted pointer, not the many of its parts.
#[derive(Debug, Clone)]
pub struct App(Arc<AppParts>);

impl std::ops::Deref for App {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

impl From<AppParts> for App {
    fn from(parts: AppParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl App {
    /// The parts, to change before the service starts (a copy of them if
    /// this handle is shared already).
    pub fn parts_mut(&mut self) -> &mut AppParts {
        Arc::make_mut(&mut self.0)
    }
}

/// What [`App`] holds.
#[derive(Debug, Clone)]
pub struct AppParts {
    pub vault: Vault,
    pub auth: Arc<Authenticator>,
    /// Rate limits of the public link endpoints and of anonymous callers.
    pub limiter: Arc<crate::http::ratelimit::Limiter>,
    /// Failed authentications per address: budget and audit aggregation.
    pub auth_failures: Arc<crate::http::failures::AuthFailures>,
    /// Read timeouts for slow clients.
    pub server: crate::http::ServerSettings,
    /// Set on SIGTERM: readiness answers 503 while requests drain.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    /// The dev identity provider at `/dev/idp/{org}`: `rootvault dev` only.
    pub dev_idp: Option<Arc<crate::auth::dev_idp::DevIdp>>,
    /// This node's role in its cluster (DESIGN §17); always active on SQLite.
    pub ha: Ha,
    /// Where `GET /metrics` is served (`[metrics]`).
    pub metrics_access: crate::config::MetricsSettings,
}

/// Load the trusted issuers named by the configuration.
async fn issuers(config: &Config) -> Result<Vec<IssuerKeys>, StartError> {
    let mut out = Vec::new();
    for org in &config.orgs {
        let Some(bearer) = &org.bearer else { continue };
        let fail = |message: String| StartError::Issuer { org: org.name.to_string(), message };
        let source = match &bearer.jwks {
            JwksSource::Dev => None,
            JwksSource::File(path) => Some(KeySource::File(path.clone())),
            JwksSource::Url(url) => Some(KeySource::url(url.clone()).map_err(|e| fail(e.to_string()))?),
        };
        let keys = match source {
            None => DevIssuer::load_or_create(&config.data_dir, &org.name)
                .and_then(|d| d.trusted())
                .map(IssuerKeys::fixed)
                .map_err(|e| e.to_string()),
            Some(source) => {
                IssuerKeys::load(org.name.clone(), bearer.issuer.clone(), source).await.map_err(|e| e.to_string())
            }
        };
        out.push(keys.map_err(fail)?);
    }
    Ok(out)
}

/// Open the store the configuration names: the one place that chooses a
/// storage backend. With a `fence`, every write on PostgreSQL first proves
/// that this node leads its cluster; the command-line tasks pass none.
pub fn open_store(config: &Config, fence: Option<Arc<FenceState>>) -> Result<Store, StartError> {
    match &config.storage {
        StorageConfig::Sqlite | StorageConfig::SecretsManager(_) => {
            std::fs::create_dir_all(&config.data_dir)?;
            Ok(Store::open(&config.data_dir)?)
        }
        // Only once the schema is current: `serve` never migrates
        // PostgreSQL (docs/postgres.md).
        StorageConfig::Postgres(settings) => Ok(Store::open_postgres(settings, fence)?),
    }
}

/// The fence of a node of a PostgreSQL cluster, once the configuration is
/// one a cluster can run (`[ha]`, KMS keys); `None` for a single node
/// (SQLite, or PostgreSQL with `[ha] danger_single_node`).
fn cluster_fence(config: &Config) -> Result<Option<Arc<FenceState>>, StartError> {
    match &config.storage {
        StorageConfig::Postgres(_) if !config.ha.danger_single_node => {
            config.ha.check_clustered(&config.keys)?;
            Ok(Some(Arc::new(FenceState::new(InstanceId::random()))))
        }
        StorageConfig::Postgres(_) => {
            tracing::warn!(
                "[ha] danger_single_node: this node runs on PostgreSQL without the lease; start no other node on its database"
            );
            Ok(None)
        }
        StorageConfig::Sqlite | StorageConfig::SecretsManager(_) => Ok(None),
    }
}

/// This node's handle on its cluster: the lease loop of a PostgreSQL
/// cluster node, or a single node that is always active.
fn join_cluster(config: &Config, vault: &Vault, fence: Option<Arc<FenceState>>) -> Result<Ha, StartError> {
    let (StorageConfig::Postgres(settings), Some(fence)) = (&config.storage, fence) else {
        let backend = match config.storage {
            StorageConfig::Postgres(_) => Backend::Postgres,
            StorageConfig::Sqlite | StorageConfig::SecretsManager(_) => Backend::Sqlite,
        };
        return Ok(Ha::single(&config.ha, backend)?);
    };
    let url = settings.url.clone();
    let connect: lease::Connect = Arc::new(move || {
        let url = url.clone();
        Box::pin(async move { crate::store::postgres::connect_async(&url).await.map_err(|e| e.to_string()) })
    });
    let options = LeaseOptions { connect, may_lead: crate::ha::may_lead(vault), timings: LeaseTimings::default() };
    Ok(Ha::clustered(&config.ha, fence, options, promotion(vault))?)
}

/// What a node does as it becomes active, before it may write: take the
/// audit log as the database has it (other nodes grew it) and check it
/// again. It writes nothing: the fence is not armed yet.
fn promotion(vault: &Vault) -> Promotion {
    let vault = vault.clone();
    Arc::new(move |_term| {
        let vault = vault.clone();
        Box::pin(async move {
            vault.store().reload_log().await.map_err(|e| e.to_string())?;
            vault.load_audit_log().await.map_err(|e| e.code().to_owned())
        })
    })
}

/// Open the store, the key provider and the issuers. A `local` provider
/// starts sealed; `aws-kms` is ready at once (recorded on first start).
pub async fn build(config: &Config) -> Result<App, StartError> {
    let fence = cluster_fence(config)?;
    let store = open_store(config, fence.clone())?;
    let record = store.blocking(keyring::load)?;
    let keys: Arc<dyn KeyProvider> = match (&config.keys, record) {
        (KeysConfig::Local, Some(KeyringRecord { provider, sealed: Some(ring) })) if provider == "local" => {
            Arc::new(LocalKeyProvider::sealed(ring))
        }
        (KeysConfig::Local, None) => {
            return Err(StartError::NotInitialised(config.data_dir.display().to_string()));
        }
        (KeysConfig::AwsKms(settings), record) => {
            match record {
                Some(r) if r.provider != "aws-kms" => {
                    return Err(StartError::ProviderMismatch { stored: r.provider, configured: "aws-kms" });
                }
                Some(_) => {}
                None => {
                    // Nodes of a cluster may start together: the first
                    // record stands, and says the same.
                    let record = KeyringRecord { provider: "aws-kms".into(), sealed: None };
                    store.blocking(|c| keyring::save_if_absent(c, &record, &now_rfc3339()))?;
                }
            }
            Arc::new(KmsKeyProvider::connect(settings.clone()).await)
        }
        (KeysConfig::Local, Some(r)) => {
            return Err(StartError::ProviderMismatch { stored: r.provider, configured: "local" });
        }
    };
    let orgs = OrgDirectory::new(config.provider_org.clone(), config.customer_orgs().cloned());
    let auth = Authenticator::new(config.audience.clone(), issuers(config).await?);
    if config.witness.file.is_none() && config.witness.s3.is_none() {
        tracing::warn!("no [audit.witness] is configured: a log cut after its last checkpoint would go unnoticed");
    }
    let rp = crate::auth::oidc::RelyingParty::new(&config.orgs).map_err(StartError::Signin)?;
    let mut vault = Vault::new(store, keys, orgs, config.break_glass)
        .with_signin(rp, config.auth, config.audience.clone())
        .with_private_webhook_targets(config.notify.allow_private_targets)
        .with_people_routing(PeopleRouting {
            orgs: crate::config::routing_of(&config.orgs),
            email: config.people.email.is_some(),
        })
        .with_witnesses(crate::vault::Witnesses::connect(&config.witness).await)
        .with_watch_rules(config.watch.as_ref().map(crate::watch::WatchSettings::rules).unwrap_or_default())
        .with_move_windows(config.move_windows.clone());
    if let StorageConfig::SecretsManager(settings) = &config.storage {
        vault = vault
            .with_secrets_manager(crate::store::secrets_manager::SecretsManagerHalves::connect(settings.clone()).await);
    }
    // A node of a cluster only loads and checks the log here: it writes
    // (a checkpoint, a tamper record) once it leads (`take_charge_of_log`).
    if !vault.keys().seal_status().sealed {
        let opened = if fence.is_some() { vault.load_audit_log().await } else { vault.open_audit_log().await };
        opened.map_err(|e| StartError::AuditLog(e.to_string()))?;
    }
    // Refuse to start on a relay that can never work (an unreadable CA file).
    Deliverer::new(config.notify, &config.people).map_err(StartError::Notify)?;
    let ha = join_cluster(config, &vault, fence)?;
    Ok(App::from(AppParts {
        vault,
        auth: Arc::new(auth),
        limiter: Arc::default(),
        auth_failures: Arc::default(),
        server: config.server,
        draining: Arc::default(),
        dev_idp: None,
        ha,
        metrics_access: config.metrics,
    }))
}

/// How often requests past a deadline are moved to `expired`.
const EXPIRY_SWEEP: std::time::Duration = std::time::Duration::from_secs(5);
/// How often closed windows of authentication failures are summarised.
const FAILURE_SWEEP: std::time::Duration = std::time::Duration::from_secs(10);
/// How often accounts closed for more than 90 days are closed for good
/// (the first sweep runs at start).
const CLOSURE_SWEEP: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// How often a checkpoint is signed when the log grew.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The service's background work; stops when dropped.
#[derive(Debug)]
pub struct Background(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl App {
    /// Start the refresher of issuers' keys, which every node needs, and
    /// the work that writes, which runs only while this node is the active
    /// one (`crate::ha::gate`; always on SQLite): the webhook delivery
    /// worker, the request-expiry sweeper, the daily sweep of closed
    /// accounts, the checkpointer, the authentication-failure summariser
    /// and, when `[watch]` names a queue, the root sign-in watch.
    pub fn start_background(&self, config: &Config) -> Result<Background, StartError> {
        let deliverer = Deliverer::new(config.notify, &config.people).map_err(StartError::Notify)?;
        let auth = Arc::clone(&self.auth);
        let key_refresher = tokio::spawn(async move {
            // Every refresh moves its issuer's due time on (an hour after a
            // success, a minute after a failure), so this never spins.
            while let Some(due) = auth.next_refresh() {
                tokio::time::sleep_until(due.into()).await;
                auth.refresh_due(std::time::Instant::now()).await;
            }
        });
        let (app, watch) = (self.clone(), config.watch.clone());
        let writers = crate::ha::gate::supervise(self.ha.roles(), self.ha.fence(), self.ha.promotion(), move || {
            app.spawn_writers(&deliverer, watch.as_ref())
        });
        Ok(Background(vec![key_refresher, writers]))
    }

    /// The background work that writes (see `start_background`).
    fn spawn_writers(&self, deliverer: &Deliverer, watch: Option<&crate::watch::WatchSettings>) -> Workers {
        let worker = tokio::spawn(crate::notify::worker::run(self.vault.clone(), deliverer.clone()));
        let vault = self.vault.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(EXPIRY_SWEEP);
            loop {
                tick.tick().await;
                if vault.keys().seal_status().sealed || vault.store().log().keys().is_none() {
                    continue;
                }
                if let Err(e) = vault.expire_due().await {
                    tracing::error!(code = e.code(), "expiring requests failed");
                }
            }
        });
        let vault = self.vault.clone();
        let closure_sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(CLOSURE_SWEEP);
            loop {
                tick.tick().await;
                match vault.close_permanently_due().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(accounts = n, "closed accounts past their 90 days were closed for good"),
                    Err(e) => tracing::error!(code = e.code(), "closing accounts for good failed"),
                }
            }
        });
        let vault = self.vault.clone();
        let checkpointer = tokio::spawn(async move {
            let log = std::sync::Arc::clone(vault.store().log());
            loop {
                tokio::select! {
                    () = tokio::time::sleep(CHECKPOINT_INTERVAL) => {}
                    () = log.checkpoint_due.notified() => {}
                }
                if let Err(e) = vault.anchor().await {
                    tracing::error!(code = e.code(), "signing or anchoring a checkpoint failed");
                }
            }
        });
        let (vault, failures) = (self.vault.clone(), Arc::clone(&self.auth_failures));
        let summariser = tokio::spawn(async move {
            let mut tick = tokio::time::interval(FAILURE_SWEEP);
            loop {
                tick.tick().await;
                let owed = failures.take_closed(std::time::Instant::now(), false);
                crate::http::failures::record(&vault, owed).await;
            }
        });
        let mut tasks = vec![worker, sweeper, closure_sweeper, checkpointer, summariser];
        if self.ha.fence().is_some() {
            // A node of a cluster that has just become active does what
            // opening the log does on a single node at start.
            let vault = self.vault.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = vault.take_charge_of_log().await {
                    tracing::error!(code = e.code(), "taking charge of the audit log failed");
                }
            }));
        }
        if let Some(watch) = watch {
            tasks.push(tokio::spawn(crate::watch::consumer::run(self.vault.clone(), watch.clone())));
        }
        Workers::from(tasks)
    }
}
