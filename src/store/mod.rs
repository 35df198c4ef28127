//! SQLite storage: schema, migrations and one module per aggregate.
//!
//! One connection in WAL mode with `synchronous=FULL`, so a committed
//! transaction survives power loss. Every write is one transaction that also
//! appends its audit event (see `crate::vault`), so a change and its record
//! commit together or not at all.
//!
//! The connection sits behind a std `Mutex` and is only used from blocking
//! threads (`spawn_blocking`): SQLite calls block, and a std mutex is the
//! right tool for a lock that is never held across an `.await`.

pub mod accounts;
pub mod audit;
pub mod custodians;
pub mod exposures;
pub mod halves;
pub mod history;
pub mod keyring;
mod migrations;
pub mod outbox;
pub mod requests;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

/// Storage failures. SQLite's messages can quote values, so they are logged
/// by the caller and never sent to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("the background task running a database call failed")]
    Join,
}

impl StoreError {
    /// Whether the error is a uniqueness or check constraint violation.
    pub fn is_constraint(&self) -> bool {
        matches!(self, StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation)
    }
}

/// A handle to the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

/// The database file name inside a data directory.
pub const DB_FILE: &str = "rootvault.db";

impl Store {
    /// Open (creating if needed) the database in `data_dir` and migrate it.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(data_dir.join(DB_FILE))?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::apply(&mut conn)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
        // rusqlite rolls back an open transaction when it is dropped during
        // a panic, so the connection behind a poisoned lock is consistent.
        conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `f` on a blocking thread with the connection.
    pub async fn read<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || f(&Self::lock(&conn))).await.map_err(|_| E::from(StoreError::Join))?
    }

    /// Run `f` on a blocking thread with the connection, for callers that
    /// manage their own transactions (the audited write path).
    pub async fn with_conn<T, E>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || f(&mut Self::lock(&conn))).await.map_err(|_| E::from(StoreError::Join))?
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        self.read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).map_err(StoreError::from)).await.is_ok()
    }

    /// Synchronous access for start-up and command-line tasks that run
    /// before the async runtime serves requests.
    pub fn blocking<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        f(&mut Self::lock(&self.conn))
    }
}

/// Begin an immediate transaction: it takes the write lock up front, so two
/// writers never both read and then collide on commit.
pub fn begin(conn: &mut Connection) -> Result<Transaction<'_>, StoreError> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}
