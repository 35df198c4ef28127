//! The `exposures` table: who has seen which version of which half.

use rusqlite::{Connection, Transaction, params};

use super::StoreError;
use crate::domain::ids::{AccountId, Half, Principal};
use crate::domain::wall::Exposure;

/// How a principal came to see a half version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExposureKind {
    Deposited,
    Received,
    /// Made the collect link that produced the version.
    Collected,
    /// Saw an earlier version whose secret equals this one.
    Carried,
}

impl ExposureKind {
    fn as_str(self) -> &'static str {
        match self {
            ExposureKind::Deposited => "deposited",
            ExposureKind::Received => "received",
            ExposureKind::Collected => "collected",
            ExposureKind::Carried => "carried",
        }
    }
}

/// Every exposure on record for an account.
pub fn for_account(conn: &Connection, account: &AccountId) -> Result<Vec<Exposure>, StoreError> {
    let mut stmt = conn.prepare("SELECT DISTINCT principal, half, version FROM exposures WHERE account_id = ?1")?;
    let rows = stmt
        .query_map([account.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, u32>(2)?)))?;
    rows.map(|row| {
        let (principal, half, version) = row?;
        Ok(Exposure {
            principal: principal.parse().map_err(|_| StoreError::Corrupt("exposures.principal".into()))?,
            half: half.parse().map_err(|_| StoreError::Corrupt("exposures.half".into()))?,
            version,
        })
    })
    .collect()
}

/// Record that `who` saw `version` of `half`.
pub fn record(
    tx: &Transaction,
    account: &AccountId,
    who: &Principal,
    half: Half,
    version: u32,
    kind: ExposureKind,
    now: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR IGNORE INTO exposures (account_id, principal, half, version, kind, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![account.as_str(), who.to_string(), half.as_str(), version, kind.as_str(), now],
    )?;
    Ok(())
}
