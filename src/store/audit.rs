//! Appending to the `audit_events` table.

use rusqlite::{Transaction, params};

use super::StoreError;
use crate::audit::{AuditEvent, EventDraft, Outcome};

/// Append one event inside `tx` and return it as stored. The caller commits
/// the event together with the change it records.
pub fn append(
    tx: &Transaction,
    draft: EventDraft,
    time: &str,
    outcome: Outcome,
    reason: Option<String>,
) -> Result<AuditEvent, StoreError> {
    let seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_events", [], |r| r.get(0))?;
    let event = draft.seal(u64::try_from(seq).unwrap_or(0), time, outcome, reason);
    let json = event.leaf_json().map_err(|e| StoreError::Corrupt(format!("event did not serialize: {e}")))?;
    tx.execute(
        "INSERT INTO audit_events (seq, time, actor, action, account_id, outcome, event_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![seq, time, event.actor, event.action, event.target.account_id, outcome.as_str(), json],
    )?;
    Ok(event)
}
