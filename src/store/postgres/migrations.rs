//! Versioned schema migrations for PostgreSQL, the twins of SQLite's
//! (`crate::store::migrations`).
//!
//! PostgreSQL support begins at SQLite's schema version 12: the first
//! migration here creates that whole schema at once, and every later SQLite
//! migration N gets a twin here with the same number, so one number names one
//! schema on both backends (a test compares the two schemas and versions).
//! Applied versions are rows of `rootvault_migrations`. Each migration runs in
//! one transaction together with its row, under a transaction-scoped advisory
//! lock, so nodes that start together apply it once and a crash leaves the
//! previous version intact. Migrations are append-only: never edit one that
//! has shipped.

use postgres::{Client, GenericClient};

use crate::store::StoreError;

/// One step of the schema.
#[derive(Debug)]
struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration { version: 12, name: "baseline", sql: include_str!("sql/0012_baseline.sql") },
    Migration { version: 13, name: "outbox_seq", sql: include_str!("sql/0013_outbox_seq.sql") },
    Migration { version: 14, name: "ha_lease", sql: include_str!("sql/0014_ha_lease.sql") },
];

/// Tables only PostgreSQL has: the HA lease and the node list.
pub const POSTGRES_ONLY: [&str; 2] = ["ha_lease", "ha_nodes"];

/// The schema version this build runs on.
pub const LATEST: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// The table of applied versions (not part of the SQLite schema, which keeps
/// its version in `PRAGMA user_version`).
pub const VERSION_TABLE: &str = "rootvault_migrations";

const CREATE_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS rootvault_migrations (
    version    BIGINT PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";

/// The advisory lock taken by every migration transaction ("rootvaul").
const LOCK_KEY: i64 = 0x726f_6f74_7661_756c;

/// Where a database's schema stands against this build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaState {
    /// At this build's version: ready to serve.
    Current,
    /// Never migrated (`None`) or at an older version: `rootvault migrate`
    /// brings it up.
    Behind { found: Option<u32> },
    /// Written by a newer build: this one must not touch it.
    Ahead { found: u32 },
}

impl std::fmt::Display for SchemaState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchemaState::Current => write!(f, "the database schema is at version {LATEST}, as this build needs"),
            SchemaState::Behind { found: None } => write!(
                f,
                "the database has no rootvault schema yet: run `rootvault migrate --config FILE` (as the schema's owner)"
            ),
            SchemaState::Behind { found: Some(found) } => write!(
                f,
                "the database schema is at version {found}, this build needs {LATEST}: run `rootvault migrate --config FILE` (as the schema's owner)"
            ),
            SchemaState::Ahead { found } => write!(
                f,
                "the database schema (version {found}) is newer than this build knows ({LATEST}); run a newer rootvault"
            ),
        }
    }
}

/// The newest applied version, `None` when the database was never migrated.
pub fn version(client: &mut impl GenericClient) -> Result<Option<u32>, StoreError> {
    let exists: bool = client.query_one("SELECT to_regclass('rootvault_migrations') IS NOT NULL", &[])?.get(0);
    if !exists {
        return Ok(None);
    }
    let newest: Option<i64> = client.query_one("SELECT max(version) FROM rootvault_migrations", &[])?.get(0);
    newest
        .map(|v| u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("schema version {v} is out of range"))))
        .transpose()
}

/// Where the schema stands (for `serve`, which never migrates PostgreSQL:
/// its role may not, see docs/postgres.md).
pub fn state(client: &mut impl GenericClient) -> Result<SchemaState, StoreError> {
    Ok(match version(client)? {
        Some(found) if found == LATEST => SchemaState::Current,
        Some(found) if found > LATEST => SchemaState::Ahead { found },
        found => SchemaState::Behind { found },
    })
}

/// Bring the schema up to this build's version; refuse a newer one. Safe to
/// run again, and from several processes at once.
pub fn apply(client: &mut Client) -> Result<(), StoreError> {
    for migration in MIGRATIONS {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
        tx.batch_execute(CREATE_VERSION_TABLE)?;
        match state(&mut tx)? {
            ahead @ SchemaState::Ahead { .. } => return Err(StoreError::Corrupt(ahead.to_string())),
            SchemaState::Behind { found } if found.is_none_or(|v| v < migration.version) => {}
            // Already applied (by this process earlier, or by another node).
            _ => continue,
        }
        tx.batch_execute(migration.sql)?;
        tx.execute(
            "INSERT INTO rootvault_migrations (version, name) VALUES ($1, $2)",
            &[&i64::from(migration.version), &migration.name],
        )?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::postgres::scratch::ScratchDb;

    #[test]
    fn versions_follow_one_another_from_sqlites_twelfth() {
        assert_eq!(MIGRATIONS[0].version, 12);
        for pair in MIGRATIONS.windows(2) {
            assert_eq!(pair[1].version, pair[0].version + 1, "migration {} has no successor", pair[0].version);
        }
    }

    #[test]
    fn migrations_apply_once_and_again_change_nothing() {
        let Some(db) = ScratchDb::create() else { return };
        let mut client = db.connect();
        assert_eq!(state(&mut client).unwrap(), SchemaState::Behind { found: None });
        apply(&mut client).unwrap();
        assert_eq!(state(&mut client).unwrap(), SchemaState::Current);
        apply(&mut client).unwrap();
        let rows: i64 = client.query_one("SELECT count(*) FROM rootvault_migrations", &[]).unwrap().get(0);
        assert_eq!(rows, i64::try_from(MIGRATIONS.len()).unwrap());
    }

    #[test]
    fn nodes_migrating_at_once_apply_each_migration_once() {
        let Some(db) = ScratchDb::create() else { return };
        let nodes: Vec<_> = (0..3)
            .map(|_| {
                let mut client = db.connect();
                std::thread::spawn(move || apply(&mut client))
            })
            .collect();
        for node in nodes {
            node.join().unwrap().unwrap();
        }
        assert_eq!(version(&mut db.connect()).unwrap(), Some(LATEST));
    }

    #[test]
    fn a_schema_from_a_newer_build_is_refused() {
        let Some(db) = ScratchDb::create() else { return };
        let mut client = db.connect();
        apply(&mut client).unwrap();
        client
            .execute(
                "INSERT INTO rootvault_migrations (version, name) VALUES ($1, 'future')",
                &[&i64::from(LATEST + 1)],
            )
            .unwrap();
        assert_eq!(state(&mut client).unwrap(), SchemaState::Ahead { found: LATEST + 1 });
        let refused = apply(&mut client).unwrap_err().to_string();
        assert!(refused.contains("newer than this build"), "{refused}");
    }
}
