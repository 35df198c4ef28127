//! The `password_history` table: argon2id hashes of an account's recent
//! passwords, for the no-reuse rule. Never plaintext.

use super::StoreError;
use super::sql::{Conn, params};
use crate::domain::ids::AccountId;
use crate::domain::password_policy::HISTORY_DEPTH;

/// How many hashes are kept, as the integer SQL compares with.
const DEPTH: i64 = HISTORY_DEPTH as i64;

/// The hashes of the most recent passwords, newest first.
pub fn recent(conn: &Conn, account: &AccountId) -> Result<Vec<String>, StoreError> {
    let rows = conn.query(
        "SELECT hash FROM password_history WHERE account_id = ?1 ORDER BY version DESC LIMIT ?2",
        params![account.as_str(), DEPTH],
    )?;
    rows.iter().map(|r| r.get(0)).collect()
}

/// Remember the hash of password `version` and forget what falls out of
/// the window (history is policy state, not audit: the audit log keeps the
/// fact of every change).
pub fn push(tx: &Conn, account: &AccountId, version: u32, hash: &str, now: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO password_history (account_id, version, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![account.as_str(), version, hash, now],
    )?;
    tx.execute(
        "DELETE FROM password_history WHERE account_id = ?1 AND version NOT IN
            (SELECT version FROM password_history WHERE account_id = ?1 ORDER BY version DESC LIMIT ?2)",
        params![account.as_str(), DEPTH],
    )?;
    Ok(())
}
