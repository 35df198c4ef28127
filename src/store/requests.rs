//! The `requests` table: break-glass requests, stored whole as JSON with the
//! columns needed to find them.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;
use crate::domain::breakglass::{Request, State};
use crate::domain::ids::AccountId;

/// A stored request with its id and account.
#[derive(Debug, Clone)]
pub struct StoredRequest {
    pub id: String,
    pub account_id: AccountId,
    pub request: Request,
}

fn body(request: &Request) -> Result<String, StoreError> {
    serde_json::to_string(request).map_err(|e| StoreError::Corrupt(format!("request did not serialize: {e}")))
}

fn parse(id: String, account: String, body: &str) -> Result<StoredRequest, StoreError> {
    Ok(StoredRequest {
        id,
        account_id: account.parse().map_err(|_| StoreError::Corrupt("requests.account_id".into()))?,
        request: serde_json::from_str(body).map_err(|_| StoreError::Corrupt("requests.body".into()))?,
    })
}

pub fn insert(tx: &Transaction, id: &str, account: &AccountId, request: &Request) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO requests (id, account_id, state, created_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, account.as_str(), request.state.as_str(), request.created_at, body(request)?],
    )?;
    Ok(())
}

pub fn save(tx: &Transaction, id: &str, request: &Request) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE requests SET state = ?2, body = ?3 WHERE id = ?1",
        params![id, request.state.as_str(), body(request)?],
    )?;
    Ok(())
}

pub fn load(conn: &Connection, id: &str) -> Result<Option<StoredRequest>, StoreError> {
    conn.query_row("SELECT id, account_id, body FROM requests WHERE id = ?1", [id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
    })
    .optional()?
    .map(|(id, account, body)| parse(id, account, &body))
    .transpose()
}

/// Requests, newest first, optionally for one account and in one state.
pub fn list(
    conn: &Connection,
    account: Option<&AccountId>,
    state: Option<State>,
    limit: u32,
) -> Result<Vec<StoredRequest>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, account_id, body FROM requests
          WHERE (?1 IS NULL OR account_id = ?1) AND (?2 IS NULL OR state = ?2)
          ORDER BY created_at DESC, id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![account.map(AccountId::as_str), state.map(State::as_str), limit], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
    })?;
    rows.map(|row| {
        let (id, account, body) = row?;
        parse(id, account, &body)
    })
    .collect()
}

/// Requests that may have reached a deadline (pending or approved).
pub fn open(conn: &Connection) -> Result<Vec<StoredRequest>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT id, account_id, body FROM requests WHERE state IN ('pending', 'approved') ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
    rows.map(|row| {
        let (id, account, body) = row?;
        parse(id, account, &body)
    })
    .collect()
}
