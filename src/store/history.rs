//! The `password_history` table: argon2id hashes of an account's recent
//! passwords, for the no-reuse rule. Never plaintext.

use rusqlite::{Connection, Transaction, params};

use super::StoreError;
use crate::domain::ids::AccountId;
use crate::domain::password_policy::HISTORY_DEPTH;

/// The hashes of the most recent passwords, newest first.
pub fn recent(conn: &Connection, account: &AccountId) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT hash FROM password_history WHERE account_id = ?1 ORDER BY version DESC LIMIT ?2")?;
    let rows = stmt.query_map(params![account.as_str(), HISTORY_DEPTH], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Remember the hash of password `version` and forget what falls out of
/// the window (history is policy state, not audit: the audit log keeps the
/// fact of every change).
pub fn push(tx: &Transaction, account: &AccountId, version: u32, hash: &str, now: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO password_history (account_id, version, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![account.as_str(), version, hash, now],
    )?;
    tx.execute(
        "DELETE FROM password_history WHERE account_id = ?1 AND version NOT IN
            (SELECT version FROM password_history WHERE account_id = ?1 ORDER BY version DESC LIMIT ?2)",
        params![account.as_str(), HISTORY_DEPTH],
    )?;
    Ok(())
}
