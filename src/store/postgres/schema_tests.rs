//! The PostgreSQL schema is SQLite's: after both backends migrate, their
//! versions, tables, columns (type, nullability, default, key), indexes,
//! unique and foreign keys, CHECK constraints and triggers are compared. A
//! SQLite migration without its PostgreSQL twin fails here.

use std::collections::{BTreeMap, BTreeSet};

use super::grants::APPEND_ONLY;
use super::migrations::{self, LATEST, POSTGRES_ONLY, VERSION_TABLE};
use super::scratch::ScratchDb;
use crate::store::{Store, StoreError};

/// A column as both backends can describe it.
#[derive(Debug, PartialEq, Eq)]
struct Column {
    name: String,
    /// `bigint`, `text` or `bytea`.
    kind: String,
    not_null: bool,
    default: Option<String>,
    /// Position in the primary key (1-based), 0 when not part of it.
    key: i64,
}

/// An index made by `CREATE INDEX` (not one backing a constraint).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    name: String,
    table: String,
    columns: Vec<String>,
    unique: bool,
    partial: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Shape {
    version: u32,
    tables: BTreeMap<String, Vec<Column>>,
    indexes: BTreeSet<Index>,
    /// (table, columns) of each UNIQUE constraint.
    uniques: BTreeSet<(String, Vec<String>)>,
    /// (table, column, referenced table, referenced column).
    foreign_keys: BTreeSet<(String, String, String, String)>,
    /// How many CHECK constraints each table has.
    checks: BTreeMap<String, usize>,
    /// (trigger, table).
    triggers: BTreeSet<(String, String)>,
}

fn sqlite_shape() -> Shape {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store
        .blocking(|c| {
            let c = c.as_sqlite().ok_or(StoreError::SqliteOnly("reading the SQLite schema"))?;
            let strings = |sql: &str, args: &[&str]| -> Result<Vec<Vec<String>>, StoreError> {
                let mut stmt = c.prepare(sql)?;
                let width = stmt.column_count();
                let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
                    (0..width).map(|i| r.get::<_, rusqlite::types::Value>(i).map(sqlite_text)).collect()
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            };
            let mut shape =
                Shape { version: c.query_row("PRAGMA user_version", [], |r| r.get(0))?, ..Shape::default() };
            let tables =
                strings("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", &[])?;
            for table in tables {
                let (name, sql) = (&table[0], table[1].to_lowercase());
                let columns = strings(
                    "SELECT name, lower(type), \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid",
                    &[name],
                )?;
                let columns = columns
                    .into_iter()
                    .map(|c| Column {
                        name: c[0].clone(),
                        kind: match c[1].as_str() {
                            "integer" => "bigint".into(),
                            "blob" => "bytea".into(),
                            other => other.into(),
                        },
                        // A key column is never null (SQLite's lets a TEXT key be,
                        // a quirk no query relies on).
                        not_null: c[2] == "1" || c[4] != "0",
                        default: (!c[3].is_empty()).then(|| c[3].clone()),
                        key: c[4].parse().unwrap_or_default(),
                    })
                    .collect();
                shape.tables.insert(name.clone(), columns);
                shape.checks.insert(name.clone(), sql.matches("check (").count() + sql.matches("check(").count());
                for fk in strings("SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1)", &[name])? {
                    shape.foreign_keys.insert((name.clone(), fk[1].clone(), fk[0].clone(), fk[2].clone()));
                }
                for index in strings("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1)", &[name])? {
                    let columns: Vec<String> =
                        strings("SELECT name FROM pragma_index_info(?1) ORDER BY seqno", &[&index[0]])?
                            .into_iter()
                            .map(|r| r[0].clone())
                            .collect();
                    match index[2].as_str() {
                        "u" => {
                            shape.uniques.insert((name.clone(), columns));
                        }
                        "c" => {
                            shape.indexes.insert(Index {
                                name: index[0].clone(),
                                table: name.clone(),
                                columns,
                                unique: index[1] == "1",
                                partial: index[3] == "1",
                            });
                        }
                        _ => {} // the primary key, compared with the columns
                    }
                }
            }
            for trigger in strings("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'", &[])? {
                shape.triggers.insert((trigger[0].clone(), trigger[1].clone()));
            }
            Ok(shape)
        })
        .unwrap()
}

fn sqlite_text(value: rusqlite::types::Value) -> String {
    match value {
        rusqlite::types::Value::Null => String::new(),
        rusqlite::types::Value::Integer(i) => i.to_string(),
        rusqlite::types::Value::Text(t) => t,
        other => format!("{other:?}"),
    }
}

fn postgres_shape(client: &mut postgres::Client) -> Shape {
    let strings = |client: &mut postgres::Client, sql: &str| -> Vec<Vec<Option<String>>> {
        client.query(sql, &[]).unwrap().iter().map(|r| (0..r.len()).map(|i| r.get(i)).collect()).collect()
    };
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut shape = Shape { version: migrations::version(client).unwrap().unwrap(), ..Shape::default() };
    let columns = strings(
        client,
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text, c.is_nullable::text, c.column_default::text,
                (SELECT k.ord::text FROM pg_index ix CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum
                  WHERE ix.indrelid = quote_ident(c.table_name)::regclass AND ix.indisprimary
                    AND a.attname = c.column_name)
           FROM information_schema.columns c
          WHERE c.table_schema = current_schema()
          ORDER BY c.table_name, c.ordinal_position",
    );
    for c in columns {
        let table = text(&c[0]);
        if table == VERSION_TABLE || POSTGRES_ONLY.contains(&table.as_str()) {
            continue;
        }
        let key = c[5].as_deref().map_or(0, |p| p.parse::<i64>().unwrap_or_default());
        shape.tables.entry(table).or_default().push(Column {
            name: text(&c[1]),
            kind: text(&c[2]),
            not_null: c[3].as_deref() == Some("NO"),
            default: c[4].as_ref().map(|d| d.trim_end_matches("::text").to_owned()),
            key,
        });
    }
    let indexes = strings(
        client,
        "SELECT i.relname::text, t.relname::text, ix.indisunique::text, (ix.indpred IS NOT NULL)::text,
                (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum)
           FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
          WHERE t.relnamespace = current_schema()::regnamespace
            AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)",
    );
    for i in indexes {
        shape.indexes.insert(Index {
            name: text(&i[0]),
            table: text(&i[1]),
            columns: text(&i[4]).split(',').map(str::to_owned).collect(),
            unique: i[2].as_deref() == Some("true"),
            partial: i[3].as_deref() == Some("true"),
        });
    }
    let constraints = strings(
        client,
        "SELECT c.contype::text, t.relname::text,
                (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum),
                f.relname::text,
                (SELECT string_agg(a.attname, ',' ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum)
           FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid LEFT JOIN pg_class f ON f.oid = c.confrelid
          WHERE t.relnamespace = current_schema()::regnamespace",
    );
    for c in constraints {
        let table = text(&c[1]);
        match c[0].as_deref() {
            Some("u") => {
                shape.uniques.insert((table, text(&c[2]).split(',').map(str::to_owned).collect()));
            }
            Some("f") => {
                shape.foreign_keys.insert((table, text(&c[2]), text(&c[3]), text(&c[4])));
            }
            Some("c") => *shape.checks.entry(table).or_default() += 1,
            _ => {}
        }
    }
    for table in shape.tables.keys().cloned().collect::<Vec<_>>() {
        shape.checks.entry(table).or_default();
    }
    for t in strings(
        client,
        "SELECT tg.tgname::text, c.relname::text FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
          WHERE NOT tg.tgisinternal AND c.relnamespace = current_schema()::regnamespace",
    ) {
        shape.triggers.insert((text(&t[0]), text(&t[1])));
    }
    shape.checks.retain(|table, _| !POSTGRES_ONLY.contains(&table.as_str()));
    shape
}

#[test]
fn the_schema_is_sqlites_at_the_same_version() {
    let Some(db) = ScratchDb::create() else { return };
    let mut client = db.connect();
    migrations::apply(&mut client).unwrap();
    let mut sqlite = sqlite_shape();
    let postgres = postgres_shape(&mut client);
    assert_eq!(sqlite.version, LATEST, "SQLite has a migration without its PostgreSQL twin");
    // TRUNCATE skips row triggers; PostgreSQL's append-only tables refuse it too.
    for table in APPEND_ONLY {
        sqlite.triggers.insert((format!("{table}_no_truncate"), table.to_owned()));
    }
    assert_eq!(postgres.tables.keys().collect::<Vec<_>>(), sqlite.tables.keys().collect::<Vec<_>>());
    for (table, columns) in &sqlite.tables {
        assert_eq!(&postgres.tables[table], columns, "columns of {table}");
    }
    assert_eq!(postgres, sqlite);
}
