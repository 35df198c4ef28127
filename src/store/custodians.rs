//! The `custodians` table: who may receive which half of which account.

use std::collections::BTreeSet;

use super::StoreError;
use super::sql::{Conn, params};
use crate::domain::custody::CustodianSets;
use crate::domain::ids::{AccountId, Half, OrgName, Principal};

/// Both custodian sets of an account.
pub fn load(conn: &Conn, account: &AccountId) -> Result<CustodianSets, StoreError> {
    let mut sets = CustodianSets::default();
    for row in conn.query("SELECT half, principal FROM custodians WHERE account_id = ?1", params![account.as_str()])? {
        let (half, principal): (String, String) = (row.get(0)?, row.get(1)?);
        let principal: Principal = principal.parse().map_err(|_| StoreError::Corrupt("custodians.principal".into()))?;
        match half.parse::<Half>().map_err(|_| StoreError::Corrupt("custodians.half".into()))? {
            Half::Password => sets.password.insert(principal),
            Half::Mfa => sets.mfa.insert(principal),
        };
    }
    Ok(sets)
}

/// Replace the custodian set of one half with `next`.
pub fn replace(
    tx: &Conn,
    account: &AccountId,
    half: Half,
    next: &BTreeSet<Principal>,
    by: &Principal,
    now: &str,
) -> Result<(), StoreError> {
    tx.execute("DELETE FROM custodians WHERE account_id = ?1 AND half = ?2", params![account.as_str(), half.as_str()])?;
    for principal in next {
        tx.execute(
            "INSERT INTO custodians (account_id, half, principal, assigned_at, assigned_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![account.as_str(), half.as_str(), principal.to_string(), now, by.to_string()],
        )?;
    }
    Ok(())
}

/// Remove every custodian of `org` from both halves of an account (the
/// account left that org); returns who was removed.
pub fn retire_org(tx: &Conn, account: &AccountId, org: &OrgName) -> Result<Vec<Principal>, StoreError> {
    let sets = load(tx, account)?;
    let mut retired: Vec<Principal> =
        sets.password.iter().chain(sets.mfa.iter()).filter(|p| p.org == *org).cloned().collect();
    retired.sort();
    retired.dedup();
    for principal in &retired {
        tx.execute(
            "DELETE FROM custodians WHERE account_id = ?1 AND principal = ?2",
            params![account.as_str(), principal.to_string()],
        )?;
    }
    Ok(retired)
}
