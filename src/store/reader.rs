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

    /// Run `f` with a read connection, each statement in a transaction of
    /// its own. Blocks.
    pub(super) fn with<T, E: From<StoreError>>(&self, f: impl FnOnce(&Conn) -> Result<T, E>) -> Result<T, E> {
        match self {
            Reader::Sqlite(readers) => f(&Conn::sqlite(&recovered(readers.take()))),
            Reader::Postgres(pool) => f(&Conn::postgres(&mut *pool.get()?)),
        }
    }

    /// Run `f` with a read connection, on SQLite all of it in one
    /// transaction: its statements see one snapshot, and SQLite checks the
    /// write-ahead log (dropping its page cache if the file changed) once
    /// rather than once per statement. Blocks.
    pub(super) fn with_snapshot<T, E: From<StoreError>>(&self, f: impl FnOnce(&Conn) -> Result<T, E>) -> Result<T, E> {
        match self {
            Reader::Sqlite(readers) => in_snapshot(&recovered(readers.take()), f),
            Reader::Postgres(_) => self.with(f),
        }
    }

    /// Run `f` as [`Reader::with_snapshot`] does, but only if a SQLite
    /// read connection is free at once; `f` comes back unrun when none is
    /// (or on PostgreSQL, whose reads wait on the network).
    pub(super) fn try_snapshot_now<T, E, F>(&self, f: F) -> Result<Result<T, E>, F>
    where
        E: From<StoreError>,
        F: FnOnce(&Conn) -> Result<T, E>,
    {
        let Reader::Sqlite(readers) = self else { return Err(f) };
        match readers.try_take() {
            Some(conn) => Ok(in_snapshot(&recovered(conn), f)),
            None => Err(f),
        }
    }
}

/// `f` in one read transaction on `conn`.
fn in_snapshot<T, E: From<StoreError>>(conn: &Connection, f: impl FnOnce(&Conn) -> Result<T, E>) -> Result<T, E> {
    run_cached(conn, "BEGIN").map_err(StoreError::from)?;
    let result = f(&Conn::sqlite(conn));
    // COMMIT, so a statement that wrote keeps what it wrote, as it would
    // have in autocommit mode.
    let ended = run_cached(conn, "COMMIT");
    if !conn.is_autocommit() {
        end_failed(conn);
    }
    let value = result?;
    ended.map_err(StoreError::from)?;
    Ok(value)
}

fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}

/// Roll back a transaction left open by a read that panicked (poisoning
/// its lock) or whose end failed.
fn end_failed(conn: &Connection) {
    if let Err(e) = run_cached(conn, "ROLLBACK") {
        tracing::warn!(error = %e, "a read transaction could not be rolled back");
    }
}

/// A connection as the previous read left it, out of any transaction, so
/// this read neither sees an old snapshot nor fails to begin its own.
fn recovered(conn: MutexGuard<'_, Connection>) -> MutexGuard<'_, Connection> {
    if !conn.is_autocommit() {
        end_failed(&conn);
    }
    conn
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
        self.free_from(start)
            .unwrap_or_else(|| self.conns[start % self.conns.len()].lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A free connection, if one is free now.
    fn try_take(&self) -> Option<MutexGuard<'_, Connection>> {
        self.free_from(self.next.fetch_add(1, Ordering::Relaxed))
    }

    fn free_from(&self, start: usize) -> Option<MutexGuard<'_, Connection>> {
        let n = self.conns.len();
        (0..n).find_map(|i| match self.conns[(start + i) % n].try_lock() {
            Ok(conn) => Some(conn),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;
    use crate::store::sql::params;

    fn count(conn: &Conn) -> Result<i64, StoreError> {
        conn.query_one("SELECT COUNT(*) FROM t", params![])?.get(0)
    }

    fn setup(dir: &std::path::Path) -> (Connection, Reader) {
        let path = dir.join("t.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        let reader = Reader::Sqlite(Arc::new(SqliteReaders::new(Connection::open(&path).unwrap(), Vec::new())));
        (writer, reader)
    }

    #[test]
    fn the_statements_of_one_read_see_one_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = setup(dir.path());
        let (before, after) = reader
            .with_snapshot(|c| {
                let before = count(c)?;
                writer.execute("INSERT INTO t VALUES (2)", []).unwrap();
                Ok::<_, StoreError>((before, count(c)?))
            })
            .unwrap();
        assert_eq!((before, after), (1, 1));
        assert_eq!(reader.with_snapshot(count).unwrap(), 2, "the next read sees the write");
    }

    #[test]
    fn a_read_that_panicked_leaves_no_old_snapshot_behind() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = setup(dir.path());
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            reader.with_snapshot(|c| -> Result<(), StoreError> {
                count(c)?;
                panic!("a read fails half-way");
            })
        }));
        assert!(panicked.is_err());
        writer.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert_eq!(reader.with_snapshot(count).unwrap(), 2);
        assert_eq!(reader.with(count).unwrap(), 2);
    }

    #[test]
    fn a_read_now_waits_for_no_connection_and_gives_its_work_back_when_all_are_busy() {
        let dir = tempfile::tempdir().unwrap();
        let (_writer, reader) = setup(dir.path());
        let Reader::Sqlite(readers) = &reader else { unreachable!() };
        let held = readers.try_take().unwrap();
        assert!(readers.try_take().is_none(), "one connection, held");
        let unrun = reader.try_snapshot_now(count);
        assert!(unrun.is_err());
        drop(held);
        assert_eq!(reader.try_snapshot_now(count).ok().unwrap().unwrap(), 1);
    }
}
