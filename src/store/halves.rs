//! The `halves` and `half_versions` tables: encrypted half versions and
//! which one is current.

use serde::Serialize;

use super::StoreError;
use super::sql::{Conn, Row, params};
use crate::crypto::WrappedKey;
use crate::domain::ids::{AccountId, Half};
use crate::domain::wall::CurrentVersions;

/// Where a half version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A custodian supplied the secret.
    Supplied,
    /// The service generated it by policy.
    Generated,
    /// A generated rotation candidate, confirmed by its custodian.
    Rotated,
    /// Submitted through a collect link.
    Link,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Supplied => "supplied",
            Source::Generated => "generated",
            Source::Rotated => "rotated",
            Source::Link => "link",
        }
    }
}

/// A new encrypted version, ready to store.
#[derive(Debug)]
pub struct NewVersion<'a> {
    pub account: &'a AccountId,
    pub half: Half,
    pub version: u32,
    pub ciphertext: &'a [u8],
    pub wrapped: &'a WrappedKey,
    pub source: Source,
    /// Who deposited it: `org/sub`, or `link:<hash>` for a collect link.
    pub by: &'a str,
    /// The Secrets Manager version holding the ciphertext, when it lives there.
    pub sm_version_id: Option<&'a str>,
}

/// Metadata of one stored version; never the secret.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub version: u32,
    pub state: String,
    pub source: String,
    pub key_id: String,
    pub created_at: String,
    pub created_by: String,
}

/// What `GET …/halves` shows of one half.
#[derive(Debug, Clone, Serialize)]
pub struct HalfStatus {
    pub half: Half,
    pub current_version: Option<u32>,
    pub rotation_due: bool,
    pub updated_at: Option<String>,
    pub versions: Vec<VersionInfo>,
}

/// The stored ciphertext of the current version of a half.
#[derive(Debug, Clone)]
pub struct StoredHalf {
    pub version: u32,
    /// Empty when the ciphertext lives in Secrets Manager.
    pub ciphertext: Vec<u8>,
    pub wrapped: WrappedKey,
    pub sm_version_id: Option<String>,
}

/// The current version of each half.
pub fn current_versions(conn: &Conn, account: &AccountId) -> Result<CurrentVersions, StoreError> {
    let rows =
        conn.query("SELECT half, current_version FROM halves WHERE account_id = ?1", params![account.as_str()])?;
    let mut current = CurrentVersions::default();
    for row in rows {
        let (half, version): (String, Option<u32>) = (row.get(0)?, row.get(1)?);
        match half.parse::<Half>().map_err(|_| StoreError::Corrupt("halves.half".into()))? {
            Half::Password => current.password = version,
            Half::Mfa => current.mfa = version,
        }
    }
    Ok(current)
}

/// The version number the next deposit of `half` will get.
pub fn next_version(conn: &Conn, account: &AccountId, half: Half) -> Result<u32, StoreError> {
    let max: Option<u32> = conn
        .query_one(
            "SELECT MAX(version) FROM half_versions WHERE account_id = ?1 AND half = ?2",
            params![account.as_str(), half.as_str()],
        )?
        .get(0)?;
    Ok(max.unwrap_or(0) + 1)
}

/// Store `new` as the current version of its half, superseding the old one.
/// Returns `false` (and writes nothing) if another version was stored since
/// `new.version` was chosen.
pub fn insert_current(tx: &Conn, new: &NewVersion, now: &str) -> Result<bool, StoreError> {
    if next_version(tx, new.account, new.half)? != new.version {
        return Ok(false);
    }
    let (account, half) = (new.account.as_str(), new.half.as_str());
    tx.execute(
        "UPDATE half_versions SET state = 'superseded' WHERE account_id = ?1 AND half = ?2 AND state = 'current'",
        params![account, half],
    )?;
    tx.execute(
        "INSERT INTO half_versions (account_id, half, version, state, ciphertext, wrapped_key, key_id, source,
                                    created_at, created_by, sm_version_id)
         VALUES (?1, ?2, ?3, 'current', ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            account,
            half,
            new.version,
            new.ciphertext,
            new.wrapped.blob,
            new.wrapped.key_id,
            new.source.as_str(),
            now,
            new.by,
            new.sm_version_id
        ],
    )?;
    tx.execute(
        "INSERT INTO halves (account_id, half, current_version, rotation_due, updated_at) VALUES (?1, ?2, ?3, 0, ?4)
         ON CONFLICT (account_id, half) DO UPDATE SET current_version = ?3, rotation_due = 0, updated_at = ?4",
        params![account, half, new.version, now],
    )?;
    Ok(true)
}

/// The ciphertext of the current version of `half`, if one was deposited.
pub fn load_current(conn: &Conn, account: &AccountId, half: Half) -> Result<Option<StoredHalf>, StoreError> {
    conn.query_opt(
        "SELECT v.version, v.ciphertext, v.wrapped_key, v.key_id, v.sm_version_id
           FROM halves h JOIN half_versions v
             ON v.account_id = h.account_id AND v.half = h.half AND v.version = h.current_version
          WHERE h.account_id = ?1 AND h.half = ?2",
        params![account.as_str(), half.as_str()],
    )?
    .map(|r| stored_half(&r))
    .transpose()
}

/// A `StoredHalf` from `version, ciphertext, wrapped_key, key_id, sm_version_id`.
fn stored_half(r: &Row) -> Result<StoredHalf, StoreError> {
    Ok(StoredHalf {
        version: r.get(0)?,
        ciphertext: r.get(1)?,
        wrapped: WrappedKey { blob: r.get(2)?, key_id: r.get(3)? },
        sm_version_id: r.get(4)?,
    })
}

/// The ciphertext of one stored version of `half` (empty once shredded).
pub fn load_version(
    conn: &Conn,
    account: &AccountId,
    half: Half,
    version: u32,
) -> Result<Option<StoredHalf>, StoreError> {
    conn.query_opt(
        "SELECT version, ciphertext, wrapped_key, key_id, sm_version_id FROM half_versions
          WHERE account_id = ?1 AND half = ?2 AND version = ?3",
        params![account.as_str(), half.as_str(), version],
    )?
    .map(|r| stored_half(&r))
    .transpose()
}

/// Metadata of both halves of an account, oldest version first.
pub fn status(conn: &Conn, account: &AccountId) -> Result<Vec<HalfStatus>, StoreError> {
    let mut out = Vec::with_capacity(2);
    for half in Half::BOTH {
        let head: Option<(Option<u32>, bool, String)> = conn
            .query_opt(
                "SELECT current_version, rotation_due, updated_at FROM halves WHERE account_id = ?1 AND half = ?2",
                params![account.as_str(), half.as_str()],
            )?
            .map(|r| Ok::<_, StoreError>((r.get(0)?, r.get(1)?, r.get(2)?)))
            .transpose()?;
        let versions = conn
            .query(
                "SELECT version, state, source, key_id, created_at, created_by FROM half_versions
                  WHERE account_id = ?1 AND half = ?2 ORDER BY version",
                params![account.as_str(), half.as_str()],
            )?
            .iter()
            .map(|r| {
                Ok(VersionInfo {
                    version: r.get(0)?,
                    state: r.get(1)?,
                    source: r.get(2)?,
                    key_id: r.get(3)?,
                    created_at: r.get(4)?,
                    created_by: r.get(5)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let (current_version, rotation_due, updated_at) = match head {
            Some((v, due, at)) => (v, due, Some(at)),
            None => (None, false, None),
        };
        out.push(HalfStatus { half, current_version, rotation_due, updated_at, versions });
    }
    Ok(out)
}

/// Destroy every stored version of one half (crypto-shredding, as when
/// custody ends, for one half only): the wrapped data keys and ciphertexts
/// are erased, its fingerprints and any pending rotation go, and the half
/// has no current version until the next deposit.
pub fn shred(tx: &Conn, account: &AccountId, half: Half, now: &str) -> Result<(), StoreError> {
    let (account, half) = (account.as_str(), half.as_str());
    tx.execute(
        "UPDATE half_versions SET wrapped_key = ?3, ciphertext = ?3, state = 'superseded'
          WHERE account_id = ?1 AND half = ?2",
        params![account, half, super::SHREDDED],
    )?;
    tx.execute(
        "UPDATE halves SET current_version = NULL, rotation_due = 0, updated_at = ?3 WHERE account_id = ?1 AND half = ?2",
        params![account, half, now],
    )?;
    tx.execute("DELETE FROM secret_fingerprints WHERE account_id = ?1 AND half = ?2", params![account, half])?;
    tx.execute("DELETE FROM pending_rotations WHERE account_id = ?1 AND half = ?2", params![account, half])?;
    Ok(())
}

/// Flag a half for rotation (after its password was released: invariant 7).
pub fn mark_rotation_due(tx: &Conn, account: &AccountId, half: Half, now: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE halves SET rotation_due = 1, updated_at = ?3 WHERE account_id = ?1 AND half = ?2",
        params![account.as_str(), half.as_str(), now],
    )?;
    Ok(())
}

/// A generated password waiting for its custodian to confirm it is set.
#[derive(Debug, Clone)]
pub struct PendingRotation {
    pub version: u32,
    pub ciphertext: Vec<u8>,
    pub wrapped: WrappedKey,
    pub history_hash: String,
    pub created_by: String,
    pub sm_version_id: Option<String>,
    /// The candidate's keyed fingerprint (absent on rows from before
    /// fingerprints existed).
    pub fingerprint: Option<[u8; 32]>,
}

/// Store (or replace) the pending rotation of an account's password.
pub fn put_pending(tx: &Conn, account: &AccountId, pending: &PendingRotation, now: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO pending_rotations
            (account_id, half, version, ciphertext, wrapped_key, key_id, history_hash, created_at, created_by, sm_version_id,
             fingerprint)
         VALUES (?1, 'password', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (account_id, half) DO UPDATE SET
            version = excluded.version, ciphertext = excluded.ciphertext, wrapped_key = excluded.wrapped_key,
            key_id = excluded.key_id, history_hash = excluded.history_hash, created_at = excluded.created_at,
            created_by = excluded.created_by, sm_version_id = excluded.sm_version_id,
            fingerprint = excluded.fingerprint",
        params![
            account.as_str(),
            pending.version,
            pending.ciphertext,
            pending.wrapped.blob,
            pending.wrapped.key_id,
            pending.history_hash,
            now,
            pending.created_by,
            pending.sm_version_id,
            pending.fingerprint.as_ref().map(<[u8; 32]>::as_slice)
        ],
    )?;
    Ok(())
}

/// Remove and return the pending rotation of an account's password.
pub fn take_pending(tx: &Conn, account: &AccountId) -> Result<Option<PendingRotation>, StoreError> {
    let pending = tx
        .query_opt(
            "SELECT version, ciphertext, wrapped_key, key_id, history_hash, created_by, sm_version_id, fingerprint
               FROM pending_rotations WHERE account_id = ?1 AND half = 'password'",
            params![account.as_str()],
        )?
        .map(|r| {
            Ok::<_, StoreError>(PendingRotation {
                version: r.get(0)?,
                ciphertext: r.get(1)?,
                wrapped: WrappedKey { blob: r.get(2)?, key_id: r.get(3)? },
                history_hash: r.get(4)?,
                created_by: r.get(5)?,
                sm_version_id: r.get(6)?,
                fingerprint: r.get::<Option<Vec<u8>>>(7)?.and_then(|f| f.try_into().ok()),
            })
        })
        .transpose()?;
    tx.execute("DELETE FROM pending_rotations WHERE account_id = ?1", params![account.as_str()])?;
    Ok(pending)
}
