//! Scratch databases for `rootvault bench` on a PostgreSQL server the
//! operator names: each created empty (`rootvault_bench_<uuid>`) and
//! migrated, and dropped again with its connections when its handle goes,
//! whatever happened in between. The server's URL carries a password, so
//! it is held as a secret and shown only as `user@host:port/db (sslmode)`.
//!
//! Everything here blocks (the synchronous client runs a runtime of its
//! own): call it outside the bench's async runtime.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use crate::ha::fence::FenceState;
use crate::ha::{InstanceId, Term};
use crate::store::postgres::{self, DEFAULT_POOL_SIZE, DatabaseUrl, PostgresSettings, migrations};

/// The lease a cluster's active node holds (`crate::ha::lease`), taken by
/// hand for an hour under term 1: `$1` the holder's instance id.
const HOLD_LEASE_SQL: &str = "INSERT INTO ha_lease (id, holder, node, api_addr, term, acquired_at, expires_at) \
     VALUES (1, $1, 'bench', 'http://127.0.0.1:1', 1, clock_timestamp(), clock_timestamp() + interval '1 hour')";

/// A server on which the bench may create databases.
pub struct Server {
    /// As given, to derive each scratch database's URL from.
    raw: SecretString,
    /// The same, validated as the service validates its own.
    admin: DatabaseUrl,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Server").field(&self.admin.describe()).finish()
    }
}

impl Server {
    /// Check `raw` by the service's rules: TLS as `sslmode` says
    /// (`verify-full` by default), plaintext only to a loopback address.
    pub fn new(raw: &SecretString) -> anyhow::Result<Self> {
        let admin = DatabaseUrl::parse(raw.expose_secret(), Path::new("."), false)
            .map_err(|e| anyhow::anyhow!("--postgres-url {e}"))?;
        Ok(Self { raw: raw.clone(), admin })
    }

    /// `user@host:port/database (sslmode)`: no password.
    pub fn describe(&self) -> String {
        self.admin.describe()
    }

    fn connect(&self) -> anyhow::Result<::postgres::Client> {
        postgres::connect(&self.admin).with_context(|| format!("cannot connect to {}", self.describe()))
    }

    /// The server's version and its `fsync` setting (whether a commit is
    /// durable at all; `synchronous_commit` is the store writer's own, on).
    pub fn version_and_fsync(&self) -> anyhow::Result<(String, String)> {
        let mut client = self.connect()?;
        let version: String = client.query_one("SHOW server_version", &[])?.get(0);
        let fsync: String = client.query_one("SHOW fsync", &[])?.get(0);
        Ok((version, fsync))
    }

    /// The URL of database `name` on this server, as the same role.
    fn url_of(&self, name: &str) -> anyhow::Result<DatabaseUrl> {
        // The error would quote the URL: say which one instead.
        let mut url = url::Url::parse(self.raw.expose_secret())
            .map_err(|_| anyhow::anyhow!("--postgres-url must be a URL whose database the bench can replace"))?;
        url.set_path(&format!("/{name}"));
        DatabaseUrl::parse(url.as_str(), Path::new("."), false).map_err(|e| anyhow::anyhow!("--postgres-url {e}"))
    }

    /// A new, migrated database of the bench's own.
    pub fn create(&self) -> anyhow::Result<ScratchDatabase> {
        let name = format!("rootvault_bench_{}", uuid::Uuid::new_v4().simple());
        let url = self.url_of(&name)?;
        self.connect()?
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .with_context(|| format!("cannot create a scratch database on {}", self.describe()))?;
        // From here on, dropping the handle drops the database.
        let settings = PostgresSettings { url, migration_url: None, pool_size: DEFAULT_POOL_SIZE };
        let scratch = ScratchDatabase { admin: self.admin.clone(), name, settings };
        migrations::apply(&mut scratch.connect()?)?;
        Ok(scratch)
    }
}

/// A scratch database; dropped from the server when this goes.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin: DatabaseUrl,
    name: String,
    settings: PostgresSettings,
}

impl ScratchDatabase {
    /// The service's settings for it: the server's role, the default pool.
    pub fn settings(&self) -> &PostgresSettings {
        &self.settings
    }

    fn connect(&self) -> anyhow::Result<::postgres::Client> {
        postgres::connect(&self.settings.url)
            .with_context(|| format!("cannot connect to {}", self.settings.url.describe()))
    }

    /// Make this process the cluster's active node in this database, as the
    /// lease loop and the promotion gate leave it (`crate::ha`): the lease
    /// held under term 1, the fence armed for it. A store opened with the
    /// fence proves the lease in every write transaction.
    pub fn hold_lease(&self) -> anyhow::Result<Arc<FenceState>> {
        let fence = Arc::new(FenceState::new(InstanceId::random()));
        self.connect()?.execute(HOLD_LEASE_SQL, &[&fence.instance().as_str()])?;
        let term = Term::new(1);
        fence.set_leased(Some(term));
        anyhow::ensure!(fence.arm(term), "the fence would not arm for the lease just taken");
        Ok(fence)
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let dropped = postgres::connect(&self.admin)
            .map_err(anyhow::Error::from)
            .and_then(|mut c| Ok(c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))?));
        if let Err(e) = dropped {
            eprintln!("rootvault bench: could not drop the scratch database {}: {e:#}; drop it by hand", self.name);
        }
    }
}
