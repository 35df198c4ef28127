//! The `moves` table: DDI moves of accounts between customers, stored whole
//! as JSON with the columns needed to find them.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;
use crate::domain::ids::AccountId;
use crate::domain::moves::Move;

/// A stored move with its id and account.
#[derive(Debug, Clone)]
pub struct StoredMove {
    pub id: String,
    pub account_id: AccountId,
    pub record: Move,
}

fn body(record: &Move) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::Corrupt(format!("move did not serialize: {e}")))
}

fn parse((id, account, body): (String, String, String)) -> Result<StoredMove, StoreError> {
    Ok(StoredMove {
        id,
        account_id: account.parse().map_err(|_| StoreError::Corrupt("moves.account_id".into()))?,
        record: serde_json::from_str(&body).map_err(|_| StoreError::Corrupt("moves.body".into()))?,
    })
}

pub fn insert(tx: &Transaction, stored: &StoredMove) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO moves (id, account_id, state, created_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            stored.id,
            stored.account_id.as_str(),
            stored.record.state.as_str(),
            stored.record.requested_at,
            body(&stored.record)?
        ],
    )?;
    Ok(())
}

pub fn save(tx: &Transaction, stored: &StoredMove) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE moves SET state = ?2, body = ?3 WHERE id = ?1",
        params![stored.id, stored.record.state.as_str(), body(&stored.record)?],
    )?;
    Ok(())
}

pub fn load(conn: &Connection, id: &str) -> Result<Option<StoredMove>, StoreError> {
    conn.query_row("SELECT id, account_id, body FROM moves WHERE id = ?1", [id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
    .optional()?
    .map(parse)
    .transpose()
}

/// Every move of an account, oldest first.
pub fn for_account(conn: &Connection, account: &AccountId) -> Result<Vec<StoredMove>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT id, account_id, body FROM moves WHERE account_id = ?1 ORDER BY created_at, id")?;
    let rows = stmt.query_map([account.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.map(|row| parse(row?)).collect()
}

/// Whether the account has a move that may still happen.
pub fn has_open(conn: &Connection, account: &AccountId) -> Result<bool, StoreError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM moves WHERE account_id = ?1 AND state IN ('requested', 'confirmed'))",
        [account.as_str()],
        |r| r.get(0),
    )?)
}
