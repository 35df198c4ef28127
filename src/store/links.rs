//! The `links` table: one-time links, by the hash of their id.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;
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

pub fn insert(tx: &Transaction, link: &StoredLink) -> Result<(), StoreError> {
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

/// A row as read, before its text is checked.
type Raw = (
    (String, String, String, String),
    (String, String, i64, String),
    (String, Option<String>, bool),
    (Option<Vec<u8>>, Option<String>, u32),
    (String, Option<String>, Option<String>),
    (Option<u32>, bool),
);

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Raw> {
    Ok((
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?),
        (r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?),
        (r.get(8)?, r.get(9)?, r.get(10)?),
        (r.get(11)?, r.get(12)?, r.get(13)?),
        (r.get(14)?, r.get(15)?, r.get(16)?),
        (r.get(17)?, r.get(18)?),
    ))
}

fn checked(raw: Raw) -> Result<StoredLink, StoreError> {
    let (
        (id_hash, purpose, account, half),
        (created_by, created_at, expires_at, recipient_name),
        (recipient_email, request_id, handoff),
        (ciphertext, passphrase_hash, attempts),
        (state, used_at, revoked_at),
        (base_version, made_as_admin),
    ) = raw;
    Ok(StoredLink {
        id_hash,
        purpose: match purpose.as_str() {
            "deliver" => Purpose::Deliver,
            "collect" => Purpose::Collect,
            _ => return Err(corrupt("purpose")),
        },
        account_id: account.parse().map_err(|_| corrupt("account_id"))?,
        half: half.parse().map_err(|_| corrupt("half"))?,
        created_by,
        created_at,
        expires_at,
        recipient_name,
        recipient_email,
        request_id,
        handoff,
        ciphertext,
        passphrase_hash,
        attempts,
        state: LinkState::parse(&state).ok_or_else(|| corrupt("state"))?,
        used_at,
        revoked_at,
        // 0 is stored for "nothing deposited yet" (and NULL for deliver links).
        base_version: base_version.filter(|v| *v > 0),
        made_as_admin,
    })
}

pub fn load(conn: &Connection, id_hash: &str) -> Result<Option<StoredLink>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM links WHERE id_hash = ?1");
    conn.query_row(&sql, [id_hash], from_row).optional()?.map(checked).transpose()
}

/// The links `created_by` made, newest first, at most `limit`.
pub fn by_creator(conn: &Connection, created_by: &str, limit: u32) -> Result<Vec<StoredLink>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM links WHERE created_by = ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![created_by, limit], from_row)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter().map(checked).collect()
}

/// Mark a pending link used and drop its ciphertext; false if it was not pending.
pub fn mark_used(tx: &Transaction, id_hash: &str, now: &str) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE links SET state = 'opened', ciphertext = NULL, used_at = ?2 WHERE id_hash = ?1 AND state = 'pending'",
        params![id_hash, now],
    )? == 1)
}

/// Count one passphrase attempt before it is checked; `None` once `limit`
/// attempts were counted (or the link is no longer pending). Counting first,
/// in one conditional write, is what stops concurrent guesses from running
/// more checks than the limit allows.
pub fn count_passphrase_attempt(tx: &Transaction, id_hash: &str, limit: u32) -> Result<Option<u32>, StoreError> {
    let counted = tx
        .query_row(
            "UPDATE links SET attempts = attempts + 1
              WHERE id_hash = ?1 AND state = 'pending' AND attempts < ?2
          RETURNING attempts",
            params![id_hash, limit],
            |r| r.get(0),
        )
        .optional()?;
    Ok(counted)
}

/// After a wrong passphrase: burn the link (dropping its ciphertext) once
/// its attempts reached `limit`.
pub fn burn_if_spent(tx: &Transaction, id_hash: &str, limit: u32) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE links SET state = 'burned', ciphertext = NULL WHERE id_hash = ?1 AND state = 'pending' AND attempts >= ?2",
        params![id_hash, limit],
    )?;
    Ok(())
}

/// Revoke a pending link; false if it was not pending.
pub fn revoke(tx: &Transaction, id_hash: &str, now: &str) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE links SET state = 'revoked', ciphertext = NULL, revoked_at = ?2 WHERE id_hash = ?1 AND state = 'pending'",
        params![id_hash, now],
    )? == 1)
}

/// Revoke the pending collect links of one half of an account (its
/// custodians changed, so what their makers stood for no longer holds);
/// a hand-off's link belongs to the workflow and stays. Returns how many.
pub fn revoke_collect(tx: &Transaction, account: &AccountId, half: Half, now: &str) -> Result<usize, StoreError> {
    Ok(tx.execute(
        "UPDATE links SET state = 'revoked', revoked_at = ?3
          WHERE account_id = ?1 AND half = ?2 AND purpose = 'collect' AND handoff = 0 AND state = 'pending'",
        params![account.as_str(), half.as_str(), now],
    )?)
}

/// Revoke every pending link of an account (when its custody ends).
pub fn revoke_all(tx: &Transaction, account: &AccountId, now: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE links SET state = 'revoked', ciphertext = NULL, revoked_at = ?2 WHERE account_id = ?1 AND state = 'pending'",
        params![account.as_str(), now],
    )?;
    Ok(())
}
