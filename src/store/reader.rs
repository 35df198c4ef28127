//! The read side of the store: SQLite's one read connection behind a std
//! `Mutex`, or a pool of PostgreSQL connections. Either is used only on
//! blocking threads (see `Store::read`).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;

use super::postgres::Pool;
use super::{Conn, Dialect, StoreError};

#[derive(Clone, Debug)]
pub(super) enum Reader {
    /// Reads are short and never held across an `.await`, so one
    /// connection serves them all (SQLite reads do not wait for the writer).
    Sqlite(Arc<Mutex<Connection>>),
    /// A connection of the pool per read, so reads run side by side.
    Postgres(Arc<Pool>),
}

impl Reader {
    pub(super) fn dialect(&self) -> Dialect {
        match self {
            Reader::Sqlite(_) => Dialect::Sqlite,
            Reader::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Run `f` with a read connection. Blocks.
    pub(super) fn with<T, E: From<StoreError>>(&self, f: impl FnOnce(&Conn) -> Result<T, E>) -> Result<T, E> {
        match self {
            Reader::Sqlite(conn) => f(&Conn::sqlite(&lock(conn))),
            Reader::Postgres(pool) => f(&Conn::postgres(&mut *pool.get()?)),
        }
    }
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // Reads run single statements in autocommit mode and never leave a
    // transaction open, so the connection behind a poisoned lock is
    // consistent.
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}
