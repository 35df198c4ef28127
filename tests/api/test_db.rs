//! `TestApp::db()`: a second connection to a service's database, as an
//! operator (or an attacker with database access) would open one, on either
//! backend, with the few rusqlite-shaped calls the tests make. Parameters
//! are rusqlite's; rows are the store's neutral [`Row`]s.
//!
//! On PostgreSQL each call connects anew on a thread of its own: the
//! synchronous client may neither run nor be dropped inside the test's
//! async runtime. The connection is the test server's superuser, which may
//! disable the append-only triggers as an attacker with that access could.

use rootvault::store::postgres::DatabaseUrl;
use rootvault::store::sql::{PgConnection, Row, Value};
use rootvault::store::{Conn, StoreError};
use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, ValueRef};

/// Where the service keeps its state.
pub enum TestDb {
    Sqlite(rusqlite::Connection),
    Postgres(DatabaseUrl),
}

/// A query prepared by [`TestDb::prepare`] (run when mapped).
pub struct Statement<'db> {
    db: &'db TestDb,
    sql: String,
}

/// Query parameters as rusqlite takes them: `[]`, `[a, b]` or `params![..]`.
pub trait Params {
    fn values(self) -> Vec<Value>;
}

fn value(param: &dyn ToSql) -> Value {
    let out = param.to_sql().unwrap();
    let borrowed = match &out {
        ToSqlOutput::Borrowed(v) => *v,
        ToSqlOutput::Owned(v) => ValueRef::from(v),
        _ => panic!("a parameter kind the tests do not use"),
    };
    sqlite_value(borrowed)
}

/// A neutral value as a parameter of rusqlite.
fn to_sqlite(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Null => rusqlite::types::Value::Null,
        Value::Integer(i) => rusqlite::types::Value::Integer(*i),
        Value::Text(t) => rusqlite::types::Value::Text(t.clone()),
        Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
    }
}

impl Params for [&(dyn ToSql + Send + Sync); 0] {
    fn values(self) -> Vec<Value> {
        Vec::new()
    }
}

/// `[a]`, `[a, b]`...: as many as the tests pass.
macro_rules! array_params {
    ($($n:literal)+) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn values(self) -> Vec<Value> {
                self.iter().map(|p| value(p)).collect()
            }
        }
    )+};
}
array_params!(1 2 3 4);

impl Params for &[&dyn ToSql] {
    fn values(self) -> Vec<Value> {
        self.iter().map(|p| value(*p)).collect()
    }
}

impl TestDb {
    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDb::Postgres(_))
    }

    /// Run `work` on a PostgreSQL connection of its own, off the runtime.
    fn on_postgres<T: Send>(
        url: &DatabaseUrl,
        work: impl FnOnce(&Conn) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut conn = PgConnection::new(rootvault::store::postgres::connect(url)?);
                work(&Conn::postgres(&mut conn))
            })
            .join()
            .unwrap()
        })
    }

    fn rows(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        match self {
            TestDb::Sqlite(db) => {
                let mut stmt = db.prepare(sql)?;
                let columns = stmt.column_count();
                let params: Vec<_> = params.iter().map(to_sqlite).collect();
                let params: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
                let mut rows = stmt.query(params.as_slice())?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let values = (0..columns)
                        .map(|i| Ok(sqlite_value(row.get_ref(i)?)))
                        .collect::<Result<_, rusqlite::Error>>()?;
                    out.push(Row::new(values));
                }
                Ok(out)
            }
            TestDb::Postgres(url) => Self::on_postgres(url, |c| c.query(sql, &params)),
        }
    }

    /// The first row, mapped by `f`; an error when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        f: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let rows = self.rows(sql, params.values())?;
        f(rows.first().ok_or_else(|| StoreError::Corrupt("the query returned no row".into()))?)
    }

    /// Run one statement; how many rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> Result<usize, StoreError> {
        let params = params.values();
        match self {
            TestDb::Sqlite(db) => {
                let params: Vec<_> = params.iter().map(to_sqlite).collect();
                let params: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
                Ok(db.execute(sql, params.as_slice())?)
            }
            TestDb::Postgres(url) => Self::on_postgres(url, |c| c.execute(sql, &params)),
        }
    }

    /// Run statements without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<(), StoreError> {
        match self {
            TestDb::Sqlite(db) => Ok(db.execute_batch(sql)?),
            TestDb::Postgres(url) => Self::on_postgres(url, |c| c.execute_batch(sql)),
        }
    }

    /// Switch off the triggers that keep the audit log and its checkpoints
    /// append-only, as an attacker with access to the database would.
    pub fn disable_append_only(&self) {
        self.execute_batch(if self.is_postgres() {
            "ALTER TABLE audit_events DISABLE TRIGGER USER; ALTER TABLE checkpoints DISABLE TRIGGER USER;"
        } else {
            "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;
             DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete;"
        })
        .unwrap();
    }

    /// Make every audit insert fail, as a full disk or a broken log would.
    pub fn break_audit_log(&self) {
        self.execute_batch(if self.is_postgres() {
            "CREATE FUNCTION audit_broken() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
             CREATE TRIGGER audit_broken BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_broken();"
        } else {
            "CREATE TRIGGER audit_broken BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END;"
        })
        .unwrap();
    }

    /// Undo [`Self::break_audit_log`].
    pub fn repair_audit_log(&self) {
        self.execute_batch(if self.is_postgres() {
            "DROP TRIGGER audit_broken ON audit_events; DROP FUNCTION audit_broken();"
        } else {
            "DROP TRIGGER audit_broken;"
        })
        .unwrap();
    }

    /// Every row of `sql` as text, its columns joined by `|` (blobs in
    /// hex), to compare whole tables.
    pub fn dump(&self, sql: &str) -> Vec<String> {
        let shown = |v: &Value| match v {
            Value::Null => "NULL".to_owned(),
            Value::Integer(i) => i.to_string(),
            Value::Text(t) => t.clone(),
            Value::Blob(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        };
        let rows = self.rows(sql, Vec::new()).unwrap();
        rows.iter().map(|r| r.values().iter().map(shown).collect::<Vec<_>>().join("|")).collect()
    }

    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>, StoreError> {
        Ok(Statement { db: self, sql: sql.to_owned() })
    }
}

impl Statement<'_> {
    /// Every row, mapped by `f`.
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        f: impl FnMut(&Row) -> Result<T, StoreError>,
    ) -> Result<std::vec::IntoIter<Result<T, StoreError>>, StoreError> {
        let rows = self.db.rows(&self.sql, params.values())?;
        Ok(rows.iter().map(f).collect::<Vec<_>>().into_iter())
    }
}

fn sqlite_value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Text(t) => Value::Text(String::from_utf8(t.to_vec()).unwrap()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        ValueRef::Real(_) => panic!("the store keeps no floating-point values"),
    }
}
