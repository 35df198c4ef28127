//! The `exposures` table: who has seen which version of which half.

use super::StoreError;
use super::sql::{Conn, params};
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
pub fn for_account(conn: &Conn, account: &AccountId) -> Result<Vec<Exposure>, StoreError> {
    let rows = conn.query(
        "SELECT DISTINCT principal, half, version FROM exposures WHERE account_id = ?1",
        params![account.as_str()],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Exposure {
                principal: r
                    .get::<String>(0)?
                    .parse()
                    .map_err(|_| StoreError::Corrupt("exposures.principal".into()))?,
                half: r.get::<String>(1)?.parse().map_err(|_| StoreError::Corrupt("exposures.half".into()))?,
                version: r.get(2)?,
            })
        })
        .collect()
}

/// Record that `who` saw `version` of `half`.
pub fn record(
    tx: &Conn,
    account: &AccountId,
    who: &Principal,
    half: Half,
    version: u32,
    kind: ExposureKind,
    now: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO exposures (account_id, principal, half, version, kind, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT DO NOTHING",
        params![account.as_str(), who.to_string(), half.as_str(), version, kind.as_str(), now],
    )?;
    Ok(())
}
