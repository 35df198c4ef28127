//! The `secret_fingerprints` table: a keyed fingerprint of each half
//! version's secret, so that a new version equal to an earlier one is
//! noticed without comparing (or keeping) secrets.
//!
//! A fingerprint is an HMAC under a key derived from the audit log key
//! (`crate::audit::log::LogKeys::fingerprint`), bound to the account and
//! half: without that key it confirms no guess, and it says nothing across
//! accounts. Fingerprints go with the secrets when custody ends.

use super::StoreError;
use super::sql::{Conn, params};
use crate::domain::ids::{AccountId, Half};

/// Record the fingerprint of `version` of `half`.
pub fn record(
    tx: &Conn,
    account: &AccountId,
    half: Half,
    version: u32,
    fingerprint: &[u8; 32],
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO secret_fingerprints (account_id, half, version, fingerprint) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (account_id, half, version) DO UPDATE SET fingerprint = excluded.fingerprint",
        params![account.as_str(), half.as_str(), version, fingerprint.as_slice()],
    )?;
    Ok(())
}

/// The versions of `half` whose secret has this fingerprint.
pub fn matching(conn: &Conn, account: &AccountId, half: Half, fingerprint: &[u8; 32]) -> Result<Vec<u32>, StoreError> {
    let rows = conn.query(
        "SELECT version FROM secret_fingerprints WHERE account_id = ?1 AND half = ?2 AND fingerprint = ?3
          ORDER BY version",
        params![account.as_str(), half.as_str(), fingerprint.as_slice()],
    )?;
    rows.iter().map(|r| r.get(0)).collect()
}

/// Stored versions of accounts still in custody that have no fingerprint
/// yet (written before fingerprints existed), oldest first.
pub fn missing(conn: &Conn) -> Result<Vec<(AccountId, Half, u32)>, StoreError> {
    let rows = conn.query(
        "SELECT v.account_id, v.half, v.version FROM half_versions v JOIN accounts a ON a.account_id = v.account_id
          WHERE a.status IN ('active', 'closed') AND length(v.wrapped_key) > 0
            AND NOT EXISTS (SELECT 1 FROM secret_fingerprints f
                             WHERE f.account_id = v.account_id AND f.half = v.half AND f.version = v.version)
          ORDER BY v.account_id, v.half, v.version",
        params![],
    )?;
    rows.iter()
        .map(|r| {
            Ok((
                r.get::<String>(0)?.parse().map_err(|_| StoreError::Corrupt("half_versions.account_id".into()))?,
                r.get::<String>(1)?.parse().map_err(|_| StoreError::Corrupt("half_versions.half".into()))?,
                r.get(2)?,
            ))
        })
        .collect()
}

/// Forget every fingerprint of an account (its custody ended).
pub fn forget(tx: &Conn, account: &AccountId) -> Result<(), StoreError> {
    tx.execute("DELETE FROM secret_fingerprints WHERE account_id = ?1", params![account.as_str()])?;
    Ok(())
}
