//! The `people` table: the e-mail address each person's identity provider
//! vouched for at their last sign-in, so that requesters and recipients
//! can be told about their own requests.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;
use crate::domain::account::Email;
use crate::domain::ids::Principal;

/// Remember (or update) a person's address.
pub fn remember(tx: &Transaction, who: &Principal, email: &Email, now: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO people (principal, email, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (principal) DO UPDATE SET email = excluded.email, updated_at = excluded.updated_at",
        params![who.to_string(), email.as_str(), now],
    )?;
    Ok(())
}

/// The address last seen for `who`, if any (and still well-formed).
pub fn email_of(conn: &Connection, who: &Principal) -> Result<Option<Email>, StoreError> {
    let stored: Option<String> =
        conn.query_row("SELECT email FROM people WHERE principal = ?1", [who.to_string()], |r| r.get(0)).optional()?;
    Ok(stored.and_then(|e| e.parse().ok()))
}
