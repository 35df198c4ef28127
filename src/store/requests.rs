//! The `requests` table: break-glass requests, stored whole as JSON with the
//! columns needed to find them.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;
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
pub fn list(conn: &Connection, q: Listing<'_>) -> Result<(Vec<StoredRequest>, Option<Position>), StoreError> {
    let states = q.states.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
    let mut stmt = conn.prepare(
        "SELECT id, account_id, body, created_at FROM requests
          WHERE (?1 IS NULL OR account_id = ?1)
            AND (?2 IS NULL OR (account_id IN (SELECT account_id FROM accounts WHERE customer_org = ?2)
                                AND COALESCE(json_extract(body, '$.customer_org'), ?2) = ?2))
            AND (?3 = '' OR instr(',' || ?3 || ',', ',' || state || ',') > 0)
            AND (?4 IS NULL OR (created_at, id) < (?4, ?5))
          ORDER BY created_at DESC, id DESC LIMIT ?6",
    )?;
    let (after_at, after_id) = q.after.unzip();
    let params = params![
        q.account.map(AccountId::as_str),
        q.customer_org.map(OrgName::as_str),
        states,
        after_at,
        after_id,
        q.limit
    ];
    let rows = stmt.query_map(params, |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
    })?;
    let mut out = Vec::new();
    let mut last = None;
    for row in rows {
        let (id, account, body, created_at) = row?;
        last = Some((created_at, id.clone()));
        out.push(parse(id, account, &body)?);
    }
    let next = if out.len() as u64 >= u64::from(q.limit) { last } else { None };
    Ok((out, next))
}

/// The open (pending or approved) requests of one account.
pub fn open_for_account(conn: &Connection, account: &AccountId) -> Result<Vec<StoredRequest>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, account_id, body FROM requests WHERE account_id = ?1 AND state IN ('pending', 'approved')
          ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([account.as_str()], |r| {
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
