//! The `requests` table: break-glass requests, stored whole as JSON with the
//! columns needed to find them.

use super::StoreError;
use super::sql::dialect::{Key, json_text, position};
use super::sql::{Conn, Row, params};
use crate::domain::breakglass::{Request, State};
use crate::domain::ids::{AccountId, OrgName};

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

/// A request from a row of `id, account_id, body`.
fn parse(r: &Row) -> Result<StoredRequest, StoreError> {
    Ok(StoredRequest {
        id: r.get(0)?,
        account_id: r.get::<String>(1)?.parse().map_err(|_| StoreError::Corrupt("requests.account_id".into()))?,
        request: serde_json::from_str(&r.get::<String>(2)?).map_err(|_| StoreError::Corrupt("requests.body".into()))?,
    })
}

pub fn insert(tx: &Conn, id: &str, account: &AccountId, request: &Request) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO requests (id, account_id, state, created_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, account.as_str(), request.state.as_str(), request.created_at, body(request)?],
    )?;
    Ok(())
}

pub fn save(tx: &Conn, id: &str, request: &Request) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE requests SET state = ?2, body = ?3 WHERE id = ?1",
        params![id, request.state.as_str(), body(request)?],
    )?;
    Ok(())
}

pub fn load(conn: &Conn, id: &str) -> Result<Option<StoredRequest>, StoreError> {
    conn.query_opt("SELECT id, account_id, body FROM requests WHERE id = ?1", params![id])?
        .map(|r| parse(&r))
        .transpose()
}

/// Which requests one page of a listing holds. Visibility is part of the
/// query, so the limit counts only rows the caller may see.
#[derive(Debug, Clone, Copy)]
pub struct Listing<'a> {
    /// Only this account's requests.
    pub account: Option<&'a AccountId>,
    /// Only accounts this org is the customer of, and only requests made
    /// while it was (a customer does not see an earlier customer's requests
    /// after a DDI move); `None` for the provider, who is a party to every
    /// account.
    pub customer_org: Option<&'a OrgName>,
    /// Only these stored states; empty for any.
    pub states: &'a [State],
    /// Continue after this `(created_at, id)` of the previous page.
    pub after: Option<(i64, &'a str)>,
    pub limit: u32,
}

/// Where a listing stands: the `(created_at, id)` of a row.
pub type Position = (i64, String);

/// One page of requests, newest first, and the position to continue after
/// when the page was full.
pub fn list(conn: &Conn, q: Listing<'_>) -> Result<(Vec<StoredRequest>, Option<Position>), StoreError> {
    let states = q.states.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
    let d = conn.dialect();
    let sql = format!(
        "SELECT id, account_id, body, created_at FROM requests
          WHERE (CAST(?1 AS TEXT) IS NULL OR account_id = ?1)
            AND (CAST(?2 AS TEXT) IS NULL
                 OR (account_id IN (SELECT account_id FROM accounts WHERE customer_org = ?2)
                     AND COALESCE({customer_org}, ?2) = ?2))
            AND (?3 = '' OR {state_listed} > 0)
            AND (CAST(?4 AS BIGINT) IS NULL OR (created_at, id) < (?4, ?5))
          ORDER BY created_at DESC, id DESC LIMIT ?6",
        customer_org = json_text(d, "body", &[Key::Name("customer_org")]),
        state_listed = position(d, "',' || state || ','", "',' || ?3 || ','"),
    );
    let (after_at, after_id) = q.after.unzip();
    let rows = conn.query(
        &sql,
        params![
            q.account.map(AccountId::as_str),
            q.customer_org.map(OrgName::as_str),
            states,
            after_at,
            after_id,
            q.limit
        ],
    )?;
    let mut out = Vec::new();
    let mut last = None;
    for row in &rows {
        let stored = parse(row)?;
        last = Some((row.get::<i64>(3)?, stored.id.clone()));
        out.push(stored);
    }
    let next = if out.len() as u64 >= u64::from(q.limit) { last } else { None };
    Ok((out, next))
}

/// The open (pending or approved) requests of one account.
pub fn open_for_account(conn: &Conn, account: &AccountId) -> Result<Vec<StoredRequest>, StoreError> {
    conn.query(
        "SELECT id, account_id, body FROM requests WHERE account_id = ?1 AND state IN ('pending', 'approved')
          ORDER BY created_at, id",
        params![account.as_str()],
    )?
    .iter()
    .map(parse)
    .collect()
}

/// Requests that may have reached a deadline (pending or approved).
pub fn open(conn: &Conn) -> Result<Vec<StoredRequest>, StoreError> {
    conn.query(
        "SELECT id, account_id, body FROM requests WHERE state IN ('pending', 'approved') ORDER BY id",
        params![],
    )?
    .iter()
    .map(parse)
    .collect()
}
