//! The service's pool of PostgreSQL connections, each a [`PgConnection`]
//! so the statements prepared on it stay prepared for as long as it lives.
//!
//! The synchronous client runs a runtime of its own, which may be neither
//! entered nor dropped inside async code: connections are taken and given
//! back only on blocking threads (see `crate::store::Store::read`), and the
//! pool, when the last handle to it goes, is dropped on a thread of its own.

use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{PostgresSettings, tls};
use crate::store::sql::PgConnection;
use crate::store::{Conn, StoreError};

/// Opens connections as the service role, and tells r2d2 whether one still
/// answers.
pub struct Manager(PostgresConnectionManager<MakeRustlsConnect>);

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Manager")
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConnection;
    type Error = StoreError;

    fn connect(&self) -> Result<PgConnection, StoreError> {
        Ok(PgConnection::new(self.0.connect()?))
    }

    fn is_valid(&self, conn: &mut PgConnection) -> Result<(), StoreError> {
        Conn::postgres(conn).execute_batch("")
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        conn.is_closed()
    }
}

/// A pool of connections as the service role.
#[derive(Debug)]
pub struct Pool(Option<r2d2::Pool<Manager>>);

/// A connection taken from the pool; back to it when dropped.
pub type Pooled = r2d2::PooledConnection<Manager>;

impl Pool {
    /// The pool `settings` describe. Connections open in the background and
    /// on demand, so an unreachable server shows on first use, not here.
    pub fn new(settings: &PostgresSettings) -> Self {
        let manager = PostgresConnectionManager::new(settings.url.config(), tls::connector(settings.url.tls()));
        Self(Some(r2d2::Pool::builder().max_size(settings.pool_size).build_unchecked(Manager(manager))))
    }

    /// Connections the pool keeps at most.
    pub fn max_size(&self) -> u32 {
        self.0.as_ref().map_or(0, r2d2::Pool::max_size)
    }

    /// A connection. Blocks (up to r2d2's timeout): call it on a blocking
    /// thread. r2d2's error is a sentence about the server (never the URL,
    /// which the client's errors do not quote); it is logged, and the caller
    /// told only that no connection could be had.
    pub fn get(&self) -> Result<Pooled, StoreError> {
        let pool = self.0.as_ref().ok_or(StoreError::NoConnection)?;
        pool.get().map_err(|e| {
            tracing::error!(error = %e, "no connection to PostgreSQL could be had");
            StoreError::NoConnection
        })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Idle connections close as the pool goes, which the synchronous
        // client cannot do inside async code.
        let pool = self.0.take();
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::spawn(move || drop(pool));
        }
    }
}
