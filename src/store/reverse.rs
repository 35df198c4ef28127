//! The `reverse_assumptions` table: one hand-back workflow per account.

use super::StoreError;
use super::sql::{Conn, params};
use crate::domain::ids::AccountId;
use crate::domain::reverse::ReverseAssumption;

/// A stored workflow with its hand-off link, if one was made.
#[derive(Debug, Clone)]
pub struct StoredReverse {
    pub workflow: ReverseAssumption,
    pub link_id_hash: Option<String>,
    /// The hand-off URL, sealed (a deliver URL carries the link's key).
    pub sealed_url: Option<Vec<u8>>,
}

pub fn load(conn: &Conn, account: &AccountId) -> Result<Option<StoredReverse>, StoreError> {
    let row = conn.query_opt(
        "SELECT body, link_id_hash, sealed_url FROM reverse_assumptions WHERE account_id = ?1",
        params![account.as_str()],
    )?;
    row.map(|r| {
        let workflow = serde_json::from_str(&r.get::<String>(0)?)
            .map_err(|_| StoreError::Corrupt("reverse_assumptions.body".into()))?;
        Ok(StoredReverse { workflow, link_id_hash: r.get(1)?, sealed_url: r.get(2)? })
    })
    .transpose()
}

pub fn save(tx: &Conn, account: &AccountId, stored: &StoredReverse) -> Result<(), StoreError> {
    let body = serde_json::to_string(&stored.workflow).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "INSERT INTO reverse_assumptions (account_id, body, link_id_hash, sealed_url) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (account_id) DO UPDATE SET body = ?2, link_id_hash = ?3, sealed_url = ?4",
        params![account.as_str(), body, stored.link_id_hash, stored.sealed_url],
    )?;
    Ok(())
}

/// Forget an account's hand-back record (a cancelled one, when the account
/// moves to another customer, who must not read the old one's signatory).
pub fn forget(tx: &Conn, account: &AccountId) -> Result<(), StoreError> {
    tx.execute("DELETE FROM reverse_assumptions WHERE account_id = ?1", params![account.as_str()])?;
    Ok(())
}
