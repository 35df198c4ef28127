//! The `announcements` table: events waiting to be routed to people.
//!
//! An announcement is written in the transaction of the event it tells of;
//! the notifier later turns it into e-mail and chat deliveries in the
//! outbox and marks it routed, in one transaction, so each is routed once.

use super::StoreError;
use super::sql::{Conn, params};
use crate::domain::ids::AccountId;

/// An event not yet routed.
#[derive(Debug, Clone)]
pub struct Unrouted {
    pub id: String,
    pub event: String,
    pub account_id: String,
    pub payload: String,
}

/// The id is a UUIDv7: ordered by time, so each insert lands at the end of
/// the id index instead of on a random page of it (fewer pages to write per
/// commit), and it breaks `created_at` ties in the order of writing.
pub fn announce(tx: &Conn, account: &AccountId, event: &str, payload: &str, now: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO announcements (id, event, account_id, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![uuid::Uuid::now_v7().to_string(), event, account.as_str(), payload, now],
    )?;
    Ok(())
}

/// The oldest announcements not yet routed.
pub fn unrouted(conn: &Conn, limit: u32) -> Result<Vec<Unrouted>, StoreError> {
    let rows = conn.query(
        "SELECT id, event, account_id, payload FROM announcements WHERE routed_at IS NULL
          ORDER BY created_at, id LIMIT ?1",
        params![limit],
    )?;
    rows.iter()
        .map(|r| Ok(Unrouted { id: r.get(0)?, event: r.get(1)?, account_id: r.get(2)?, payload: r.get(3)? }))
        .collect()
}

/// Mark an announcement routed; false if another worker got there first.
pub fn mark_routed(tx: &Conn, id: &str, now: &str) -> Result<bool, StoreError> {
    let changed =
        tx.execute("UPDATE announcements SET routed_at = ?2 WHERE id = ?1 AND routed_at IS NULL", params![id, now])?;
    Ok(changed == 1)
}
