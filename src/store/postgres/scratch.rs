//! Scratch databases for tests, on the server `ROOTVAULT_TEST_PG_URL` names
//! (`scripts/test` starts one on a loopback port and sets it). Without it the
//! PostgreSQL tests print a notice and pass without running.

use std::sync::atomic::{AtomicU32, Ordering};

use postgres::{Client, NoTls};

/// A database of its own for one test, dropped afterwards.
pub struct ScratchDb {
    admin: url::Url,
    pub name: String,
}

impl ScratchDb {
    /// A fresh, empty database, or `None` (with a notice) when no test server
    /// is configured.
    pub fn create() -> Option<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let Ok(admin) = std::env::var("ROOTVAULT_TEST_PG_URL") else {
            eprintln!("ROOTVAULT_TEST_PG_URL is not set: skipping a PostgreSQL test (scripts/test sets it)");
            return None;
        };
        let admin = url::Url::parse(&admin).unwrap();
        let name = format!("rv_unit_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        Client::connect(admin.as_str(), NoTls).unwrap().batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        Some(Self { admin, name })
    }

    /// The scratch database's URL, as `user` (the admin's by default; the
    /// test server trusts loopback connections), without TLS.
    pub fn url(&self, user: Option<&str>) -> String {
        let mut url = self.admin.clone();
        url.set_path(&self.name);
        url.set_query(Some("sslmode=disable"));
        if let Some(user) = user {
            url.set_username(user).unwrap();
            url.set_password(None).unwrap();
        }
        url.into()
    }

    /// A connection to the scratch database as the test server's admin.
    pub fn connect(&self) -> Client {
        Client::connect(&self.url(None), NoTls).unwrap()
    }

    /// A connection as `user`.
    pub fn connect_as(&self, user: &str) -> Client {
        Client::connect(&self.url(Some(user)), NoTls).unwrap()
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = Client::connect(self.admin.as_str(), NoTls) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}
