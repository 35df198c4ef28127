//! Storage: one module per aggregate, over SQLite (the schema and its
//! migrations here) or PostgreSQL (`postgres`), through the neutral handle
//! of [`sql`].
//!
//! SQLite's file runs in WAL mode with `synchronous=FULL`, and PostgreSQL's
//! writer session with `synchronous_commit = on`, so a committed transaction
//! survives power loss. Writes go to one writer thread that owns its own
//! connection and commits in groups: every write that arrives while a
//! commit is under way joins the next transaction, each inside its own
//! savepoint, so concurrent requests share one flush without sharing their
//! failures. Every write also appends its audit event (see `crate::vault`),
//! so a change and its record commit together or not at all. Reads (see
//! `reader`) run on blocking threads, never across an `.await`, and see only
//! committed data.

pub mod accounts;
pub mod announcements;
pub mod audit;
pub mod backup;
pub mod custodians;
pub mod exposures;
pub mod fingerprints;
pub mod halves;
pub mod history;
pub mod keyring;
pub mod links;
mod migrations;
pub mod moves;
pub mod onboarding;
pub mod outbox;
pub mod people;
pub mod postgres;
mod reader;
pub mod requests;
pub mod reverse;
pub mod root_signins;
pub mod secrets_manager;
pub mod sessions;
pub mod sql;

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

use self::postgres::migrations::SchemaState;
use self::postgres::{DatabaseUrl, Pool, PostgresSettings};
use self::reader::{Reader, SqliteReaders};
pub use self::sql::{Conn, Dialect, PgConnection};
use crate::audit::log::AuditLog;
use crate::audit::merkle::Hash;
use crate::ha::fence::{FenceError, FenceState};

/// Storage failures. The engines' messages can quote values, so they are
/// logged by the caller and never sent to clients.
#[derive(thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {}", postgres_summary(.0))]
    Postgres(#[from] ::postgres::Error),
    #[error("a query parameter is wrong: {0}")]
    Parameter(String),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("the background task running a database call failed")]
    Join,
    #[error("the write could not be committed")]
    CommitFailed,
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("the audit log key is not loaded yet")]
    LogKeyMissing,
    #[error("the audit log failed its integrity check; it takes no record of a change")]
    LogTampered,
    #[error("the provider org is not known, so no event can be scoped")]
    ProviderUnknown,
    #[error("{0} needs the SQLite backend")]
    SqliteOnly(&'static str),
    /// `serve` never migrates PostgreSQL: the sentence says what to run.
    #[error("{0}")]
    Schema(SchemaState),
    #[error("no connection to the database could be had in time")]
    NoConnection,
    /// The write's fence failed: this node does not hold the lease under
    /// the term it believes in (DESIGN §17), so it may commit nothing.
    #[error("this node is not the active node of its cluster")]
    NotActive,
}

/// A PostgreSQL error without its detail, which can quote a row's values.
fn postgres_summary(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// The message only: a PostgreSQL error's own `Debug` shows its detail.
impl std::fmt::Debug for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoreError({self})")
    }
}

impl StoreError {
    /// Whether the error is a uniqueness or check constraint violation
    /// (SQLSTATE class 23 on PostgreSQL).
    pub fn is_constraint(&self) -> bool {
        match self {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::ConstraintViolation
            }
            StoreError::Postgres(e) => e.code().is_some_and(|c| c.code().starts_with("23")),
            _ => false,
        }
    }
}

/// What a destroyed wrapped key or ciphertext is overwritten with
/// (crypto-shredding): an empty blob, written as a parameter because the
/// engines spell blob literals differently.
pub(crate) const SHREDDED: &[u8] = &[];

/// Most writes one group commit takes.
pub(crate) const MAX_BATCH: usize = 512;

/// A write waiting for the writer thread. It runs inside the group's
/// transaction (or is told why there is none) and returns what to do once
/// the group's commit has succeeded or failed.
type Job = Box<dyn FnOnce(Result<&mut Batch, Refused>) -> Finish + Send>;
/// Told whether the job's writes are durable.
type Finish = Box<dyn FnOnce(bool) + Send>;

/// Why a write got no transaction to run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// The transaction (or the write's savepoint) could not begin.
    NoTransaction,
    /// The group's fence failed: another node leads, or none yet.
    NotActive,
}

impl From<Refused> for StoreError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::NoTransaction => StoreError::CommitFailed,
            Refused::NotActive => StoreError::NotActive,
        }
    }
}

/// What the writer thread is asked to do.
enum Work {
    /// A write, committed with the others waiting (group commit).
    Write(Job),
    /// A write that creates what must exist before any node can lead (the
    /// service's keys, once per database), in a transaction of its own
    /// that no fence guards. Such writes only ever insert what is missing.
    Bootstrap(Job),
    /// Rebuild the audit log's Merkle tree from the database, between two
    /// groups (a node becoming active: other nodes grew the log).
    ReloadLog(tokio::sync::oneshot::Sender<Result<(), StoreError>>),
}

/// One write's view of the group transaction.
pub struct Batch<'c> {
    conn: Conn<'c>,
    log: &'c AuditLog,
    leaves: Vec<Hash>,
    mark: usize,
    /// Set when a write asked for a checkpoint covering the group: the
    /// time to sign it at.
    checkpoint_at: Option<String>,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").field("leaves", &self.leaves.len()).finish_non_exhaustive()
    }
}

impl<'c> Batch<'c> {
    /// The connection, inside this write's savepoint of the group transaction.
    pub fn conn(&self) -> &Conn<'c> {
        &self.conn
    }

    pub fn log(&self) -> &AuditLog {
        self.log
    }

    pub(crate) fn push_leaf(&mut self, leaf: Hash) {
        self.leaves.push(leaf);
    }

    /// Ask for a signed checkpoint of the log as this group leaves it,
    /// stored in the group's own transaction (see [`sign_group`]).
    pub(crate) fn checkpoint_at_commit(&mut self, now: &str) {
        self.checkpoint_at = Some(now.to_owned());
    }

    /// Undo everything this write did so far (its savepoint), keeping the
    /// other writes of the group.
    pub fn rollback(&mut self) -> Result<(), StoreError> {
        self.conn.control("ROLLBACK TO job")?;
        self.leaves.truncate(self.mark);
        Ok(())
    }
}

/// Run each job of a group in its own savepoint, commit once, then tell
/// every job whether its writes are durable. Transactions are driven with
/// SQL, the same on both engines. With a `fence` (a node of a PostgreSQL
/// cluster), the transaction first proves that this node still leads
/// (`crate::ha::fence`); if it does not, every job is refused.
fn run_group<'c>(conn: Conn<'c>, log: &'c AuditLog, fence: Option<&FenceState>, jobs: Vec<Job>) {
    let _commit = log.metrics().group(jobs.len());
    if let Err(e) = conn.control(conn.dialect().begin_write()) {
        tracing::error!(error = %e, "cannot begin a write transaction");
        return refuse_all(jobs, Refused::NoTransaction);
    }
    if let Some(fence) = fence
        && let Err(e) = crate::ha::fence::check(&conn, fence)
    {
        if let FenceError::Database(e) = &e {
            tracing::error!(error = %e, "the fencing check failed");
        }
        let _ = conn.control("ROLLBACK");
        return refuse_all(jobs, Refused::NotActive);
    }
    let mut finishers = Vec::with_capacity(jobs.len());
    let mut batch = Batch { conn, log, leaves: Vec::new(), mark: 0, checkpoint_at: None };
    for job in jobs {
        batch.mark = batch.leaves.len();
        if batch.conn.control("SAVEPOINT job").is_err() {
            finishers.push((job(Err(Refused::NoTransaction)), false));
            continue;
        }
        let finish = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(&mut batch))));
        let finish = match finish {
            Ok(finish) => Some(finish),
            Err(_) => {
                tracing::error!("a write panicked; its changes were rolled back");
                let _ = batch.rollback();
                None
            }
        };
        // PostgreSQL refuses to release a savepoint after a failed statement
        // that was not rolled back: the job's work is undone, and it is told
        // that nothing it wrote was kept.
        let kept = batch.conn.control("RELEASE job").is_ok();
        if !kept {
            tracing::error!("a write left its transaction failed; its changes were rolled back");
            let _ = batch.rollback();
            let _ = batch.conn.control("RELEASE job");
        }
        finishers.extend(finish.map(|finish| (finish, kept)));
    }
    let Batch { conn, leaves, checkpoint_at, .. } = batch;
    let signed = checkpoint_at.and_then(|now| sign_group(&conn, log, &leaves, &now));
    let committed = match conn.control("COMMIT") {
        Ok(()) => {
            log.extend(leaves);
            if let Some((size, note)) = signed {
                log.note_signed(size, note);
            }
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed; its writes were not kept");
            // The transaction may still be open (a busy database); it may
            // also be gone already, which this error would only repeat.
            let _ = conn.control("ROLLBACK");
            false
        }
    };
    for (finish, kept) in finishers {
        finish(committed && kept);
    }
}

/// Sign a checkpoint of the log with the group's `leaves` appended and store
/// it in the group's transaction, so one flush makes the events and the
/// checkpoint that covers them durable together (a release then needs only
/// the witness's write before it answers). A log found tampered, or one
/// whose key is not loaded, is not signed here; nor is a group that
/// appended nothing. If the checkpoint cannot be stored, the group's
/// writes still commit without it and the release path signs one apart.
fn sign_group(conn: &Conn, log: &AuditLog, leaves: &[Hash], now: &str) -> Option<(u64, String)> {
    if leaves.is_empty() || log.tampered().is_some() {
        return None;
    }
    let keys = log.keys()?;
    let (size, root) = {
        let tree = log.tree();
        (tree.size() + leaves.len() as u64, tree.root_with(leaves))
    };
    let note = keys.signer().sign(size, &root);
    conn.control("SAVEPOINT checkpoint").ok()?;
    match audit::store_checkpoint(conn, size, &root, &note, now) {
        Ok(()) => conn.control("RELEASE checkpoint").ok().map(|()| (size, note)),
        Err(e) => {
            tracing::error!(error = %e, "the group's checkpoint could not be stored");
            let _ = conn.control("ROLLBACK TO checkpoint");
            let _ = conn.control("RELEASE checkpoint");
            None
        }
    }
}

/// Tell every job of a group that it got no transaction, and why.
fn refuse_all(jobs: Vec<Job>, why: Refused) {
    for job in jobs {
        job(Err(why))(false);
    }
}

/// The writer's side of the database: how it commits a group (with or
/// without a fence) and rebuilds the audit log's tree, on its own
/// connection.
trait WriterConn: Send + 'static {
    fn commit(&mut self, log: &AuditLog, fence: Option<&FenceState>, group: Vec<Job>);
    fn rebuild_tree(&mut self) -> Result<crate::audit::merkle::MerkleTree, StoreError>;
}

/// The writer thread: take every write that is waiting and commit them
/// together under the fence; run bootstrap writes alone and unfenced; and
/// reload the log's tree when asked, between two groups, so no group's
/// leaves are counted twice or missed.
fn writer(log: &AuditLog, fence: Option<&FenceState>, work: &mpsc::Receiver<Work>, conn: &mut impl WriterConn) {
    let mut next = work.recv().ok();
    while let Some(item) = next.take() {
        match item {
            Work::Write(first) => {
                let mut group = vec![first];
                while group.len() < MAX_BATCH {
                    match work.try_recv() {
                        Ok(Work::Write(job)) => group.push(job),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                conn.commit(log, fence, group);
            }
            Work::Bootstrap(job) => conn.commit(log, None, vec![job]),
            Work::ReloadLog(reply) => {
                let result = conn.rebuild_tree().map(|tree| log.replace_tree(tree));
                let _ = reply.send(result);
            }
        }
        if next.is_none() {
            next = work.recv().ok();
        }
    }
}

/// Start the writer thread; returns where to send it work.
fn start_writer(
    log: &Arc<AuditLog>,
    fence: Option<Arc<FenceState>>,
    mut conn: impl WriterConn,
) -> Result<mpsc::Sender<Work>, StoreError> {
    let (work, queue) = mpsc::channel();
    let log = Arc::clone(log);
    std::thread::Builder::new()
        .name("rootvault-writer".into())
        .spawn(move || writer(&log, fence.as_deref(), &queue, &mut conn))
        .map_err(|_| StoreError::WriterGone)?;
    Ok(work)
}

/// The SQLite writer: a connection of its own to the file.
struct SqliteWriter(Connection);

impl WriterConn for SqliteWriter {
    fn commit(&mut self, log: &AuditLog, fence: Option<&FenceState>, group: Vec<Job>) {
        run_group(Conn::sqlite(&self.0), log, fence, group);
    }

    fn rebuild_tree(&mut self) -> Result<crate::audit::merkle::MerkleTree, StoreError> {
        audit::rebuild_tree(&Conn::sqlite(&self.0))
    }
}

/// The PostgreSQL writer: a session of its own, opened again when the
/// server ended it (a restart, a failover, the fence's idle timeout).
struct PostgresWriter {
    url: DatabaseUrl,
    conn: Option<PgConnection>,
}

impl PostgresWriter {
    fn conn(&mut self) -> Result<&mut PgConnection, StoreError> {
        if self.conn.as_ref().is_none_or(PgConnection::is_closed) {
            self.conn = None;
            self.conn = Some(connect_writer(&self.url)?);
        }
        self.conn.as_mut().ok_or(StoreError::NoConnection)
    }
}

impl WriterConn for PostgresWriter {
    fn commit(&mut self, log: &AuditLog, fence: Option<&FenceState>, group: Vec<Job>) {
        match self.conn() {
            Ok(conn) => run_group(Conn::postgres(conn), log, fence, group),
            Err(e) => {
                tracing::error!(error = %e, "cannot reconnect the database writer");
                refuse_all(group, Refused::NoTransaction);
            }
        }
    }

    fn rebuild_tree(&mut self) -> Result<crate::audit::merkle::MerkleTree, StoreError> {
        audit::rebuild_tree(&Conn::postgres(self.conn()?))
    }
}

/// The PostgreSQL writer's connection: its commits wait for the server's
/// flush to disk whatever the server's default says.
fn connect_writer(url: &DatabaseUrl) -> Result<PgConnection, StoreError> {
    let mut conn = PgConnection::new(postgres::connect(url)?);
    Conn::postgres(&mut conn).execute_batch("SET synchronous_commit = on")?;
    Ok(conn)
}

/// A handle to the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    reader: Reader,
    work: mpsc::Sender<Work>,
    log: Arc<AuditLog>,
}

/// SQLite read connections: a few more than the cores a small host has,
/// so reads on blocking threads rarely wait for one another.
const SQLITE_READERS: usize = 4;

/// Statements each SQLite connection keeps prepared.
const STATEMENT_CACHE: usize = 256;

/// The database file name inside a data directory.
pub const DB_FILE: &str = "rootvault.db";

fn connect(data_dir: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(data_dir.join(DB_FILE))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted and overwritten content is zeroed in the file, so destroyed
    // keys (crypto-shredding) do not linger in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    // Each write of a group commit runs in a savepoint, whose undo journal
    // SQLite keeps in a temporary file unless told otherwise: in memory it
    // costs no system calls. Durability is the WAL's and does not change.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Every statement goes through the cache (see `sql`); room for all the
    // store's SQL texts, so none is parsed twice.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

impl Store {
    /// Open (creating if needed) the database in `data_dir`, migrate it,
    /// rebuild the audit log's Merkle tree and start the writer thread.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let mut conn = connect(data_dir)?;
        migrations::apply(&mut conn)?;
        let log = Arc::new(AuditLog::new(audit::rebuild_tree(&Conn::sqlite(&conn))?));
        let work = start_writer(&log, None, SqliteWriter(connect(data_dir)?))?;
        let more = (1..SQLITE_READERS).map(|_| connect(data_dir)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { reader: Reader::Sqlite(Arc::new(SqliteReaders::new(conn, more))), work, log })
    }

    /// Open the PostgreSQL database `settings` name, whose schema must be
    /// current (`serve` never migrates it; the error says what to run), with
    /// a pool of `pool_size` read connections and a writer connection of its
    /// own. With a `fence` (a node of a cluster), every write first proves
    /// that this node leads; without one (the command-line tasks), writes
    /// are not fenced. Blocks; may be called inside async code (start-up
    /// does), as the synchronous client runs on a thread of its own here.
    /// No error quotes the URL or its password.
    pub fn open_postgres(settings: &PostgresSettings, fence: Option<Arc<FenceState>>) -> Result<Self, StoreError> {
        std::thread::scope(|s| {
            s.spawn(|| Self::open_postgres_here(settings, fence)).join().unwrap_or(Err(StoreError::Join))
        })
    }

    fn open_postgres_here(settings: &PostgresSettings, fence: Option<Arc<FenceState>>) -> Result<Self, StoreError> {
        let mut client = postgres::connect(&settings.url)?;
        match postgres::migrations::state(&mut client)? {
            SchemaState::Current => {}
            other => return Err(StoreError::Schema(other)),
        }
        drop(client);
        let writer = PostgresWriter { url: settings.url.clone(), conn: Some(connect_writer(&settings.url)?) };
        let pool = Arc::new(Pool::new(settings));
        let log = Arc::new(AuditLog::new(audit::rebuild_tree(&Conn::postgres(&mut *pool.get()?))?));
        let work = start_writer(&log, fence, writer)?;
        Ok(Self { reader: Reader::Postgres(pool), work, log })
    }

    /// The audit log's live state.
    pub fn log(&self) -> &Arc<AuditLog> {
        &self.log
    }

    /// Which engine keeps the state.
    pub fn dialect(&self) -> Dialect {
        self.reader.dialect()
    }

    /// Run `f` on a blocking thread with the read connection.
    pub async fn read<T, E>(&self, f: impl FnOnce(&Conn) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || reader.with_snapshot(f)).await.map_err(|_| E::from(StoreError::Join))?
    }

    /// Run `f`, a read of a few rows by key, on the calling thread when a
    /// SQLite read connection is free at once, else as [`Store::read`]
    /// does. Such a read of pages the system holds in memory takes less
    /// time than handing it to a blocking thread and back (a tenth of a
    /// release's CPU went to that hand-off), so it holds the async thread
    /// for less than the hand-off would. Only for reads that neither scan
    /// nor wait: on PostgreSQL, whose reads wait on the network, and when
    /// every connection is busy, `f` goes to a blocking thread. (A SQLite
    /// reader in WAL mode seldom waits: on SQLite's brief locks around a
    /// reset or truncation of the log, or its recovery after a crash; the
    /// async thread then waits with it, up to the busy timeout.)
    pub async fn read_by_key<T, E>(&self, f: impl FnOnce(&Conn) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match self.reader.try_snapshot_now(f) {
            Ok(result) => result,
            Err(f) => self.read(f).await,
        }
    }

    /// Run `f` in the next group commit. Its result is returned once the
    /// group is durable; if the commit fails, `StoreError::CommitFailed`,
    /// and on a node of a cluster that does not lead, `StoreError::NotActive`.
    pub async fn write<T, E>(&self, f: impl FnOnce(&mut Batch) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit(f, Work::Write).await
    }

    /// Run `f` in a transaction of its own that no fence guards, on any
    /// node of a cluster, leading or not. Only for creating, once per
    /// database, what every node needs before one can lead (the service's
    /// keys): `f` must insert only what is missing and change nothing else,
    /// so two nodes starting together agree on one winner.
    pub async fn write_bootstrap<T, E>(
        &self,
        f: impl FnOnce(&mut Batch) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit(f, Work::Bootstrap).await
    }

    async fn submit<T, E>(
        &self,
        f: impl FnOnce(&mut Batch) -> Result<T, E> + Send + 'static,
        work: fn(Job) -> Work,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let _append = self.log.metrics().append();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |batch: Result<&mut Batch, Refused>| {
            let (result, refused) = match batch {
                Ok(batch) => (f(batch), None),
                Err(why) => (Err(E::from(why.into())), Some(why)),
            };
            Box::new(move |committed: bool| {
                let answer = match (committed, refused) {
                    (true, _) => result,
                    (false, Some(why)) => Err(E::from(why.into())),
                    (false, None) => Err(E::from(StoreError::CommitFailed)),
                };
                let _ = reply.send(answer);
            })
        });
        self.work.send(work(job)).map_err(|_| E::from(StoreError::WriterGone))?;
        answer.await.map_err(|_| E::from(StoreError::WriterGone))?
    }

    /// Rebuild the audit log's Merkle tree from the database, between two
    /// group commits: a node of a cluster does this as it becomes active,
    /// since other nodes grew the log meanwhile.
    pub async fn reload_log(&self) -> Result<(), StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.work.send(Work::ReloadLog(reply)).map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Copy the write-ahead log into the database and truncate it to nothing.
    /// After crypto-shredding, the WAL still holds the old pages (with the
    /// destroyed keys) until this runs; the database pages themselves were
    /// zeroed by `secure_delete`.
    ///
    /// Nothing to do on PostgreSQL, which keeps no such file beside the
    /// database: a shredded row's old version stays in its table until
    /// (auto)vacuum reclaims it, and in the server's own WAL, archives and
    /// backups for as long as the operator keeps them (docs/postgres.md).
    pub async fn truncate_wal(&self) -> Result<(), StoreError> {
        if self.dialect() == Dialect::Postgres {
            return Ok(());
        }
        self.read(|c| {
            let conn = c.as_sqlite().ok_or(StoreError::SqliteOnly("truncating the write-ahead log"))?;
            let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            if busy != 0 {
                tracing::warn!(
                    "the write-ahead log could not be truncated yet (busy); it will be at the next checkpoint"
                );
            }
            Ok(())
        })
        .await
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        self.read(|c| c.query_one("SELECT 1", sql::params![])).await.is_ok()
    }

    /// Synchronous access for start-up and command-line tasks that run
    /// before the service handles requests. On PostgreSQL `f` runs on a
    /// thread of its own, as the synchronous client may not run inside the
    /// async code that start-up is.
    pub fn blocking<T: Send>(&self, f: impl FnOnce(&Conn) -> Result<T, StoreError> + Send) -> Result<T, StoreError> {
        match &self.reader {
            Reader::Sqlite(_) => self.reader.with(f),
            Reader::Postgres(_) => {
                std::thread::scope(|s| s.spawn(|| self.reader.with(f)).join().unwrap_or(Err(StoreError::Join)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::sql::{params, scratch_database};
    use super::*;
    use crate::audit::merkle::MerkleTree;

    /// A job that runs `work` and records, in `told`, whether it was told
    /// its writes are durable.
    fn job(told: &Arc<Mutex<Vec<bool>>>, work: impl FnOnce(&mut Batch) + Send + 'static) -> Job {
        let told = Arc::clone(told);
        Box::new(move |batch: Result<&mut Batch, Refused>| {
            if let Ok(batch) = batch {
                work(batch);
            }
            Box::new(move |kept: bool| told.lock().unwrap().push(kept))
        })
    }

    fn insert(batch: &Batch, id: i64) -> Result<usize, StoreError> {
        batch.conn().execute("INSERT INTO t (id) VALUES (?1)", params![id])
    }

    /// Three writes in one group: the second meets a duplicate key and
    /// neither stops nor rolls back; the third also has a refusal, which it
    /// undoes before writing again (as a refused request records its refusal).
    fn group(told: &Arc<Mutex<Vec<bool>>>) -> Vec<Job> {
        vec![
            job(told, |b| assert_eq!(insert(b, 1).unwrap(), 1)),
            job(told, |b| {
                assert!(insert(b, 1).unwrap_err().is_constraint());
            }),
            job(told, |b| {
                assert!(insert(b, 1).unwrap_err().is_constraint());
                b.rollback().unwrap();
                insert(b, 2).unwrap();
            }),
        ]
    }

    fn ids(conn: &Conn) -> Vec<i64> {
        conn.query("SELECT id FROM t ORDER BY id", params![]).unwrap().iter().map(|r| r.get(0).unwrap()).collect()
    }

    #[tokio::test]
    async fn a_group_that_asks_for_a_checkpoint_commits_one_covering_its_own_events() {
        use crate::audit::checkpoint::VerifierKey;
        use crate::audit::{Action, EventDraft, HttpInfo, Outcome, Target};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let keys = Arc::new(crate::audit::log::LogKeys::from_seed("rootvault/test", &zeroize::Zeroizing::new([5; 32])));
        store.log().set_keys(Some(Arc::clone(&keys)));
        store.log().set_provider("acme");
        let append = |ask: bool| {
            move |b: &mut Batch| {
                let draft = EventDraft::new(None, Action::AccountRead, Target::default(), &HttpInfo::default());
                audit::append(b, draft, "2026-01-01T00:00:00.000Z", Outcome::Ok, None)?;
                if ask {
                    b.checkpoint_at_commit("2026-01-01T00:00:00.000Z");
                }
                Ok::<_, StoreError>(())
            }
        };
        store.write(append(false)).await.unwrap();
        assert_eq!(store.read(audit::latest_checkpoint).await.unwrap(), None, "nobody asked for one");
        assert!(store.log().newest_signed().is_none());

        store.write(append(true)).await.unwrap();
        let (size, note) = store.read(audit::latest_checkpoint).await.unwrap().unwrap();
        assert_eq!(size, 2, "it covers the group's event and the one before");
        let checkpoint = VerifierKey::parse(&keys.signer().vkey()).unwrap().verify(&note).unwrap();
        assert_eq!((checkpoint.size, checkpoint.root), (2, store.log().tree().root(2).unwrap()));
        assert_eq!(store.log().newest_signed().map(|(s, n)| (s, n.to_string())), Some((size, note)));
    }

    #[test]
    fn on_sqlite_a_failed_statement_costs_only_itself() {
        let sqlite = Connection::open_in_memory().unwrap();
        sqlite.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY) STRICT").unwrap();
        let told = Arc::new(Mutex::new(Vec::new()));
        let log = AuditLog::new(MerkleTree::default());
        run_group(Conn::sqlite(&sqlite), &log, None, group(&told));
        assert_eq!(*told.lock().unwrap(), [true, true, true]);
        assert_eq!(ids(&Conn::sqlite(&sqlite)), [1, 2]);
    }

    #[test]
    fn on_postgres_a_write_left_failed_is_undone_and_told_so_while_the_group_commits() {
        let Some(mut db) = scratch_database() else { return };
        Conn::postgres(&mut db.conn).execute_batch("CREATE TABLE t (id BIGINT PRIMARY KEY)").unwrap();
        let told = Arc::new(Mutex::new(Vec::new()));
        let log = AuditLog::new(MerkleTree::default());
        run_group(Conn::postgres(&mut db.conn), &log, None, group(&told));
        assert_eq!(*told.lock().unwrap(), [true, false, true]);
        assert_eq!(ids(&Conn::postgres(&mut db.conn)), [1, 2]);
    }
}
