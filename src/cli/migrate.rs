//! `rootvault migrate`: bring a PostgreSQL schema up to this build's version
//! as the schema's owner, then grant the service role what it needs
//! (docs/postgres.md). `serve` never migrates PostgreSQL; SQLite is migrated
//! by `serve` itself, so there is nothing to do for it here.

use std::path::Path;

use anyhow::Context;

use crate::config::{Config, ProcessEnv, StorageConfig};
use crate::store::postgres::{self, grants, migrations};

pub fn run(config: &Path) -> anyhow::Result<()> {
    let config = Config::load(config, &ProcessEnv)?;
    let StorageConfig::Postgres(settings) = &config.storage else {
        println!("nothing to do: SQLite is migrated by `rootvault serve` when it starts");
        return Ok(());
    };
    let owner = settings.migration_url();
    let mut client = postgres::connect(owner).with_context(|| format!("cannot connect to {}", owner.describe()))?;
    let before = migrations::version(&mut client)?;
    migrations::apply(&mut client)?;
    match before {
        Some(version) if version == migrations::LATEST => {
            println!("the schema is at version {version} already");
        }
        Some(version) => println!("migrated the schema from version {version} to {}", migrations::LATEST),
        None => println!("created the schema at version {}", migrations::LATEST),
    }
    let service = settings.url.user();
    if service != owner.user() {
        grants::grant_service(&mut client, service)?;
        println!("granted {service} its privileges (INSERT and SELECT only on the audit tables)");
    }
    Ok(())
}
