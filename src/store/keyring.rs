//! The `keyring` table: which key provider the data was written with and,
//! for the local provider, the sealed key ring.

use super::StoreError;
use super::sql::{Conn, params};
use crate::crypto::local::SealedKeyring;

/// What was recorded at `init`.
#[derive(Debug, Clone)]
pub struct KeyringRecord {
    pub provider: String,
    pub sealed: Option<SealedKeyring>,
}

pub fn load(conn: &Conn) -> Result<Option<KeyringRecord>, StoreError> {
    let row = conn.query_opt("SELECT provider, sealed FROM keyring WHERE id = 1", params![])?;
    row.map(|r| {
        let (provider, sealed): (String, Option<String>) = (r.get(0)?, r.get(1)?);
        let sealed = sealed
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|_| StoreError::Corrupt("keyring.sealed".into()))?;
        Ok(KeyringRecord { provider, sealed })
    })
    .transpose()
}

/// Record the key provider once; a second `init` is refused by the primary key.
pub fn save(conn: &Conn, record: &KeyringRecord, now: &str) -> Result<(), StoreError> {
    insert(conn, record, now, "")
}

/// Record the key provider unless one is recorded already (nodes of a
/// cluster starting together; the caller checks what stands).
pub fn save_if_absent(conn: &Conn, record: &KeyringRecord, now: &str) -> Result<(), StoreError> {
    insert(conn, record, now, " ON CONFLICT (id) DO NOTHING")
}

fn insert(conn: &Conn, record: &KeyringRecord, now: &str, on_conflict: &'static str) -> Result<(), StoreError> {
    let sealed = record
        .sealed
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|_| StoreError::Corrupt("keyring.sealed".into()))?;
    conn.execute(
        &format!("INSERT INTO keyring (id, provider, sealed, created_at) VALUES (1, ?1, ?2, ?3){on_conflict}"),
        params![record.provider, sealed, now],
    )?;
    Ok(())
}
