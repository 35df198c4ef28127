//! High availability on PostgreSQL (DESIGN §17): which node of a cluster
//! is active, and what follows from it.
//!
//! Several `rootvault serve` nodes share one PostgreSQL database. One holds
//! the lease (`lease`): it alone runs the background workers (`gate`) and
//! writes, and each of its write transactions proves, inside itself, that
//! it still holds the lease (`fence`). The others are standbys: they
//! forward API and console requests to the active node (`forward`) and
//! answer health, readiness, the seal and `GET /v1/sys/ha-status`
//! themselves. On SQLite there is one node, always active, and nothing
//! here changes what it does.
//!
//! [`Ha`] is a node's handle on all of it, kept in [`crate::app::App`].

pub mod fence;
pub mod forward;
pub mod gate;
pub mod lease;
#[cfg(test)]
mod pg_tests;
mod proof;
pub mod role;

use std::sync::Arc;

use tokio::sync::watch;

pub use proof::HEADER as FORWARDED_HEADER;
pub use role::{ActiveNode, InstanceId, LeaseTimings, Role, Term};

use crate::config::HaSettings;
use fence::FenceState;
use forward::Forwarder;
use gate::Promotion;
use lease::{Candidate, LeaseHandle, LeaseOptions};

/// What the nodes share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One node and its SQLite file: no cluster.
    Sqlite,
    /// A cluster of nodes sharing one PostgreSQL database.
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A node the database saw lately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenNode {
    pub instance: InstanceId,
    pub node: String,
    pub api_addr: Option<String>,
    /// Whether it holds a live lease.
    pub active: bool,
    /// Its last heartbeat, Unix milliseconds (the database's clock).
    pub last_seen_ms: i64,
}

/// Everything `GET /v1/sys/ha-status` shows, as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaStatus {
    /// Whether a lease decides this node's role (false: a single node).
    pub ha_enabled: bool,
    pub backend: Backend,
    pub node: String,
    pub instance: InstanceId,
    pub api_addr: Option<String>,
    pub role: Role,
    /// The nodes seen in the last 30 s.
    pub nodes: Vec<SeenNode>,
}

/// Why high availability could not start.
#[derive(Debug, thiserror::Error)]
pub enum HaError {
    #[error("[ha] api_addr is required in a cluster: the other nodes forward requests to it")]
    NoApiAddr,
    #[error("[ha] cluster_secret is required in a cluster: nodes prove forwarded requests with it")]
    NoClusterSecret,
    #[error("the lease timings are unsound: renewal must come well before expiry")]
    Timings,
    #[error("{0}")]
    Forwarder(String),
}

/// The lease loop's predicate for a node serving `vault`: it may lead while
/// unsealed with its log key loaded (a sealed node can do nothing a leader
/// must).
///
/// A log found altered does not stop a node from leading: the log is the
/// shared database's, so every node finds the same once it reloads, and a
/// rule that made each give the lease up would leave no active node at all,
/// while DESIGN §3 and §7 want the auditors to keep reading and exporting
/// it (the write guard already refuses everything else on such a log).
pub fn may_lead(vault: &crate::vault::Vault) -> lease::MayLead {
    let vault = vault.clone();
    Arc::new(move || !vault.keys().seal_status().sealed && vault.store().log().keys().is_some())
}

/// A node's handle on the cluster; cheap to clone.
#[derive(Debug, Clone)]
pub struct Ha {
    inner: Arc<Inner>,
}

struct Inner {
    node: String,
    instance: InstanceId,
    api_addr: Option<String>,
    backend: Backend,
    roles: watch::Receiver<Role>,
    nodes: watch::Receiver<Vec<SeenNode>>,
    fence: Option<Arc<FenceState>>,
    forwarder: Forwarder,
    promotion: Promotion,
    lease: Option<LeaseHandle>,
    /// Keeps a fixed role's channel open: a closed one stops the workers.
    fixed_role: Option<watch::Sender<Role>>,
    _no_nodes: Option<watch::Sender<Vec<SeenNode>>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ha")
            .field("node", &self.node)
            .field("instance", &self.instance)
            .field("backend", &self.backend)
            .field("role", &*self.roles.borrow())
            .finish_non_exhaustive()
    }
}

impl Ha {
    /// A single node (SQLite, or PostgreSQL with `[ha] danger_single_node`):
    /// always active, no lease, no fence. It still believes forwarded
    /// requests proven with `[ha] cluster_secret`.
    pub fn single(settings: &HaSettings, backend: Backend) -> Result<Self, HaError> {
        let (role_tx, roles) = watch::channel(Role::Active { term: None });
        Self::with_roles(settings, backend, InstanceId::random(), roles, Some(role_tx))
    }

    /// A node whose role something else decides, e.g. a test driving a
    /// standby by hand; it knows no other node.
    pub fn driven(settings: &HaSettings, backend: Backend, roles: watch::Receiver<Role>) -> Result<Self, HaError> {
        Self::with_roles(settings, backend, InstanceId::random(), roles, None)
    }

    fn with_roles(
        settings: &HaSettings,
        backend: Backend,
        instance: InstanceId,
        roles: watch::Receiver<Role>,
        fixed_role: Option<watch::Sender<Role>>,
    ) -> Result<Self, HaError> {
        let (nodes_tx, nodes) = watch::channel(Vec::new());
        Ok(Self {
            inner: Arc::new(Inner {
                node: settings.node.clone(),
                instance,
                api_addr: settings.api_addr.clone(),
                backend,
                roles,
                nodes,
                fence: None,
                forwarder: Forwarder::new(settings).map_err(HaError::Forwarder)?,
                promotion: gate::no_promotion(),
                lease: None,
                fixed_role,
                _no_nodes: Some(nodes_tx),
            }),
        })
    }

    /// A node of a PostgreSQL cluster: starts the lease loop (on the
    /// current tokio runtime). `fence` is the one the store's writer
    /// checks; its instance id is this process's. `promotion` runs each
    /// time the node becomes active, before its workers start.
    pub fn clustered(
        settings: &HaSettings,
        fence: Arc<FenceState>,
        options: LeaseOptions,
        promotion: Promotion,
    ) -> Result<Self, HaError> {
        let api_addr = settings.api_addr.clone().ok_or(HaError::NoApiAddr)?;
        if settings.cluster_secret.is_none() {
            return Err(HaError::NoClusterSecret);
        }
        if !options.timings.is_sound() {
            return Err(HaError::Timings);
        }
        let forwarder = Forwarder::new(settings).map_err(HaError::Forwarder)?;
        let me = Candidate { instance: fence.instance().clone(), node: settings.node.clone(), api_addr };
        let lease = lease::spawn(me, options, Arc::clone(&fence));
        Ok(Self {
            inner: Arc::new(Inner {
                node: settings.node.clone(),
                instance: fence.instance().clone(),
                api_addr: settings.api_addr.clone(),
                backend: Backend::Postgres,
                roles: lease.roles(),
                nodes: lease.nodes(),
                fence: Some(fence),
                forwarder,
                promotion,
                lease: Some(lease),
                fixed_role: None,
                _no_nodes: None,
            }),
        })
    }

    /// This node's role now.
    pub fn role(&self) -> Role {
        self.inner.roles.borrow().clone()
    }

    /// The role as it changes.
    pub fn roles(&self) -> watch::Receiver<Role> {
        self.inner.roles.clone()
    }

    pub fn instance(&self) -> &InstanceId {
        &self.inner.instance
    }

    /// What the store's writer fences with; `None` on a single node.
    pub fn fence(&self) -> Option<Arc<FenceState>> {
        self.inner.fence.clone()
    }

    pub fn promotion(&self) -> Promotion {
        Arc::clone(&self.inner.promotion)
    }

    pub fn forwarder(&self) -> &Forwarder {
        &self.inner.forwarder
    }

    /// The cluster as this node sees it. A single node lists itself.
    pub fn status(&self) -> HaStatus {
        let inner = &self.inner;
        let role = self.role();
        let ha_enabled = inner.fixed_role.is_none();
        let nodes = match ha_enabled {
            false => vec![SeenNode {
                instance: inner.instance.clone(),
                node: inner.node.clone(),
                api_addr: inner.api_addr.clone(),
                active: role.is_active(),
                last_seen_ms: crate::vault::now_ms(),
            }],
            true => inner.nodes.borrow().clone(),
        };
        HaStatus {
            ha_enabled,
            backend: inner.backend,
            node: inner.node.clone(),
            instance: inner.instance.clone(),
            api_addr: inner.api_addr.clone(),
            role,
            nodes,
        }
    }

    /// Give the lease up at shutdown, once requests have drained, so a
    /// standby takes over at once; nothing on a single node.
    pub async fn step_down(&self) {
        if let Some(lease) = &self.inner.lease {
            lease.step_down().await;
        }
    }
}
