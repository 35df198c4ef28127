//! SQLite storage: schema, migrations and one module per aggregate.
//!
//! The file runs in WAL mode with `synchronous=FULL`, so a committed
//! transaction survives power loss. Writes go to one writer thread that owns
//! its own connection and commits in groups: every write that arrives while
//! a commit is under way joins the next transaction, each inside its own
//! savepoint, so concurrent requests share one fsync without sharing their
//! failures. Every write also appends its audit event (see `crate::vault`),
//! so a change and its record commit together or not at all. Reads use a
//! second connection behind a std `Mutex` (reads are short and never held
//! across an `.await`), and see only committed data.

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
pub mod requests;
pub mod reverse;
pub mod root_signins;
pub mod secrets_manager;
pub mod sessions;
pub mod sql;

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use self::sql::Conn;

use crate::audit::log::AuditLog;
use crate::audit::merkle::Hash;

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

/// Most writes one group commit takes.
const MAX_BATCH: usize = 512;

/// A write waiting for the writer thread. It runs inside the group's
/// transaction (or gets `None` if the transaction could not begin) and
/// returns what to do once the group's commit has succeeded or failed.
type Job = Box<dyn FnOnce(Option<&mut Batch>) -> Finish + Send>;
type Finish = Box<dyn FnOnce(bool) + Send>;

/// One write's view of the group transaction.
pub struct Batch<'c> {
    tx: Transaction<'c>,
    log: &'c AuditLog,
    leaves: Vec<Hash>,
    mark: usize,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").field("leaves", &self.leaves.len()).finish_non_exhaustive()
    }
}

impl Batch<'_> {
    pub fn tx(&self) -> &Transaction<'_> {
        &self.tx
    }

    pub fn log(&self) -> &AuditLog {
        self.log
    }

    pub(crate) fn push_leaf(&mut self, leaf: Hash) {
        self.leaves.push(leaf);
    }

    /// Undo everything this write did so far (its savepoint), keeping the
    /// other writes of the group.
    pub fn rollback(&mut self) -> Result<(), StoreError> {
        self.tx.execute_batch("ROLLBACK TO job")?;
        self.leaves.truncate(self.mark);
        Ok(())
    }
}

/// Run each job of a group in its own savepoint, commit once, then tell
/// every job whether its writes are durable.
fn run_group(conn: &mut Connection, log: &AuditLog, jobs: Vec<Job>) {
    let mut finishers = Vec::with_capacity(jobs.len());
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(error = %e, "cannot begin a write transaction");
            for job in jobs {
                job(None)(false);
            }
            return;
        }
    };
    let mut batch = Batch { tx, log, leaves: Vec::new(), mark: 0 };
    for job in jobs {
        batch.mark = batch.leaves.len();
        if batch.tx.execute_batch("SAVEPOINT job").is_err() {
            finishers.push(job(None));
            continue;
        }
        let finish = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Some(&mut batch))));
        match finish {
            Ok(finish) => finishers.push(finish),
            Err(_) => {
                tracing::error!("a write panicked; its changes were rolled back");
                let _ = batch.rollback();
            }
        }
        let _ = batch.tx.execute_batch("RELEASE job");
    }
    let Batch { tx, leaves, .. } = batch;
    let committed = match tx.commit() {
        Ok(()) => {
            log.extend(leaves);
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed; its writes were not kept");
            false
        }
    };
    for finish in finishers {
        finish(committed);
    }
}

/// The writer thread: take every write that is waiting, commit them together.
fn writer(mut conn: Connection, log: Arc<AuditLog>, jobs: mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        run_group(&mut conn, &log, group);
    }
}

/// A handle to the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    jobs: mpsc::Sender<Job>,
    log: Arc<AuditLog>,
}

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
    Ok(conn)
}

impl Store {
    /// Open (creating if needed) the database in `data_dir`, migrate it,
    /// rebuild the audit log's Merkle tree and start the writer thread.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let mut conn = connect(data_dir)?;
        migrations::apply(&mut conn)?;
        let log = Arc::new(AuditLog::new(audit::rebuild_tree(&conn)?));
        let writer_conn = connect(data_dir)?;
        let (jobs, queue) = mpsc::channel();
        let writer_log = Arc::clone(&log);
        std::thread::Builder::new()
            .name("rootvault-writer".into())
            .spawn(move || writer(writer_conn, writer_log, queue))
            .map_err(|_| StoreError::WriterGone)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), jobs, log })
    }

    /// The audit log's live state.
    pub fn log(&self) -> &Arc<AuditLog> {
        &self.log
    }

    fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
        // rusqlite rolls back an open transaction when it is dropped during
        // a panic, so the connection behind a poisoned lock is consistent.
        conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `f` on a blocking thread with the read connection.
    pub async fn read<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || f(&Self::lock(&conn))).await.map_err(|_| E::from(StoreError::Join))?
    }

    /// Run `f` in the next group commit. Its result is returned once the
    /// group is durable; if the commit fails, `StoreError::CommitFailed`.
    pub async fn write<T, E>(&self, f: impl FnOnce(&mut Batch) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |batch: Option<&mut Batch>| {
            let result = match batch {
                Some(batch) => f(batch),
                None => Err(E::from(StoreError::CommitFailed)),
            };
            Box::new(move |committed: bool| {
                let _ = reply.send(if committed { result } else { Err(E::from(StoreError::CommitFailed)) });
            })
        });
        self.jobs.send(job).map_err(|_| E::from(StoreError::WriterGone))?;
        answer.await.map_err(|_| E::from(StoreError::WriterGone))?
    }

    /// Copy the write-ahead log into the database and truncate it to nothing.
    /// After crypto-shredding, the WAL still holds the old pages (with the
    /// destroyed keys) until this runs; the database pages themselves were
    /// zeroed by `secure_delete`.
    pub async fn truncate_wal(&self) -> Result<(), StoreError> {
        self.read(|c| {
            let (busy, _, _): (i64, i64, i64) =
                c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
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
        self.read(|c| Conn::sqlite(c).query_one("SELECT 1", sql::params![])).await.is_ok()
    }

    /// Synchronous access for start-up and command-line tasks that run
    /// before the service handles requests.
    pub fn blocking<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&mut Self::lock(&self.conn))
    }
}
