//! The `people` table: the e-mail address each person's identity provider
//! vouched for at their last sign-in, so that requesters and recipients
//! can be told about their own requests.

use super::StoreError;
use super::sql::{Conn, params};
use crate::domain::account::Email;
use crate::domain::ids::Principal;

/// Remember (or update) a person's address.
pub fn remember(tx: &Conn, who: &Principal, email: &Email, now: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO people (principal, email, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (principal) DO UPDATE SET email = excluded.email, updated_at = excluded.updated_at",
        params![who.to_string(), email.as_str(), now],
    )?;
    Ok(())
}

/// The address last seen for `who`, if any (and still well-formed).
pub fn email_of(conn: &Conn, who: &Principal) -> Result<Option<Email>, StoreError> {
    let stored: Option<String> = conn
        .query_opt("SELECT email FROM people WHERE principal = ?1", params![who.to_string()])?
        .map(|r| r.get(0))
        .transpose()?;
    Ok(stored.and_then(|e| e.parse().ok()))
}
