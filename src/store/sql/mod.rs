//! One SQL handle for both storage engines.
//!
//! The store's modules and the use cases above them speak to the database
//! only through [`Conn`]: SQLite (the default) or PostgreSQL (high
//! availability, DESIGN §17), in a read or inside a write's transaction. SQL
//! is written once, with `?1..?N` placeholders, in the subset both engines
//! understand; where they differ (JSON, dates, string search) a helper of
//! [`dialect`] writes the one expression for the engine at hand. Values go
//! in and come out as [`Value`]s: integers (booleans as 0/1), text, blobs
//! and NULL, which both engines store alike.

pub mod dialect;
mod pg;
mod placeholders;
mod sqlite;
#[cfg(test)]
mod tests;
mod value;

use std::cell::RefCell;

pub use self::dialect::Dialect;
pub use self::pg::PgConnection;
#[cfg(test)]
pub(crate) use self::pg::scratch::scratch_database;
pub use self::value::{FromValue, Row, ToValue, Value};
use super::StoreError;

/// Parameters for [`Conn`]'s methods, like rusqlite's `params!`: each
/// expression is borrowed and turned into a [`Value`].
macro_rules! params {
    () => {
        &[] as &[$crate::store::sql::Value]
    };
    ($($param:expr),+ $(,)?) => {
        &[$($crate::store::sql::ToValue::to_value(&$param)),+] as &[$crate::store::sql::Value]
    };
}
pub(crate) use params;

/// A connection, or the transaction of a write, on either engine.
pub struct Conn<'a>(Engine<'a>);

enum Engine<'a> {
    Sqlite(&'a rusqlite::Connection),
    /// PostgreSQL's client needs `&mut` for every call; the handle is
    /// shared (`&Conn`), and no call holds the borrow past its return.
    Postgres(RefCell<&'a mut PgConnection>),
}

impl std::fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Conn").field(&self.dialect()).finish()
    }
}

impl<'a> Conn<'a> {
    /// An SQLite connection (or one inside a transaction begun on it).
    pub(crate) fn sqlite(conn: &'a rusqlite::Connection) -> Self {
        Self(Engine::Sqlite(conn))
    }

    /// A PostgreSQL connection (or one inside a transaction begun on it).
    pub fn postgres(conn: &'a mut PgConnection) -> Self {
        Self(Engine::Postgres(RefCell::new(conn)))
    }

    /// Which engine runs the SQL.
    pub fn dialect(&self) -> Dialect {
        match &self.0 {
            Engine::Sqlite(_) => Dialect::Sqlite,
            Engine::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The SQLite connection, for what only SQLite has (its backup API,
    /// its write-ahead log); `None` on PostgreSQL.
    pub(crate) fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.0 {
            Engine::Sqlite(conn) => Some(conn),
            Engine::Postgres(_) => None,
        }
    }

    /// Run one statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<usize, StoreError> {
        match &self.0 {
            Engine::Sqlite(conn) => sqlite::execute(conn, sql, params),
            Engine::Postgres(conn) => conn.borrow_mut().execute(sql, params),
        }
    }

    /// Run one query and read every row it returns.
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        match &self.0 {
            Engine::Sqlite(conn) => sqlite::query(conn, sql, params),
            Engine::Postgres(conn) => conn.borrow_mut().query(sql, params),
        }
    }

    /// The first row of a query, if it returns any.
    pub fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The first row of a query that always returns one (an aggregate,
    /// `EXISTS`); no row at all means the database is not what it should be.
    pub fn query_one(&self, sql: &str, params: &[Value]) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?
            .ok_or_else(|| StoreError::Corrupt("a query that always returns a row returned none".into()))
    }

    /// Run one statement of transaction control (`BEGIN`, `SAVEPOINT`,
    /// `RELEASE`, `ROLLBACK TO`, `COMMIT`): on SQLite a prepared one from
    /// the statement cache rather than parsed each time (a group commit
    /// runs two for each of its writes), on PostgreSQL as a simple query.
    pub fn control(&self, sql: &'static str) -> Result<(), StoreError> {
        match &self.0 {
            Engine::Sqlite(conn) => sqlite::execute(conn, sql, &[]).map(drop),
            Engine::Postgres(conn) => conn.borrow_mut().execute_batch(sql),
        }
    }

    /// Run statements without parameters (transaction control, schema).
    pub fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        match &self.0 {
            Engine::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Engine::Postgres(conn) => conn.borrow_mut().execute_batch(sql),
        }
    }
}
