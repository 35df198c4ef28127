//! The lease on PostgreSQL (DESIGN §17): one row says which process leads,
//! under which term, until when by the database's clock.
//!
//! Every second each node makes one attempt ([`attempt`]): the first of
//! these statements (each its own transaction) that returns a row says
//! this instance holds the lease, under which term:
//!
//! 1. [`RENEW`]: where this instance holds the row, move its expiry (the
//!    term stays). A plain `UPDATE` of columns no key covers, so it takes
//!    the row's `FOR NO KEY UPDATE` lock, which does not conflict with the
//!    `FOR KEY SHARE` every fenced write transaction holds (see `fence`):
//!    the holder's renewal never queues behind its own writer, however
//!    busy. (Were the fence `FOR SHARE`, each renewal would wait for the
//!    group commit in flight, and under continuous load for the next ones,
//!    possibly until the holder stopped believing it leads.)
//! 2. [`CREATE`]: the first node on a new database inserts the row (term 1).
//! 3. [`TAKE_OVER`]: where the row has expired by `clock_timestamp()`,
//!    lock it `FOR UPDATE` and give it to this instance under the next
//!    term. `FOR UPDATE` conflicts with `FOR KEY SHARE`, so a takeover
//!    waits for every transaction that passed the old holder's fence,
//!    including one that passed before a renewal of the old holder: an
//!    update that leaves the keys alone carries the row's key-share lockers
//!    over to the new row version (the guarantee foreign keys rely on). A
//!    live lease is not even locked: the expiry is checked before the lock
//!    is taken, and again on the newest version once it is granted.
//!
//! This is the pattern of Vault's PostgreSQL HA backend; advisory locks are
//! not used because they belong to a session, and PgBouncer's transaction
//! pooling hands sessions around. Each expiry is computed inside its
//! statement, after any lock is granted, so no wait shortens a lease. The
//! row is never deleted: terms only grow.
//!
//! The loop publishes the node's [`Role`] through a `watch` channel and
//! tells the fence its term. It steps down at once when an attempt fails
//! or finds another holder, and, on its own monotonic clock, when a
//! renewal has not come back before the lease could have expired (the
//! database may be unreachable, or the renewal stuck behind another
//! node's lock): it never believes it leads longer than `ttl - margin`
//! after the start of its last successful renewal. A node that may not
//! lead (see [`super::may_lead`]: a sealed one) gives the lease up and
//! does not take it.
//!
//! Each round also writes a heartbeat into `ha_nodes` and reads the nodes
//! seen in the last 30 s, for `GET /v1/sys/ha-status`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::Client;

use super::SeenNode;
use super::fence::FenceState;
use super::role::{ActiveNode, Attempt, InstanceId, LeaseTimings, Role, Tenure, Term};

/// Renew the lease this instance holds: `$1` instance, `$2` node, `$3`
/// api_addr, `$4` the lease's length in seconds. Returns the term, or no
/// row when another instance holds it (or nobody ever did). Also after an
/// expiry: nobody took the lease meanwhile, or the holder would differ.
///
/// It must leave `id` (the only key) alone: then it locks the row
/// `FOR NO KEY UPDATE` and never waits for the fence's `FOR KEY SHARE`.
pub(crate) const RENEW: &str = "\
UPDATE ha_lease SET node = $2, api_addr = $3, expires_at = clock_timestamp() + make_interval(secs => $4::float8)
WHERE id = 1 AND holder = $1
RETURNING term";

/// Create the lease on a new database, under term 1 (same parameters);
/// no row when it exists already.
const CREATE: &str = "\
INSERT INTO ha_lease (id, holder, node, api_addr, term, acquired_at, expires_at)
VALUES (1, $1, $2, $3, 1, clock_timestamp(), clock_timestamp() + make_interval(secs => $4::float8))
ON CONFLICT (id) DO NOTHING
RETURNING term";

/// Take an expired lease over under the next term (same parameters); no
/// row when it is live or already this instance's.
///
/// The `FOR UPDATE` is what fences: it waits for every transaction that
/// holds the row `FOR KEY SHARE` (the old holder's writes that passed
/// their fence) to end. If the row changed meanwhile (the old holder
/// renewed), READ COMMITTED re-checks the condition on its newest version,
/// in the CTE and again in the `UPDATE`; if it did not, a lease expired
/// before the wait is expired still.
const TAKE_OVER: &str = "\
WITH expired AS (
    SELECT id FROM ha_lease WHERE id = 1 AND holder <> $1 AND expires_at <= clock_timestamp() FOR UPDATE
)
UPDATE ha_lease AS l SET
    term = l.term + 1,
    holder = $1,
    node = $2,
    api_addr = $3,
    acquired_at = clock_timestamp(),
    expires_at = clock_timestamp() + make_interval(secs => $4::float8)
FROM expired
WHERE l.id = expired.id AND l.holder <> $1 AND l.expires_at <= clock_timestamp()
RETURNING l.term";

/// Who else holds a live lease (`$1` this instance).
const ACTIVE: &str = "SELECT holder, node, api_addr, term FROM ha_lease \
     WHERE id = 1 AND holder <> $1 AND expires_at > clock_timestamp()";

/// Give a held lease up, so another node takes over without waiting for
/// it to expire (`$1` this instance).
const RELEASE: &str = "UPDATE ha_lease SET expires_at = clock_timestamp() \
     WHERE id = 1 AND holder = $1 AND expires_at > clock_timestamp()";

const HEARTBEAT: &str = "\
INSERT INTO ha_nodes (instance, node, api_addr, started_at, last_seen)
VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp())
ON CONFLICT (instance) DO UPDATE SET last_seen = clock_timestamp()";

/// Every process run leaves a row; the active node clears old ones.
const PRUNE: &str = "DELETE FROM ha_nodes WHERE last_seen < clock_timestamp() - interval '1 day'";

const SEEN: &str = "\
SELECT n.instance, n.node, n.api_addr,
       COALESCE(l.holder = n.instance AND l.expires_at > clock_timestamp(), false) AS active,
       (extract(epoch FROM n.last_seen) * 1000)::bigint AS last_seen_ms
FROM ha_nodes n LEFT JOIN ha_lease l ON l.id = 1
WHERE n.last_seen > clock_timestamp() - interval '30 seconds'
ORDER BY n.node, n.instance";

/// Opens a connection to the shared database (with the storage URL and
/// TLS); called again whenever the previous one failed. Its error is
/// logged, so it must not contain the URL or a password.
pub type Connect = Arc<dyn Fn() -> BoxFuture<'static, Result<Client, String>> + Send + Sync>;

/// Whether this node may lead right now ([`super::may_lead`]).
pub type MayLead = Arc<dyn Fn() -> bool + Send + Sync>;

/// What the lease loop needs besides who this node is.
#[derive(Clone)]
pub struct LeaseOptions {
    pub connect: Connect,
    pub may_lead: MayLead,
    pub timings: LeaseTimings,
}

impl std::fmt::Debug for LeaseOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseOptions").field("timings", &self.timings).finish_non_exhaustive()
    }
}

/// This node as it writes itself into the lease and the node list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub instance: InstanceId,
    pub node: String,
    pub api_addr: String,
}

/// Why a round of the lease loop failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("{0}")]
    Database(#[from] tokio_postgres::Error),
}

/// Take or renew the lease once; when another node holds it, which one.
pub async fn attempt(client: &Client, me: &Candidate, ttl: Duration) -> Result<Attempt, tokio_postgres::Error> {
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&me.instance.as_str(), &me.node, &me.api_addr, &ttl.as_secs_f64()];
    for statement in [RENEW, CREATE, TAKE_OVER] {
        if let Some(row) = client.query_opt(statement, &params).await? {
            return Ok(Attempt::Held(Term::new(row.try_get(0)?)));
        }
    }
    Ok(Attempt::Elsewhere(active(client, me).await?))
}

/// The other node holding a live lease, if any.
pub async fn active(client: &Client, me: &Candidate) -> Result<Option<ActiveNode>, tokio_postgres::Error> {
    let Some(row) = client.query_opt(ACTIVE, &[&me.instance.as_str()]).await? else { return Ok(None) };
    Ok(Some(ActiveNode {
        instance: InstanceId::from_stored(row.try_get(0)?),
        node: row.try_get(1)?,
        api_addr: row.try_get(2)?,
        term: Term::new(row.try_get(3)?),
    }))
}

/// Give the lease up if this instance holds it; whether it did.
pub async fn release(client: &Client, me: &Candidate) -> Result<bool, tokio_postgres::Error> {
    Ok(client.execute(RELEASE, &[&me.instance.as_str()]).await? > 0)
}

/// Write this node's heartbeat and read the nodes seen lately.
async fn survey(client: &Client, me: &Candidate, leading: bool) -> Result<Vec<SeenNode>, tokio_postgres::Error> {
    client.execute(HEARTBEAT, &[&me.instance.as_str(), &me.node, &me.api_addr]).await?;
    if leading {
        client.execute(PRUNE, &[]).await?;
    }
    let rows = client.query(SEEN, &[]).await?;
    rows.iter()
        .map(|row| {
            Ok(SeenNode {
                instance: InstanceId::from_stored(row.try_get(0)?),
                node: row.try_get(1)?,
                api_addr: Some(row.try_get(2)?),
                active: row.try_get(3)?,
                last_seen_ms: row.try_get(4)?,
            })
        })
        .collect()
}

/// The running lease loop: its role and node list, and a way to stop it.
#[derive(Debug)]
pub struct LeaseHandle {
    roles: watch::Receiver<Role>,
    nodes: watch::Receiver<Vec<SeenNode>>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl LeaseHandle {
    pub fn roles(&self) -> watch::Receiver<Role> {
        self.roles.clone()
    }

    pub fn nodes(&self) -> watch::Receiver<Vec<SeenNode>> {
        self.nodes.clone()
    }

    /// Stop the loop and give the lease up (at shutdown, once requests
    /// have drained), so a standby takes over at once instead of after
    /// the expiry.
    pub async fn step_down(&self) {
        self.stop.send_replace(true);
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "the lease loop ended abnormally");
        }
    }
}

#[cfg(test)]
impl LeaseHandle {
    /// End the loop as a crash would: no release, the lease just expires.
    pub(crate) fn kill(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            task.abort();
        }
    }
}

/// Start the lease loop for `me`. Its first round runs at once; until it
/// answers the node is a standby that knows of no active node.
pub fn spawn(me: Candidate, options: LeaseOptions, fence: Arc<FenceState>) -> LeaseHandle {
    let (roles_tx, roles) = watch::channel(Role::Standby { active: None });
    let (nodes_tx, nodes) = watch::channel(Vec::new());
    let (stop, stop_rx) = watch::channel(false);
    let lease = LeaseLoop { me, options, fence, roles: roles_tx, nodes: nodes_tx };
    let task = tokio::spawn(lease.run(stop_rx));
    LeaseHandle { roles, nodes, stop, task: Mutex::new(Some(task)) }
}

struct LeaseLoop {
    me: Candidate,
    options: LeaseOptions,
    fence: Arc<FenceState>,
    roles: watch::Sender<Role>,
    nodes: watch::Sender<Vec<SeenNode>>,
}

/// Sleep until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl LeaseLoop {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let timings = self.options.timings;
        let mut client: Option<Client> = None;
        let mut tenure = Tenure::default();
        let mut tick = tokio::time::interval(timings.renew_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = tenure.deadline();
            tokio::select! {
                biased;
                // A stop, or the handle gone.
                _ = stop.changed() => break,
                () = sleep_until(deadline) => {
                    if let Some(role) = tenure.expire(Instant::now()) {
                        tracing::warn!(node = %self.me.node, "the lease was not renewed in time: this node steps down");
                        self.publish(role);
                    }
                    continue;
                }
                _ = tick.tick() => {}
            }
            let started = Instant::now();
            // A holder waits no longer than it may believe it leads; a
            // standby no longer than a lease lasts.
            let bound = deadline.unwrap_or(started + timings.ttl);
            let attempt = match tokio::time::timeout_at(bound.into(), self.attempt(&mut client)).await {
                Ok(Ok(attempt)) => attempt,
                Ok(Err(e)) => {
                    tracing::warn!(node = %self.me.node, error = %e, "the lease could not be taken or renewed");
                    client = None;
                    Attempt::Failed
                }
                Err(_) => {
                    tracing::warn!(node = %self.me.node, "the database did not answer the lease in time");
                    // Dropping the connection abandons the stuck statement.
                    // The server may still run it once its lock is free;
                    // the next round reads the outcome (a renewal keeps
                    // the term, so nothing is lost either way).
                    client = None;
                    Attempt::Failed
                }
            };
            let role = tenure.after(attempt, started, Instant::now(), &timings);
            self.publish(role);
            let seen = match &client {
                Some(c) => {
                    match tokio::time::timeout(timings.renew_every, survey(c, &self.me, tenure.term().is_some())).await
                    {
                        Ok(Ok(seen)) => seen,
                        Ok(Err(e)) => {
                            tracing::warn!(node = %self.me.node, error = %e, "the node list could not be read");
                            Vec::new()
                        }
                        Err(_) => Vec::new(),
                    }
                }
                None => Vec::new(),
            };
            self.nodes.send_replace(seen);
        }
        self.publish(Role::Standby { active: None });
        if let Some(c) = &client {
            match tokio::time::timeout(timings.ttl, release(c, &self.me)).await {
                Ok(Ok(true)) => tracing::info!(node = %self.me.node, "the lease was given up"),
                Ok(Ok(false)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "the lease could not be given up; it expires by itself"),
                Err(_) => tracing::warn!("giving the lease up took too long; it expires by itself"),
            }
        }
    }

    /// One attempt, connecting first when there is no live connection.
    async fn attempt(&self, client: &mut Option<Client>) -> Result<Attempt, LeaseError> {
        if client.as_ref().is_none_or(Client::is_closed) {
            *client = Some((self.options.connect)().await.map_err(LeaseError::Connect)?);
        }
        let Some(c) = client.as_ref() else {
            return Err(LeaseError::Connect("no connection".into()));
        };
        if (self.options.may_lead)() {
            return Ok(attempt(c, &self.me, self.options.timings.ttl).await?);
        }
        if release(c, &self.me).await? {
            tracing::warn!(node = %self.me.node, "this node may not lead (sealed): it gave the lease up");
        }
        Ok(Attempt::Elsewhere(active(c, &self.me).await?))
    }

    /// Tell the fence first, then everyone else: a writer never sees a
    /// term the node no longer holds.
    fn publish(&self, role: Role) {
        let term = match &role {
            Role::Active { term } => *term,
            Role::Standby { .. } => None,
        };
        self.fence.set_leased(term);
        self.roles.send_if_modified(|current| {
            if *current == role {
                return false;
            }
            match &role {
                Role::Active { term } if !current.is_active() => {
                    tracing::info!(node = %self.me.node, term = ?term.map(Term::get), "this node took the lease: it is the active node");
                }
                Role::Standby { active } if current.is_active() => {
                    let active = active.as_ref().map(|a| a.node.as_str());
                    tracing::warn!(node = %self.me.node, ?active, "this node is a standby now");
                }
                _ => {}
            }
            *current = role;
            true
        });
    }
}
