//! The `audit_events`, `audit_scope`, `checkpoints` and `audit_key` tables.

use std::collections::BTreeMap;

use super::sql::{Conn, params};
use super::{Batch, StoreError};
use crate::audit::log::{StoredRow, may_lack_mac};
use crate::audit::merkle::{Hash, MerkleTree, leaf_hash};
use crate::audit::scope::orgs_of;
use crate::audit::{AuditEvent, EventDraft, Outcome};

/// Decide the event's scope: each org it belongs to, with that org's next
/// counter. The counters are read from `audit_scope` inside the same
/// transaction and savepoint that will hold the event, so a job that rolls
/// back takes its counters with it and the next event reuses them: they
/// stay dense whatever the group commit does.
fn scope_of(tx: &Conn, provider: &str, draft: &EventDraft) -> Result<BTreeMap<String, u64>, StoreError> {
    let account = match &draft.target.account_id {
        Some(id) => Some(
            tx.query_opt("SELECT customer_org FROM accounts WHERE account_id = ?1", params![id])?
                .map(|r| r.get::<Option<String>>(0))
                .transpose()?
                .flatten(),
        ),
        None => None,
    };
    let actor_org = draft.actor.as_ref().map(|p| p.org.as_str());
    let mut orgs = orgs_of(provider, account.as_ref().map(Option::as_deref), actor_org);
    orgs.extend(draft.former_customer.as_ref().map(ToString::to_string));
    let mut scope = BTreeMap::new();
    for org in orgs {
        let next: u64 =
            tx.query_one("SELECT COALESCE(MAX(n), 0) + 1 FROM audit_scope WHERE org = ?1", params![org])?.get(0)?;
        scope.insert(org, next);
    }
    Ok(scope)
}

/// Append one event inside the caller's batch and return it as stored. The
/// caller's change and this event commit together (or neither does). When
/// the log key is loaded the row carries its MAC. The event's scope is
/// decided here, once, and indexed in `audit_scope`.
pub fn append(
    batch: &mut Batch,
    draft: EventDraft,
    time: &str,
    outcome: Outcome,
    reason: Option<String>,
) -> Result<AuditEvent, StoreError> {
    let keys = batch.log().keys();
    let code = draft.details.get("code").and_then(|c| c.as_str());
    if keys.is_none() && !may_lack_mac(draft.action.as_str(), code) {
        // Once unsealed, every row must carry its MAC; this one cannot yet.
        return Err(StoreError::LogKeyMissing);
    }
    // Every change commits with its `ok` event (invariant 4), so refusing
    // the event here refuses the change on any path, workers included,
    // once the log was found altered.
    if outcome == Outcome::Ok && draft.action.changes_state() && batch.log().tampered().is_some() {
        return Err(StoreError::LogTampered);
    }
    let seq: u64 = batch.conn().query_one("SELECT COALESCE(MAX(seq) + 1, 0) FROM audit_events", params![])?.get(0)?;
    let provider = batch.log().provider().ok_or(StoreError::ProviderUnknown)?;
    let scope = scope_of(batch.conn(), &provider, &draft)?;
    let mut event = draft.seal(seq, time, outcome, reason);
    event.scope = scope;
    let json = event.leaf_json().map_err(|e| StoreError::Corrupt(format!("event did not serialize: {e}")))?;
    let leaf = leaf_hash(json.as_bytes());
    let mac = keys.map(|k| k.row_mac(seq, &leaf).to_vec());
    let macless = mac.is_none();
    batch.conn().execute(
        "INSERT INTO audit_events (seq, time, actor, action, account_id, outcome, event_json, mac)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![seq as i64, time, event.actor, event.action, event.target.account_id, outcome.as_str(), json, mac],
    )?;
    for (org, n) in &event.scope {
        batch.conn().execute(
            "INSERT INTO audit_scope (org, n, seq) VALUES (?1, ?2, ?3)",
            params![org, *n as i64, seq as i64],
        )?;
    }
    if macless {
        // Remembered so this process's own sealed-time rows pass the check
        // at unseal (a rolled-back row's seq is reused with a MAC later).
        batch.log().note_macless(seq);
    }
    batch.push_leaf(leaf);
    Ok(event)
}

/// How many events of `org` carry a counter among the first `size` events
/// of the log: the counter of its last such event (they are dense).
pub fn scope_count(conn: &Conn, org: &str, size: u64) -> Result<u64, StoreError> {
    let n = conn.query_opt(
        "SELECT n FROM audit_scope WHERE org = ?1 AND seq < ?2 AND n IS NOT NULL ORDER BY seq DESC LIMIT 1",
        params![org, size as i64],
    )?;
    Ok(n.map(|r| r.get(0)).transpose()?.unwrap_or(0))
}

/// Every stored row in `seq` order, for the integrity check.
pub fn rows(conn: &Conn) -> Result<Vec<StoredRow>, StoreError> {
    let rows = conn.query("SELECT seq, event_json, mac FROM audit_events ORDER BY seq", params![])?;
    rows.iter().map(|r| Ok(StoredRow { seq: r.get(0)?, event_json: r.get(1)?, mac: r.get(2)? })).collect()
}

/// The Merkle tree of the stored events, in `seq` order.
pub fn rebuild_tree(conn: &Conn) -> Result<MerkleTree, StoreError> {
    let mut tree = MerkleTree::default();
    for row in conn.query("SELECT event_json FROM audit_events ORDER BY seq", params![])? {
        let json: String = row.get(0)?;
        tree.push(leaf_hash(json.as_bytes()));
    }
    Ok(tree)
}

/// The newest checkpoint: its size and when it was signed (RFC 3339).
pub fn newest_checkpoint_time(conn: &Conn) -> Result<Option<(u64, String)>, StoreError> {
    conn.query_opt("SELECT size, created_at FROM checkpoints ORDER BY size DESC LIMIT 1", params![])?
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .transpose()
}

/// The newest checkpoint: its size and signed note.
pub fn latest_checkpoint(conn: &Conn) -> Result<Option<(u64, String)>, StoreError> {
    conn.query_opt("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1", params![])?
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .transpose()
}

/// The checkpoint of exactly `size`, if one was issued.
pub fn checkpoint_at(conn: &Conn, size: u64) -> Result<Option<String>, StoreError> {
    conn.query_opt("SELECT note FROM checkpoints WHERE size = ?1", params![size as i64])?.map(|r| r.get(0)).transpose()
}

/// Keep a signed checkpoint (the first one of a size wins).
pub fn store_checkpoint(conn: &Conn, size: u64, root: &Hash, note: &str, now: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO checkpoints (size, root, note, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        params![size as i64, root.as_slice(), note, now],
    )?;
    Ok(())
}

/// The wrapped audit log key and the key that wrapped it.
pub fn log_key(conn: &Conn) -> Result<Option<(Vec<u8>, String)>, StoreError> {
    conn.query_opt("SELECT wrapped, key_id FROM audit_key WHERE id = 1", params![])?
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .transpose()
}

/// Store the log key unless one is stored already (the first one stands).
pub fn store_log_key(conn: &Conn, wrapped: &[u8], key_id: &str, now: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit_key (id, wrapped, key_id, created_at) VALUES (1, ?1, ?2, ?3) ON CONFLICT (id) DO NOTHING",
        params![wrapped, key_id, now],
    )?;
    Ok(())
}

/// The recorded key boundary (the log size when the key came into being)
/// and its MAC; `None` for a key made before boundaries were recorded.
pub fn key_boundary(conn: &Conn) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    let Some(row) = conn.query_opt("SELECT boundary, boundary_mac FROM audit_key WHERE id = 1", params![])? else {
        return Ok(None);
    };
    Ok(row.get::<Option<u64>>(0)?.zip(row.get::<Option<Vec<u8>>>(1)?))
}

/// Record the key boundary once (it is never changed afterwards).
pub fn store_key_boundary(conn: &Conn, boundary: u64, mac: &[u8]) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE audit_key SET boundary = ?1, boundary_mac = ?2 WHERE id = 1 AND boundary IS NULL",
        params![boundary as i64, mac],
    )?;
    Ok(())
}

/// Every stored checkpoint's size, root and signed note, oldest first.
pub fn checkpoint_notes(conn: &Conn) -> Result<Vec<(u64, Hash, String)>, StoreError> {
    let rows = conn.query("SELECT size, root, note FROM checkpoints ORDER BY size", params![])?;
    rows.iter()
        .map(|r| {
            let root: Hash =
                r.get::<Vec<u8>>(1)?.try_into().map_err(|_| StoreError::Corrupt("checkpoints.root".into()))?;
            Ok((r.get(0)?, root, r.get(2)?))
        })
        .collect()
}
