//! The read side of the store: a few SQLite read connections, each behind
//! a std `Mutex`, or a pool of PostgreSQL connections. Either is used only
//! on blocking threads (see `Store::read`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use rusqlite::Connection;

use super::postgres::Pool;
use super::{Conn, Dialect, StoreError};

#[derive(Clone, Debug)]
pub(super) enum Reader {
    /// Reads are short and never held across an `.await`; a few
    /// connections let them run side by side (in WAL mode SQLite readers
    /// wait neither for each other nor for the writer).
    Sqlite(Arc<SqliteReaders>),
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
            Reader::Sqlite(readers) => f(&Conn::sqlite(&readers.take())),
            Reader::Postgres(pool) => f(&Conn::postgres(&mut *pool.get()?)),
        }
    }
}

/// SQLite's read connections.
#[derive(Debug)]
pub(super) struct SqliteReaders {
    conns: Vec<Mutex<Connection>>,
    /// Where the next read starts looking for a free connection.
    next: AtomicUsize,
}

impl SqliteReaders {
    /// At least `first`, so there is always a connection to wait for.
    pub(super) fn new(first: Connection, more: Vec<Connection>) -> Self {
        let conns = std::iter::once(first).chain(more).map(Mutex::new).collect();
        Self { conns, next: AtomicUsize::new(0) }
    }

    /// A free connection if there is one, else the next in turn once free.
    fn take(&self) -> MutexGuard<'_, Connection> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.conns.len();
        for i in 0..n {
            match self.conns[(start + i) % n].try_lock() {
                Ok(conn) => return conn,
                // Reads run single statements in autocommit mode and never
                // leave a transaction open, so a connection behind a
                // poisoned lock is consistent.
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.conns[start % n].lock().unwrap_or_else(PoisonError::into_inner)
    }
}
