//! The PostgreSQL side of [`super::Conn`]: a client with the statements
//! prepared on it, parameters bound to the types the server expects, and
//! columns read back as [`Value`]s.
//!
//! The schema stores what SQLite does: integers (and 0/1 booleans) as
//! BIGINT, text as TEXT, blobs as BYTEA. PostgreSQL types parameters
//! strictly, so a parameter is bound as the type the server inferred for it
//! (an integer fits an `int2`, `int4`, `int8` or, as 0/1, a `bool`
//! parameter), and a value of the wrong kind is refused, never converted.

use std::collections::HashMap;

use ::postgres::types::{ToSql, Type};
use ::postgres::{Client, Statement};

use super::placeholders::dollar_numbered;
use super::{Row, Value};
use crate::store::StoreError;

/// Statements a connection keeps prepared. The store's SQL is a fixed set
/// of texts, so this is a bound against mistakes, not a working limit.
const MAX_STATEMENTS: usize = 512;

/// A PostgreSQL connection and the statements prepared on it, keyed by
/// their SQL as the store writes it. Prepared statements belong to the
/// server session, so the cache lives and dies with the client.
pub struct PgConnection {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl std::fmt::Debug for PgConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConnection").field("statements", &self.statements.len()).finish_non_exhaustive()
    }
}

/// A parameter as bound: the Rust type the server's parameter type takes.
enum Bound<'v> {
    Int8(Option<i64>),
    Int4(Option<i32>),
    Int2(Option<i16>),
    Bool(Option<bool>),
    Text(Option<&'v str>),
    Bytea(Option<&'v [u8]>),
}

impl Bound<'_> {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Bound::Int8(v) => v,
            Bound::Int4(v) => v,
            Bound::Int2(v) => v,
            Bound::Bool(v) => v,
            Bound::Text(v) => v,
            Bound::Bytea(v) => v,
        }
    }
}

/// Bind `value` as parameter `index` (1-based) of type `ty`.
fn bind<'v>(index: usize, value: &'v Value, ty: &Type) -> Result<Bound<'v>, StoreError> {
    let refused = || StoreError::Parameter(format!("parameter {index} does not fit its PostgreSQL type {ty}"));
    let integer = |i: &i64| -> Result<Bound<'v>, StoreError> {
        Ok(match *ty {
            Type::INT8 => Bound::Int8(Some(*i)),
            Type::INT4 => Bound::Int4(Some(i32::try_from(*i).map_err(|_| refused())?)),
            Type::INT2 => Bound::Int2(Some(i16::try_from(*i).map_err(|_| refused())?)),
            Type::BOOL => Bound::Bool(Some(match i {
                0 => false,
                1 => true,
                _ => return Err(refused()),
            })),
            _ => return Err(refused()),
        })
    };
    let text = matches!(*ty, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN);
    match value {
        Value::Integer(i) => integer(i),
        Value::Text(s) if text => Ok(Bound::Text(Some(s))),
        Value::Blob(b) if *ty == Type::BYTEA => Ok(Bound::Bytea(Some(b))),
        Value::Null => Ok(match *ty {
            Type::INT8 => Bound::Int8(None),
            Type::INT4 => Bound::Int4(None),
            Type::INT2 => Bound::Int2(None),
            Type::BOOL => Bound::Bool(None),
            Type::BYTEA => Bound::Bytea(None),
            _ if text => Bound::Text(None),
            _ => return Err(refused()),
        }),
        Value::Text(_) | Value::Blob(_) => Err(refused()),
    }
}

/// Column `index` of `row` as a [`Value`].
fn column(row: &::postgres::Row, index: usize) -> Result<Value, StoreError> {
    let ty = row.columns()[index].type_();
    Ok(match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map_or(Value::Null, Value::Integer),
        Type::INT4 => row.try_get::<_, Option<i32>>(index)?.map_or(Value::Null, |i| Value::Integer(i.into())),
        Type::INT2 => row.try_get::<_, Option<i16>>(index)?.map_or(Value::Null, |i| Value::Integer(i.into())),
        Type::BOOL => row.try_get::<_, Option<bool>>(index)?.map_or(Value::Null, |b| Value::Integer(b.into())),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(index)?.map_or(Value::Null, Value::Blob),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            row.try_get::<_, Option<String>>(index)?.map_or(Value::Null, Value::Text)
        }
        _ => return Err(StoreError::Corrupt(format!("column {index} is of type {ty}, which the store never reads"))),
    })
}

impl PgConnection {
    pub fn new(client: Client) -> Self {
        Self { client, statements: HashMap::new() }
    }

    /// Whether the server closed the session (or it broke).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// How many statements are prepared on the connection.
    #[cfg(test)]
    pub(crate) fn prepared(&self) -> usize {
        self.statements.len()
    }

    fn prepare(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&dollar_numbered(sql))?;
        if self.statements.len() >= MAX_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Prepare `sql` and bind `params` to it.
    fn statement<'v>(&mut self, sql: &str, params: &'v [Value]) -> Result<(Statement, Vec<Bound<'v>>), StoreError> {
        let statement = self.prepare(sql)?;
        let types = statement.params();
        if types.len() != params.len() {
            return Err(StoreError::Parameter(format!(
                "the statement takes {} parameters, {} were given",
                types.len(),
                params.len()
            )));
        }
        let bound: Vec<_> =
            params.iter().zip(types).enumerate().map(|(i, (v, ty))| bind(i + 1, v, ty)).collect::<Result<_, _>>()?;
        Ok((statement, bound))
    }

    pub(super) fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, StoreError> {
        let (statement, bound) = self.statement(sql, params)?;
        let refs: Vec<_> = bound.iter().map(Bound::as_sql).collect();
        let changed = self.client.execute(&statement, &refs)?;
        usize::try_from(changed).map_err(|_| StoreError::Corrupt("an impossible count of changed rows".into()))
    }

    pub(super) fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let (statement, bound) = self.statement(sql, params)?;
        let refs: Vec<_> = bound.iter().map(Bound::as_sql).collect();
        let rows = self.client.query(&statement, &refs)?;
        rows.iter().map(|row| Ok(Row::new((0..row.len()).map(|i| column(row, i)).collect::<Result<_, _>>()?))).collect()
    }

    pub(super) fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.batch_execute(sql)?)
    }
}

/// Scratch databases for tests, on the server `ROOTVAULT_TEST_PG_URL` names.
#[cfg(test)]
pub(crate) mod scratch {
    use super::PgConnection;

    /// The environment variable with the test server's URL.
    const URL_VAR: &str = "ROOTVAULT_TEST_PG_URL";

    /// A database of its own for one test, dropped when the test ends.
    pub(crate) struct ScratchDb {
        pub(crate) conn: PgConnection,
        admin: postgres::Config,
        name: String,
    }

    impl Drop for ScratchDb {
        fn drop(&mut self) {
            if let Ok(mut admin) = self.admin.connect(postgres::NoTls) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
            }
        }
    }

    /// A new, empty database, or `None` (with a notice) when no test server
    /// is configured.
    pub(crate) fn scratch_database() -> Option<ScratchDb> {
        let Ok(url) = std::env::var(URL_VAR) else {
            eprintln!("{URL_VAR} is not set: skipping a PostgreSQL test");
            return None;
        };
        let admin: postgres::Config = url.parse().expect("ROOTVAULT_TEST_PG_URL is a PostgreSQL URL");
        let name = format!("rootvault_unit_{}", uuid::Uuid::new_v4().simple());
        let mut client = admin.connect(postgres::NoTls).expect("the test server answers");
        client.batch_execute(&format!("CREATE DATABASE {name}")).expect("a scratch database can be created");
        let conn = admin.clone().dbname(&name).connect(postgres::NoTls).expect("the scratch database answers");
        Some(ScratchDb { conn: PgConnection::new(conn), admin, name })
    }
}
