//! The `onboardings` table: one account's onboarding, once started. The
//! account's own `onboarding` column mirrors its state and is written in
//! the same statement sequence, so the two never disagree.

use super::StoreError;
use super::sql::{Conn, params};
use crate::domain::ids::AccountId;
use crate::domain::onboarding::Onboarding;

pub fn load(conn: &Conn, account: &AccountId) -> Result<Option<Onboarding>, StoreError> {
    let body: Option<String> = conn
        .query_opt("SELECT body FROM onboardings WHERE account_id = ?1", params![account.as_str()])?
        .map(|r| r.get(0))
        .transpose()?;
    body.map(|b| serde_json::from_str(&b).map_err(|_| StoreError::Corrupt("onboardings.body".into()))).transpose()
}

/// Store the onboarding and the account's onboarding state.
pub fn save(tx: &Conn, account: &AccountId, onboarding: &Onboarding) -> Result<(), StoreError> {
    let body = serde_json::to_string(onboarding).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "INSERT INTO onboardings (account_id, body) VALUES (?1, ?2)
         ON CONFLICT (account_id) DO UPDATE SET body = ?2",
        params![account.as_str(), body],
    )?;
    super::accounts::set_onboarding(tx, account, onboarding.state)
}
