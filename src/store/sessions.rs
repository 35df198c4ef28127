//! The sign-in tables: sessions (by the hash of their id), sign-ins
//! waiting for the identity provider, one-time CLI codes, and the
//! service's own wrapped keys.

use super::StoreError;
use super::sql::{Conn, params};
use crate::domain::ids::{Principal, Role};
use crate::domain::session::SessionTimes;

/// How long a sign-in may wait for the identity provider's answer.
pub const PENDING_TTL_SECONDS: i64 = 600;
/// Ended or expired sessions are kept this long for investigation, then
/// pruned (their events stay in the audit log).
const SESSION_HISTORY_SECONDS: i64 = 30 * 86_400;

/// Whether a session belongs to a browser or to `rootvault login`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Console,
    Cli,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Console => "console",
            SessionKind::Cli => "cli",
        }
    }
}

/// Who signed in, as the identity provider vouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub principal: Principal,
    pub roles: Vec<Role>,
    pub display: Option<String>,
    /// When the person authenticated at the provider (Unix seconds).
    pub auth_time: i64,
}

/// A stored session (never its id).
#[derive(Debug, Clone)]
pub struct StoredSession {
    pub kind: SessionKind,
    pub identity: Identity,
    pub created_at: i64,
    pub times: SessionTimes,
}

fn roles_json(roles: &[Role]) -> String {
    serde_json::Value::from(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()).to_string()
}

fn identity_of(
    principal: String,
    roles: String,
    display: Option<String>,
    auth_time: i64,
) -> Result<Identity, StoreError> {
    let principal = principal.parse().map_err(|_| StoreError::Corrupt("a session's principal".into()))?;
    let names: Vec<String> =
        serde_json::from_str(&roles).map_err(|_| StoreError::Corrupt("a session's roles".into()))?;
    let roles = names.iter().filter_map(|n| n.parse().ok()).collect();
    Ok(Identity { principal, roles, display, auth_time })
}

pub fn insert_session(
    tx: &Conn,
    id_hash: &str,
    kind: SessionKind,
    who: &Identity,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM sessions WHERE coalesce(ended_at, expires_at) < ?1",
        params![now - SESSION_HISTORY_SECONDS],
    )?;
    tx.execute(
        "INSERT INTO sessions (id_hash, kind, principal, roles, display, auth_time, created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
        params![
            id_hash,
            kind.as_str(),
            who.principal.to_string(),
            roles_json(&who.roles),
            who.display,
            who.auth_time,
            now,
            expires_at
        ],
    )?;
    Ok(())
}

pub fn session(conn: &Conn, id_hash: &str) -> Result<Option<StoredSession>, StoreError> {
    let row = conn.query_opt(
        "SELECT kind, principal, roles, display, auth_time, created_at, last_seen_at, expires_at, ended_at
           FROM sessions WHERE id_hash = ?1",
        params![id_hash],
    )?;
    let Some(r) = row else { return Ok(None) };
    let (principal, roles, display, auth_time, created_at) = (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
    let times = SessionTimes { last_seen_at: r.get(6)?, expires_at: r.get(7)?, ended_at: r.get(8)? };
    let kind = match r.get::<String>(0)?.as_str() {
        "console" => SessionKind::Console,
        "cli" => SessionKind::Cli,
        _ => return Err(StoreError::Corrupt("a session's kind".into())),
    };
    Ok(Some(StoredSession { kind, identity: identity_of(principal, roles, display, auth_time)?, created_at, times }))
}

/// Note a session's use (callers throttle this to about once a minute).
pub fn touch(tx: &Conn, id_hash: &str, now: i64) -> Result<(), StoreError> {
    tx.execute("UPDATE sessions SET last_seen_at = ?2 WHERE id_hash = ?1 AND ended_at IS NULL", params![id_hash, now])?;
    Ok(())
}

/// End a session; false if it was unknown or had already ended.
pub fn end(tx: &Conn, id_hash: &str, now: i64, reason: &str) -> Result<bool, StoreError> {
    let changed = tx.execute(
        "UPDATE sessions SET ended_at = ?2, end_reason = ?3 WHERE id_hash = ?1 AND ended_at IS NULL",
        params![id_hash, now, reason],
    )?;
    Ok(changed == 1)
}

/// A sign-in waiting for the identity provider's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignin {
    /// SHA-256 of the secret in the browser's `rv_login` cookie.
    pub browser_hash: String,
    pub org: String,
    pub nonce: String,
    pub return_to: String,
    pub max_age: Option<i64>,
    /// For `rootvault login`: where and how to hand over the result.
    pub cli: Option<CliContinuation>,
    pub created_at: i64,
}

/// What `rootvault login` asked for when it started.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CliContinuation {
    pub port: u16,
    pub state: String,
    pub code_challenge: String,
}

pub fn insert_pending(tx: &Conn, state_hash: &str, pending: &PendingSignin) -> Result<(), StoreError> {
    tx.execute("DELETE FROM signin_pending WHERE created_at < ?1", params![pending.created_at - PENDING_TTL_SECONDS])?;
    let cli = pending
        .cli
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("a CLI continuation did not serialise: {e}")))?;
    tx.execute(
        "INSERT INTO signin_pending (state_hash, browser_hash, org, nonce, return_to, max_age, cli, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            state_hash,
            pending.browser_hash,
            pending.org,
            pending.nonce,
            pending.return_to,
            pending.max_age,
            cli,
            pending.created_at
        ],
    )?;
    Ok(())
}

/// Take a pending sign-in out (it works once, used or not).
pub fn take_pending(tx: &Conn, state_hash: &str) -> Result<Option<PendingSignin>, StoreError> {
    let row = tx.query_opt(
        "DELETE FROM signin_pending WHERE state_hash = ?1
         RETURNING browser_hash, org, nonce, return_to, max_age, cli, created_at",
        params![state_hash],
    )?;
    let Some(r) = row else { return Ok(None) };
    let (browser_hash, org, nonce, return_to, max_age, created_at) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(6)?);
    let cli = r
        .get::<Option<String>>(5)?
        .map(|c| serde_json::from_str(&c))
        .transpose()
        .map_err(|_| StoreError::Corrupt("a pending sign-in's CLI continuation".into()))?;
    Ok(Some(PendingSignin { browser_hash, org, nonce, return_to, max_age, cli, created_at }))
}

/// A one-time code for `rootvault login`, bound to its PKCE challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliCode {
    pub identity: Identity,
    pub code_challenge: String,
    pub expires_at: i64,
}

pub fn insert_code(tx: &Conn, code_hash: &str, code: &CliCode, now: i64) -> Result<(), StoreError> {
    tx.execute("DELETE FROM cli_codes WHERE expires_at < ?1", params![now])?;
    let who = &code.identity;
    tx.execute(
        "INSERT INTO cli_codes (code_hash, principal, roles, display, auth_time, challenge, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            code_hash,
            who.principal.to_string(),
            roles_json(&who.roles),
            who.display,
            who.auth_time,
            code.code_challenge,
            code.expires_at
        ],
    )?;
    Ok(())
}

/// Take a code out (it works once, whatever the outcome).
pub fn take_code(tx: &Conn, code_hash: &str) -> Result<Option<CliCode>, StoreError> {
    let row = tx.query_opt(
        "DELETE FROM cli_codes WHERE code_hash = ?1
         RETURNING principal, roles, display, auth_time, challenge, expires_at",
        params![code_hash],
    )?;
    let Some(r) = row else { return Ok(None) };
    let identity = identity_of(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)?;
    Ok(Some(CliCode { identity, code_challenge: r.get(4)?, expires_at: r.get(5)? }))
}

/// A wrapped key of the service's own, by name.
pub fn service_key(conn: &Conn, name: &str) -> Result<Option<(Vec<u8>, String)>, StoreError> {
    conn.query_opt("SELECT blob, key_id FROM service_keys WHERE name = ?1", params![name])?
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .transpose()
}

pub fn store_service_key(tx: &Conn, name: &str, blob: &[u8], key_id: &str, now: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO service_keys (name, blob, key_id, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING",
        params![name, blob, key_id, now],
    )?;
    Ok(())
}
