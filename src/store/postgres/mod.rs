//! PostgreSQL storage (DESIGN §17): its settings, connections, schema
//! migrations and the service role's privileges.
//!
//! The schema is SQLite's, translated (see `sql/0012_baseline.sql`): the
//! same tables, columns, constraints, indexes and triggers, so the same
//! queries run on both backends once their placeholders are rewritten.
//! docs/postgres.md is the operator's side of this module.

pub mod database_url;
pub mod grants;
pub mod migrations;
mod pool;
mod tls;

#[cfg(test)]
mod append_only_tests;
#[cfg(test)]
mod schema_tests;
#[cfg(test)]
mod scratch;

pub use self::database_url::{DatabaseUrl, TlsMode, UrlError};
pub use self::pool::{Pool, Pooled};
use super::StoreError;

/// The default size of a node's connection pool.
pub const DEFAULT_POOL_SIZE: u32 = 8;
/// The largest pool a node may ask for: several nodes share one server,
/// whose `max_connections` is 100 by default.
pub const MAX_POOL_SIZE: u32 = 64;

/// What `rootvault backup` (and `GET /v1/sys/backup`) answers on PostgreSQL.
pub const BACKUP_GUIDANCE: &str = "this service keeps its state in PostgreSQL, which `rootvault backup` does not copy: back it up with PostgreSQL's own tools (pg_dump, or pg_basebackup with WAL archiving for point-in-time recovery) or your provider's snapshots (such as Amazon RDS's); see docs/postgres.md";

/// What `rootvault restore` answers on PostgreSQL.
pub const RESTORE_GUIDANCE: &str = "this configuration keeps its state in PostgreSQL, which `rootvault restore` does not write: restore with PostgreSQL's own tools (pg_restore, or a base backup with point-in-time recovery) or your provider's snapshot restore, then check the log with `rootvault audit verify`; see docs/postgres.md";

/// `[storage] backend = "postgres"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresSettings {
    /// How `serve` connects: as the service role.
    pub url: DatabaseUrl,
    /// How `rootvault migrate` connects: as the schema's owner. When unset,
    /// one role owns and uses the schema, and `url` serves both.
    pub migration_url: Option<DatabaseUrl>,
    /// Connections each node keeps open (1 to `MAX_POOL_SIZE`).
    pub pool_size: u32,
}

impl PostgresSettings {
    /// The connection `rootvault migrate` uses.
    pub fn migration_url(&self) -> &DatabaseUrl {
        self.migration_url.as_ref().unwrap_or(&self.url)
    }
}

/// One connection (for `rootvault migrate` and other one-off tasks). Blocks:
/// call it outside the async runtime.
pub fn connect(url: &DatabaseUrl) -> Result<postgres::Client, StoreError> {
    Ok(url.config().connect(tls::connector(url.tls()))?)
}

/// One asynchronous connection (the HA lease loop's), its driver spawned
/// on the current runtime. The error is the client's, which never quotes
/// the URL or its password.
pub async fn connect_async(url: &DatabaseUrl) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = url.async_config().connect(tls::connector(url.tls())).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "a lease connection to the database ended");
        }
    });
    Ok(client)
}
