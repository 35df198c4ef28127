//! The `links` table: one-time links, by the hash of their id.

use super::StoreError;
use super::sql::{Conn, Row, params};
use crate::domain::ids::{AccountId, Half};
use crate::domain::links::{LinkState, Purpose};

/// A stored link (never its id, never its key).
#[derive(Debug, Clone)]
pub struct StoredLink {
    pub id_hash: String,
    pub purpose: Purpose,
    pub account_id: AccountId,
    pub half: Half,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: i64,
    pub recipient_name: String,
    pub recipient_email: String,
    pub request_id: Option<String>,
    pub handoff: bool,
    pub ciphertext: Option<Vec<u8>>,
    pub passphrase_hash: Option<String>,
    pub attempts: u32,
    pub state: LinkState,
    pub used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// For collect links: the current version of the half when the link was
    /// made (`None` before any deposit); the link is void once it moves on.
    pub base_version: Option<u32>,
    /// For collect links: whether the maker held the admin role (the other
    /// way to qualify is being a custodian of the half).
    pub made_as_admin: bool,
}

pub fn insert(tx: &Conn, link: &StoredLink) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO links (id_hash, purpose, account_id, half, created_by, created_at, expires_at, recipient_name,
                            recipient_email, request_id, handoff, ciphertext, passphrase_hash, attempts, state,
                            base_version, made_as_admin)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, 'pending', ?14, ?15)",
        params![
            link.id_hash,
            link.purpose.as_str(),
            link.account_id.as_str(),
            link.half.as_str(),
            link.created_by,
            link.created_at,
            link.expires_at,
            link.recipient_name,
            link.recipient_email,
            link.request_id,
            link.handoff,
            link.ciphertext,
            link.passphrase_hash,
            link.base_version.unwrap_or(0),
            link.made_as_admin,
        ],
    )?;
    Ok(())
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("links.{what}"))
}

/// The columns [`from_row`] reads, in its order.
const COLUMNS: &str = "id_hash, purpose, account_id, half, created_by, created_at, expires_at, recipient_name,
                       recipient_email, request_id, handoff, ciphertext, passphrase_hash, attempts, state, used_at,
                       revoked_at, base_version, made_as_admin";

/// A link from a row of [`COLUMNS`].
fn from_row(r: &Row) -> Result<StoredLink, StoreError> {
    Ok(StoredLink {
        id_hash: r.get(0)?,
        purpose: match r.get::<String>(1)?.as_str() {
            "deliver" => Purpose::Deliver,
            "collect" => Purpose::Collect,
            _ => return Err(corrupt("purpose")),
        },
        account_id: r.get::<String>(2)?.parse().map_err(|_| corrupt("account_id"))?,
        half: r.get::<String>(3)?.parse().map_err(|_| corrupt("half"))?,
        created_by: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        recipient_name: r.get(7)?,
        recipient_email: r.get(8)?,
        request_id: r.get(9)?,
        handoff: r.get(10)?,
        ciphertext: r.get(11)?,
        passphrase_hash: r.get(12)?,
        attempts: r.get(13)?,
        state: LinkState::parse(&r.get::<String>(14)?).ok_or_else(|| corrupt("state"))?,
        used_at: r.get(15)?,
        revoked_at: r.get(16)?,
        // 0 is stored for "nothing deposited yet" (and NULL for deliver links).
        base_version: r.get::<Option<u32>>(17)?.filter(|v| *v > 0),
        made_as_admin: r.get(18)?,
    })
}

pub fn load(conn: &Conn, id_hash: &str) -> Result<Option<StoredLink>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM links WHERE id_hash = ?1");
    conn.query_opt(&sql, params![id_hash])?.map(|r| from_row(&r)).transpose()
}

/// The links `created_by` made, newest first, at most `limit`. Links made
/// in the same millisecond come in the order of their hashes.
pub fn by_creator(conn: &Conn, created_by: &str, limit: u32) -> Result<Vec<StoredLink>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM links WHERE created_by = ?1 ORDER BY created_at DESC, id_hash DESC LIMIT ?2");
    conn.query(&sql, params![created_by, limit])?.iter().map(from_row).collect()
}

/// Mark a pending link used and drop its ciphertext; false if it was not pending.
pub fn mark_used(tx: &Conn, id_hash: &str, now: &str) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE links SET state = 'opened', ciphertext = NULL, used_at = ?2 WHERE id_hash = ?1 AND state = 'pending'",
        params![id_hash, now],
    )? == 1)
}

/// Count one passphrase attempt before it is checked; `None` once `limit`
/// attempts were counted (or the link is no longer pending). Counting first,
/// in one conditional write, is what stops concurrent guesses from running
/// more checks than the limit allows.
pub fn count_passphrase_attempt(tx: &Conn, id_hash: &str, limit: u32) -> Result<Option<u32>, StoreError> {
    tx.query_opt(
        "UPDATE links SET attempts = attempts + 1
          WHERE id_hash = ?1 AND state = 'pending' AND attempts < ?2
      RETURNING attempts",
        params![id_hash, limit],
    )?
    .map(|r| r.get(0))
    .transpose()
}

/// After a wrong passphrase: burn the link (dropping its ciphertext) once
/// its attempts reached `limit`.
pub fn burn_if_spent(tx: &Conn, id_hash: &str, limit: u32) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE links SET state = 'burned', ciphertext = NULL WHERE id_hash = ?1 AND state = 'pending' AND attempts >= ?2",
        params![id_hash, limit],
    )?;
    Ok(())
}

/// Revoke a pending link; false if it was not pending.
pub fn revoke(tx: &Conn, id_hash: &str, now: &str) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE links SET state = 'revoked', ciphertext = NULL, revoked_at = ?2 WHERE id_hash = ?1 AND state = 'pending'",
        params![id_hash, now],
    )? == 1)
}

/// Revoke the pending collect links of one half of an account (its
/// custodians changed, so what their makers stood for no longer holds);
/// a hand-off's link belongs to the workflow and stays. Returns how many.
pub fn revoke_collect(tx: &Conn, account: &AccountId, half: Half, now: &str) -> Result<usize, StoreError> {
    tx.execute(
        "UPDATE links SET state = 'revoked', revoked_at = ?3
          WHERE account_id = ?1 AND half = ?2 AND purpose = 'collect' AND handoff = 0 AND state = 'pending'",
        params![account.as_str(), half.as_str(), now],
    )
}

/// Revoke every pending link of an account (when its custody ends).
pub fn revoke_all(tx: &Conn, account: &AccountId, now: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE links SET state = 'revoked', ciphertext = NULL, revoked_at = ?2 WHERE account_id = ?1 AND state = 'pending'",
        params![account.as_str(), now],
    )?;
    Ok(())
}
