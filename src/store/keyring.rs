//! The `keyring` table: which key provider the data was written with and,
//! for the local provider, the sealed key ring.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::crypto::local::SealedKeyring;

/// What was recorded at `init`.
#[derive(Debug, Clone)]
pub struct KeyringRecord {
    pub provider: String,
    pub sealed: Option<SealedKeyring>,
}

pub fn load(conn: &Connection) -> Result<Option<KeyringRecord>, StoreError> {
    let row = conn
        .query_row("SELECT provider, sealed FROM keyring WHERE id = 1", [], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .optional()?;
    row.map(|(provider, sealed)| {
        let sealed = sealed
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|_| StoreError::Corrupt("keyring.sealed".into()))?;
        Ok(KeyringRecord { provider, sealed })
    })
    .transpose()
}

/// Record the key provider once; a second `init` is refused by the primary key.
pub fn save(conn: &Connection, record: &KeyringRecord, now: &str) -> Result<(), StoreError> {
    let sealed = record
        .sealed
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|_| StoreError::Corrupt("keyring.sealed".into()))?;
    conn.execute(
        "INSERT INTO keyring (id, provider, sealed, created_at) VALUES (1, ?1, ?2, ?3)",
        params![record.provider, sealed, now],
    )?;
    Ok(())
}
