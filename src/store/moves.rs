//! The `moves` table: DDI moves of accounts between customers, stored whole
//! as JSON with the columns needed to find them.

use super::StoreError;
use super::sql::{Conn, Row, params};
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

/// A move from a row of `id, account_id, body`.
fn parse(r: &Row) -> Result<StoredMove, StoreError> {
    Ok(StoredMove {
        id: r.get(0)?,
        account_id: r.get::<String>(1)?.parse().map_err(|_| StoreError::Corrupt("moves.account_id".into()))?,
        record: serde_json::from_str(&r.get::<String>(2)?).map_err(|_| StoreError::Corrupt("moves.body".into()))?,
    })
}

pub fn insert(tx: &Conn, stored: &StoredMove) -> Result<(), StoreError> {
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

pub fn save(tx: &Conn, stored: &StoredMove) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE moves SET state = ?2, body = ?3 WHERE id = ?1",
        params![stored.id, stored.record.state.as_str(), body(&stored.record)?],
    )?;
    Ok(())
}

pub fn load(conn: &Conn, id: &str) -> Result<Option<StoredMove>, StoreError> {
    conn.query_opt("SELECT id, account_id, body FROM moves WHERE id = ?1", params![id])?.map(|r| parse(&r)).transpose()
}

/// Every move of an account, oldest first.
pub fn for_account(conn: &Conn, account: &AccountId) -> Result<Vec<StoredMove>, StoreError> {
    conn.query(
        "SELECT id, account_id, body FROM moves WHERE account_id = ?1 ORDER BY created_at, id",
        params![account.as_str()],
    )?
    .iter()
    .map(parse)
    .collect()
}

/// Whether the account has a move that may still happen.
pub fn has_open(conn: &Conn, account: &AccountId) -> Result<bool, StoreError> {
    conn.query_one(
        "SELECT EXISTS (SELECT 1 FROM moves WHERE account_id = ?1 AND state IN ('requested', 'confirmed'))",
        params![account.as_str()],
    )?
    .get(0)
}
