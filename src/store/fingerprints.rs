//! The `secret_fingerprints` table: a keyed fingerprint of each half
//! version's secret, so that a new version equal to an earlier one is
//! noticed without comparing (or keeping) secrets.
//!
//! A fingerprint is an HMAC under a key derived from the audit log key
//! (`crate::audit::log::LogKeys::fingerprint`), bound to the account and
//! half: without that key it confirms no guess, and it says nothing across
//! accounts. Fingerprints go with the secrets when custody ends.

use rusqlite::{Connection, Transaction, params};

use super::StoreError;
use crate::domain::ids::{AccountId, Half};

/// Record the fingerprint of `version` of `half`.
pub fn record(
    tx: &Transaction,
    account: &AccountId,
    half: Half,
    version: u32,
    fingerprint: &[u8; 32],
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR REPLACE INTO secret_fingerprints (account_id, half, version, fingerprint) VALUES (?1, ?2, ?3, ?4)",
        params![account.as_str(), half.as_str(), version, fingerprint.as_slice()],
    )?;
    Ok(())
}

/// The versions of `half` whose secret has this fingerprint.
pub fn matching(
    conn: &Connection,
    account: &AccountId,
    half: Half,
    fingerprint: &[u8; 32],
) -> Result<Vec<u32>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT version FROM secret_fingerprints WHERE account_id = ?1 AND half = ?2 AND fingerprint = ?3
          ORDER BY version",
    )?;
    let rows = stmt.query_map(params![account.as_str(), half.as_str(), fingerprint.as_slice()], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Stored versions of accounts still in custody that have no fingerprint
/// yet (written before fingerprints existed), oldest first.
pub fn missing(conn: &Connection) -> Result<Vec<(AccountId, Half, u32)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT v.account_id, v.half, v.version FROM half_versions v JOIN accounts a ON a.account_id = v.account_id
          WHERE a.status IN ('active', 'closed') AND length(v.wrapped_key) > 0
            AND NOT EXISTS (SELECT 1 FROM secret_fingerprints f
                             WHERE f.account_id = v.account_id AND f.half = v.half AND f.version = v.version)
          ORDER BY v.account_id, v.half, v.version",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, u32>(2)?)))?;
    rows.map(|row| {
        let (account, half, version) = row?;
        Ok((
            account.parse().map_err(|_| StoreError::Corrupt("half_versions.account_id".into()))?,
            half.parse().map_err(|_| StoreError::Corrupt("half_versions.half".into()))?,
            version,
        ))
    })
    .collect()
}

/// Forget every fingerprint of an account (its custody ended).
pub fn forget(tx: &Transaction, account: &AccountId) -> Result<(), StoreError> {
    tx.execute("DELETE FROM secret_fingerprints WHERE account_id = ?1", [account.as_str()])?;
    Ok(())
}
