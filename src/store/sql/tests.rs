//! The handle on both engines: the same SQL, the same values back. The
//! PostgreSQL half runs against `ROOTVAULT_TEST_PG_URL` and is skipped,
//! with a notice, when that is not set.

use super::dialect::{Key, json_int, json_text, position, unix_seconds};
use super::{Conn, Value, params, scratch_database};
use crate::store::StoreError;

/// The table every test here works on, in each engine's types: integers
/// (and booleans as 0/1) BIGINT, text TEXT, blobs BYTEA.
const TABLE_SQLITE: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, body BLOB,
                                           flag INTEGER NOT NULL CHECK (flag IN (0, 1)), at TEXT, doc TEXT) STRICT";
const TABLE_POSTGRES: &str = "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, body BYTEA,
                                             flag BIGINT NOT NULL CHECK (flag IN (0, 1)), at TEXT, doc TEXT)";

/// Run `check` on an SQLite connection and, when a test server is
/// configured, on a PostgreSQL one, each holding the table `t`.
fn on_both(check: impl Fn(&Conn)) {
    let sqlite = rusqlite::Connection::open_in_memory().unwrap();
    let conn = Conn::sqlite(&sqlite);
    conn.execute_batch(TABLE_SQLITE).unwrap();
    check(&conn);
    if let Some(mut db) = scratch_database() {
        let conn = Conn::postgres(&mut db.conn);
        conn.execute_batch(TABLE_POSTGRES).unwrap();
        check(&conn);
    }
}

fn insert(conn: &Conn, id: i64, name: &str, body: Option<&[u8]>, flag: bool) -> Result<usize, StoreError> {
    conn.execute("INSERT INTO t (id, name, body, flag) VALUES (?1, ?2, ?3, ?4)", params![id, name, body, flag])
}

#[test]
fn values_of_every_kind_come_back_as_they_went_in() {
    on_both(|conn| {
        assert_eq!(insert(conn, 1, "one", Some(&[0, 1, 255]), true).unwrap(), 1);
        assert_eq!(insert(conn, i64::MAX, "max", None, false).unwrap(), 1);
        let rows = conn.query("SELECT id, name, body, flag FROM t ORDER BY id", params![]).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].get::<i64>(0).unwrap(), 1);
        assert_eq!(rows[0].get::<String>(1).unwrap(), "one");
        assert_eq!(rows[0].get::<Option<Vec<u8>>>(2).unwrap(), Some(vec![0, 1, 255]));
        assert!(rows[0].get::<bool>(3).unwrap());
        assert_eq!(rows[1].get::<u64>(0).unwrap(), i64::MAX as u64);
        assert_eq!(rows[1].get::<Option<Vec<u8>>>(2).unwrap(), None);
        assert!(!rows[1].get::<bool>(3).unwrap());
    });
}

#[test]
fn query_opt_and_query_one_say_when_there_is_no_row() {
    on_both(|conn| {
        assert_eq!(conn.query_opt("SELECT name FROM t WHERE id = ?1", params![7i64]).unwrap(), None);
        let missing = conn.query_one("SELECT name FROM t WHERE id = ?1", params![7i64]);
        assert!(matches!(missing, Err(StoreError::Corrupt(_))));
        let count: i64 = conn.query_one("SELECT COUNT(*) FROM t", params![]).unwrap().get(0).unwrap();
        assert_eq!(count, 0);
    });
}

#[test]
fn a_duplicate_is_a_constraint_violation_and_on_conflict_skips_it() {
    on_both(|conn| {
        insert(conn, 1, "one", None, false).unwrap();
        let duplicate = insert(conn, 2, "one", None, false).unwrap_err();
        assert!(duplicate.is_constraint(), "{duplicate}");
        // PostgreSQL aborts the transaction on a failed statement; outside
        // one, the next statement runs as if nothing happened.
        let skipped = conn
            .execute(
                "INSERT INTO t (id, name, flag) VALUES (?1, ?2, 0) ON CONFLICT (name) DO NOTHING",
                params![3i64, "one"],
            )
            .unwrap();
        assert_eq!(skipped, 0);
        let bad_flag =
            conn.execute("INSERT INTO t (id, name, flag) VALUES (4, 'four', ?1)", params![2i64]).unwrap_err();
        assert!(bad_flag.is_constraint(), "{bad_flag}");
    });
}

#[test]
fn returning_and_booleans_work_alike() {
    on_both(|conn| {
        insert(conn, 1, "one", None, false).unwrap();
        let flipped = conn
            .query_opt("UPDATE t SET flag = 1 WHERE id = ?1 AND flag = 0 RETURNING flag", params![1i64])
            .unwrap()
            .map(|r| r.get::<bool>(0).unwrap());
        assert_eq!(flipped, Some(true));
        let exists: bool =
            conn.query_one("SELECT EXISTS (SELECT 1 FROM t WHERE flag = 1)", params![]).unwrap().get(0).unwrap();
        assert!(exists);
        // A 0/1 parameter where PostgreSQL expects a boolean.
        let chosen: String =
            conn.query_one("SELECT CASE WHEN ?1 THEN 'yes' ELSE 'no' END", params![true]).unwrap().get(0).unwrap();
        assert_eq!(chosen, "yes");
    });
}

#[test]
fn a_placeholder_inside_a_string_literal_is_text() {
    on_both(|conn| {
        let row = conn.query_one("SELECT '?1', CAST(?1 AS TEXT) || 'x'", params!["a"]).unwrap();
        assert_eq!((row.get::<String>(0).unwrap(), row.get::<String>(1).unwrap()), ("?1".into(), "ax".into()));
    });
}

/// An optional filter tests its parameter for NULL through a CAST:
/// PostgreSQL cannot type a parameter from `?1 IS NULL` alone.
#[test]
fn optional_filters_with_null_parameters_work_alike() {
    on_both(|conn| {
        insert(conn, 1, "one", None, false).unwrap();
        insert(conn, 2, "two", None, true).unwrap();
        let sql = "SELECT id FROM t
                    WHERE (CAST(?1 AS TEXT) IS NULL OR name = ?1)
                      AND (CAST(?2 AS BIGINT) IS NULL OR (flag, id) < (?2, ?3))
                   ORDER BY id LIMIT ?4";
        let ids = |name: Option<&str>, after: Option<(i64, i64)>| -> Vec<i64> {
            let (flag, id) = after.unzip();
            conn.query(sql, params![name, flag, id, 10u32]).unwrap().iter().map(|r| r.get(0).unwrap()).collect()
        };
        assert_eq!(ids(None, None), [1, 2]);
        assert_eq!(ids(Some("two"), None), [2]);
        assert_eq!(ids(None, Some((1, 2))), [1]);
    });
}

#[test]
fn the_dialect_helpers_mean_the_same_on_both_engines() {
    on_both(|conn| {
        let d = conn.dialect();
        conn.execute(
            "INSERT INTO t (id, name, flag, at, doc) VALUES (1, 'one', 0, ?1, ?2)",
            params!["2026-03-01T12:34:56.789Z", r#"{"target":{"half":"password","n":42},"scope":{"acme":3}}"#],
        )
        .unwrap();
        let sql = format!(
            "SELECT {half}, {n}, {scoped}, {missing}, {seconds}, {found}, {absent} FROM t",
            half = json_text(d, "doc", &[Key::Name("target"), Key::Name("half")]),
            n = json_int(d, "doc", &[Key::Name("target"), Key::Name("n")]),
            scoped = json_int(d, "doc", &[Key::Name("scope"), Key::Param(1)]),
            missing = json_text(d, "doc", &[Key::Name("nothing")]),
            seconds = unix_seconds(d, "at"),
            found = position(d, "'b,'", "?2"),
            absent = position(d, "'z,'", "?2"),
        );
        let row = conn.query_one(&sql, params!["acme", "a,b,c"]).unwrap();
        assert_eq!(row.get::<String>(0).unwrap(), "password");
        assert_eq!(row.get::<i64>(1).unwrap(), 42);
        assert_eq!(row.get::<i64>(2).unwrap(), 3);
        assert_eq!(row.get::<Option<String>>(3).unwrap(), None);
        assert_eq!(row.get::<i64>(4).unwrap(), 1_772_368_496);
        assert_eq!((row.get::<i64>(5).unwrap(), row.get::<i64>(6).unwrap()), (3, 0));
    });
}

#[test]
fn postgres_refuses_a_parameter_of_the_wrong_kind_instead_of_converting_it() {
    let Some(mut db) = scratch_database() else { return };
    let conn = Conn::postgres(&mut db.conn);
    conn.execute_batch(TABLE_POSTGRES).unwrap();
    let text_for_integer = conn.query("SELECT name FROM t WHERE id = ?1", params!["1"]);
    assert!(matches!(text_for_integer, Err(StoreError::Parameter(_))), "{text_for_integer:?}");
    let blob_for_text = conn.query("SELECT id FROM t WHERE name = ?1", params![b"x".as_slice()]);
    assert!(matches!(blob_for_text, Err(StoreError::Parameter(_))));
    let too_few = conn.query("SELECT id FROM t WHERE id = ?1 AND name = ?2", params![1i64]);
    assert!(matches!(too_few, Err(StoreError::Parameter(_))));
    let unread_type = conn.query("SELECT now()", params![]);
    assert!(matches!(unread_type, Err(StoreError::Corrupt(_))));
}

#[test]
fn postgres_prepares_each_statement_once_per_connection() {
    let Some(mut db) = scratch_database() else { return };
    {
        let conn = Conn::postgres(&mut db.conn);
        conn.execute_batch(TABLE_POSTGRES).unwrap();
        for id in 1..=3i64 {
            conn.execute("INSERT INTO t (id, name, flag) VALUES (?1, ?2, 0)", params![id, id.to_string()]).unwrap();
        }
    }
    assert_eq!(db.conn.prepared(), 1);
}

#[test]
fn postgres_errors_do_not_show_the_values_of_the_row() {
    let Some(mut db) = scratch_database() else { return };
    let conn = Conn::postgres(&mut db.conn);
    conn.execute_batch(TABLE_POSTGRES).unwrap();
    let err = conn.execute("INSERT INTO t (id, name, flag) VALUES (1, ?1, 5)", params!["hunter2-secret"]).unwrap_err();
    assert!(err.is_constraint());
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(shown.contains("23514"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}

#[test]
fn the_values_sqlite_cannot_hold_as_the_store_writes_them_are_corrupt() {
    let sqlite = rusqlite::Connection::open_in_memory().unwrap();
    let conn = Conn::sqlite(&sqlite);
    assert!(matches!(conn.query("SELECT 1.5", params![]), Err(StoreError::Corrupt(_))));
    assert!(matches!(conn.query("SELECT CAST(x'ff' AS TEXT)", params![]), Err(StoreError::Corrupt(_))));
    assert_eq!(conn.query_one("SELECT ?1", params![Value::Null]).unwrap().get::<Option<i64>>(0).unwrap(), None);
}
