//! The audit log for auditors: the log key, integrity check, checkpoints,
//! proofs, scoped event streams and verifiable export bundles (DESIGN §7).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{Vault, now_rfc3339, require_role};
use crate::audit::bundle::{BUNDLE_FORMAT, Bundle, BundleEntry, Completeness, Consistency};
use crate::audit::checkpoint::VerifierKey;
use crate::audit::log::{LogKeys, MacLess, boundary_mac, first_problem};
use crate::audit::merkle::Hash;
use crate::audit::scope::ScopeStatement;
use crate::audit::{Action, EventDraft, HttpInfo, Outcome, Target};
use crate::auth::Caller;
use crate::crypto::EncryptionContext;
use crate::domain::ids::{AccountId, OrgName, Role};
use crate::error::Error;
use crate::store::sql::dialect::{Key, json_int, json_text};
use crate::store::sql::params;
use crate::store::{self, Conn, StoreError};

/// Most events one export bundle carries; page with `after_seq`.
pub const MAX_BUNDLE_EVENTS: u64 = 100_000;
/// Rows read per page when streaming events.
const PAGE: u64 = 1000;

/// Which events an auditor sees: those whose scope names their org. The
/// scope is decided once, when the log appends the event
/// (`crate::audit::scope`), and indexed in `audit_scope`; the provider is in
/// every event's scope.
#[derive(Debug, Clone)]
struct Scope {
    org: OrgName,
    provider: bool,
}

/// Filters of `GET /v1/audit/events` and `/v1/audit/export`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub account_id: Option<AccountId>,
    /// Events at or after this time (RFC 3339).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Events before this time (RFC 3339).
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// Only events of this action (`link.create`, `half.release`, …).
    pub action: Option<String>,
    /// Only events of this outcome: `ok`, `denied` or `error`.
    pub outcome: Option<String>,
    /// Only events by this actor (`org/sub`).
    pub actor: Option<String>,
    /// Events after this sequence number.
    pub after_seq: Option<u64>,
    pub limit: Option<u64>,
    /// `jsonl` (default) or `csv` (`/v1/audit/events` only).
    #[param(inline)]
    pub format: Option<EventFormat>,
    /// For an export: the tree size of the checkpoint the auditor already
    /// trusts, for the consistency proof.
    pub trusted_size: Option<u64>,
}

/// How `GET /v1/audit/events` writes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventFormat {
    #[default]
    Jsonl,
    Csv,
}

/// The latest checkpoint and the key that signs checkpoints.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckpointView {
    pub checkpoint: String,
    pub public_key: String,
    pub size: u64,
}

/// The inclusion proof of one event (RFC 9162), hashes in base64.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InclusionProof {
    pub seq: u64,
    pub size: u64,
    /// The event's leaf hash, `SHA-256(0x00 || canonical JSON)`.
    pub leaf_hash: String,
    pub proof: Vec<String>,
}

/// The consistency proof between two tree sizes (RFC 9162), hashes in base64.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub proof: Vec<String>,
}

fn b64_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

/// Normalise an RFC 3339 time to the log's fixed form so text comparison works.
fn normalise_time(field: &str, value: &Option<String>) -> Result<Option<String>, Error> {
    let Some(value) = value else { return Ok(None) };
    let parsed = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map_err(|_| Error::malformed("invalid_query", format!("{field} must be an RFC 3339 time")))?;
    Ok(Some(super::rfc3339_of(parsed.to_offset(time::UtcOffset::UTC))))
}

/// Which rows to read: the scope and filters, events after `after` and
/// below `below` (a tree size), at most `limit`.
#[derive(Debug, Clone)]
struct Selection {
    scope: Scope,
    account_id: Option<AccountId>,
    since: Option<String>,
    until: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    actor: Option<String>,
    after: Option<u64>,
    below: u64,
    limit: u64,
}

impl Selection {
    fn new(scope: Scope, q: &AuditQuery, below: u64, limit: u64) -> Result<Self, Error> {
        // Sequence numbers are 64-bit signed integers in the database; a
        // larger cursor would wrap.
        if q.after_seq.is_some_and(|a| i64::try_from(a).is_err()) {
            return Err(Error::malformed("invalid_query", "after_seq is out of range"));
        }
        if q.outcome.as_deref().is_some_and(|o| !matches!(o, "ok" | "denied" | "error")) {
            return Err(Error::malformed("invalid_query", "outcome must be ok, denied or error"));
        }
        Ok(Self {
            scope,
            account_id: q.account_id.clone(),
            since: normalise_time("since", &q.since)?,
            until: normalise_time("until", &q.until)?,
            action: q.action.clone(),
            outcome: q.outcome.clone(),
            actor: q.actor.clone(),
            after: q.after_seq,
            below,
            limit,
        })
    }
}

/// One page of selected events, as `(seq, leaf json)`: the provider's from
/// the log itself, a customer's through the scope index. An index row only
/// counts when the event's own scope agrees with it, so a row slipped into
/// the index cannot show one tenant's event to another.
fn page(conn: &Conn, sel: &Selection) -> Result<Vec<(u64, String)>, StoreError> {
    const FILTERS: &str = "(CAST(?4 AS TEXT) IS NULL OR e.account_id = ?4)
         AND (CAST(?5 AS TEXT) IS NULL OR e.time >= ?5) AND (CAST(?6 AS TEXT) IS NULL OR e.time < ?6)
         AND (CAST(?8 AS TEXT) IS NULL OR e.action = ?8) AND (CAST(?9 AS TEXT) IS NULL OR e.outcome = ?9)
         AND (CAST(?10 AS TEXT) IS NULL OR e.actor = ?10)";
    let sql = if sel.scope.provider {
        format!(
            "SELECT e.seq, e.event_json FROM audit_events e
              WHERE e.seq > ?2 AND e.seq < ?3 AND {FILTERS} AND CAST(?1 AS TEXT) IS NOT NULL
              ORDER BY e.seq LIMIT ?7"
        )
    } else {
        let d = conn.dialect();
        format!(
            "SELECT e.seq, e.event_json FROM audit_scope s JOIN audit_events e ON e.seq = s.seq
              WHERE s.org = ?1 AND s.seq > ?2 AND s.seq < ?3 AND {FILTERS}
                AND ({counter} = s.n OR (s.n IS NULL AND {scope} IS NULL))
              ORDER BY s.seq LIMIT ?7",
            counter = json_int(d, "e.event_json", &[Key::Name("scope"), Key::Param(1)]),
            scope = json_text(d, "e.event_json", &[Key::Name("scope")]),
        )
    };
    let after = sel.after.map_or(-1, |a| a as i64);
    let rows = conn.query(
        &sql,
        params![
            sel.scope.org.as_str(),
            after,
            sel.below as i64,
            sel.account_id.as_ref().map(AccountId::as_str),
            sel.since,
            sel.until,
            sel.limit as i64,
            sel.action,
            sel.outcome,
            sel.actor
        ],
    )?;
    rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect()
}

/// The filters that narrow a selection below "all of the org's events",
/// which counters then cannot prove complete.
fn filters_of(sel: &Selection) -> Vec<String> {
    [
        ("account_id", sel.account_id.is_some()),
        ("since", sel.since.is_some()),
        ("until", sel.until.is_some()),
        ("action", sel.action.is_some()),
        ("outcome", sel.outcome.is_some()),
        ("actor", sel.actor.is_some()),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(name, _)| name.to_owned())
    .collect()
}

/// CSV cell: quoted when needed, and never read as a formula by a spreadsheet.
fn csv_cell(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// The CSV header line.
pub const CSV_HEADER: &str = "seq,time,actor,action,outcome,account_id,half,request_id,link_id_hash,reason,ip,user_agent,http_request_id,details\r\n";

/// One event as a CSV line.
fn csv_line(leaf: &str) -> String {
    let e: serde_json::Value = serde_json::from_str(leaf).unwrap_or_default();
    let cells = [
        &e["seq"],
        &e["time"],
        &e["actor"],
        &e["action"],
        &e["outcome"],
        &e["target"]["account_id"],
        &e["target"]["half"],
        &e["target"]["request_id"],
        &e["target"]["link_id_hash"],
        &e["reason"],
        &e["http"]["ip"],
        &e["http"]["user_agent"],
        &e["http"]["request_id"],
        &e["details"],
    ];
    let mut line = cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// Check every stored checkpoint note's signature and that its size and
/// root are the ones stored beside it. Returns the newest size vouched for
/// by a good note, and the first problem.
fn verify_notes(keys: &LogKeys, notes: &[(u64, Hash, String)]) -> (u64, Option<String>) {
    let Ok(key) = VerifierKey::parse(&keys.signer().vkey()) else {
        return (0, Some("the log key's verifier key does not parse".to_owned()));
    };
    let mut vouched = 0;
    for (size, root, note) in notes {
        match key.verify(note) {
            Ok(cp) if cp.size == *size && cp.root == *root => vouched = vouched.max(*size),
            Ok(_) => return (vouched, Some(format!("the stored checkpoint of size {size} does not match its note"))),
            Err(e) => {
                return (vouched, Some(format!("the stored checkpoint of size {size} is not validly signed: {e}")));
            }
        }
    }
    (vouched, None)
}

impl Vault {
    /// The name of this log in checkpoints.
    pub fn origin(&self) -> String {
        format!("rootvault/{}", self.orgs.provider())
    }

    /// Load (creating on first use) the audit log key, check the stored log
    /// against it, its stored checkpoints (signatures included) and the
    /// newest checkpoint anchored in the witnesses, then sign and anchor a
    /// checkpoint if it grew. Called once the key provider is unsealed.
    pub async fn open_audit_log(&self) -> Result<(), Error> {
        self.load_audit_log().await?;
        self.take_charge_of_log().await
    }

    /// The reading half of [`Vault::open_audit_log`]: load the key (creating
    /// it on a database's first start) and check the log, flagging it if
    /// it fails. Writes nothing but the key, so a standby of a cluster runs
    /// it at start and each node again as it becomes active.
    pub async fn load_audit_log(&self) -> Result<(), Error> {
        // First, and whatever the log's state: signing in (auditors
        // investigating a tampered log) needs it.
        self.load_token_key().await?;
        let (keys, created) = self.log_keys().await?;
        let (rows, notes, boundary) = self
            .store
            .read(|c| {
                Ok::<_, StoreError>((
                    store::audit::rows(c)?,
                    store::audit::checkpoint_notes(c)?,
                    store::audit::key_boundary(c)?,
                ))
            })
            .await?;
        let tree = self.store.log().tree().clone();
        let (vouched, mut problem) = verify_notes(&keys, &notes);
        let boundary = match boundary {
            Some(boundary) => boundary,
            None => {
                // A new key: the log so far was written without one. A key
                // made before boundaries were recorded: its checkpoints vouch
                // for the past, nothing else may lack a MAC. The first
                // boundary recorded stands (nodes may start together).
                let size = if created { rows.len() as u64 } else { vouched };
                let mac = boundary_mac(&keys, size);
                self.store
                    .write_bootstrap(move |b| {
                        store::audit::store_key_boundary(b.conn(), size, &mac)?;
                        store::audit::key_boundary(b.conn())
                    })
                    .await?
                    .ok_or_else(|| Error::Internal("the key boundary was not recorded".into()))?
            }
        };
        let (boundary, mac) = boundary;
        if !bool::from(mac.as_slice().ct_eq(&boundary_mac(&keys, boundary)[..])) {
            problem.get_or_insert_with(|| "the recorded log key boundary was altered".to_owned());
        }
        let own = self.store.log().own_macless();
        let macless = MacLess { boundary, vouched, own: Some(&own) };
        let roots: Vec<(u64, Hash)> = notes.iter().map(|(size, root, _)| (*size, *root)).collect();
        let problem = match problem.or_else(|| first_problem(&rows, &keys, &macless, &roots, &tree)) {
            Some(problem) => Some(problem),
            None => {
                let stored: Vec<u64> = roots.iter().map(|(size, _)| *size).collect();
                self.witnessed_problem(&keys, &tree, &stored).await?
            }
        };
        self.store.log().set_keys(Some(keys));
        if let Some(problem) = problem {
            tracing::error!(%problem, "the audit log failed its integrity check; refusing changes");
            self.store.log().flag(problem);
        }
        Ok(())
    }

    /// The log key, unwrapped; created (and its creation reported) on the
    /// database's first start. Nodes of a cluster may start together: the
    /// first key stored stands, and the others unwrap that one.
    async fn log_keys(&self) -> Result<(Arc<LogKeys>, bool), Error> {
        let (seed, created) = self
            .service_data_key(
                &EncryptionContext::audit_log_key(),
                "audit log key",
                store::audit::log_key,
                |c, w, now| store::audit::store_log_key(c, &w.blob, &w.key_id, now),
            )
            .await?;
        Ok((Arc::new(LogKeys::from_seed(&self.origin(), &Zeroizing::new(*seed.expose()))), created))
    }

    /// The writing half of [`Vault::open_audit_log`], for the node that
    /// leads: record a failed integrity check, or else fingerprint what was
    /// stored before fingerprints existed and sign and anchor a checkpoint.
    pub async fn take_charge_of_log(&self) -> Result<(), Error> {
        if let Some(problem) = self.store.log().tampered() {
            let draft = EventDraft::new(None, Action::AuditTamperDetected, Target::default(), &HttpInfo::default())
                .detail("problem", problem);
            self.store
                .write(move |b| store::audit::append(b, draft, &now_rfc3339(), Outcome::Error, None).map(|_| ()))
                .await?;
            return Ok(());
        }
        match self.fingerprint_stored_versions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(versions = n, "fingerprinted half versions stored before fingerprints existed"),
            Err(e) => tracing::warn!(code = e.code(), "stored half versions could not be fingerprinted yet"),
        }
        self.anchor().await
    }

    /// Sign a checkpoint of the current log unless the newest one already
    /// covers it; returns the newest checkpoint's size and note. A log found
    /// tampered is never signed again.
    pub async fn checkpoint(&self) -> Result<Option<(u64, String)>, Error> {
        let log = self.store.log();
        let latest = self.store.read(store::audit::latest_checkpoint).await?;
        let Some(keys) = log.keys() else { return Ok(latest) };
        if log.tampered().is_some() {
            return Ok(latest);
        }
        let (size, root) = {
            let tree = log.tree();
            let size = tree.size();
            (size, tree.root(size).map_err(|e| Error::Internal(e.to_string()))?)
        };
        if latest.as_ref().is_some_and(|(s, _)| *s >= size) {
            return Ok(latest);
        }
        let note = keys.signer().sign(size, &root);
        let stored = note.clone();
        self.store
            .write(move |b| store::audit::store_checkpoint(b.conn(), size, &root, &stored, &now_rfc3339()))
            .await?;
        Ok(Some((size, note)))
    }

    fn scope(&self, caller: &Caller) -> Scope {
        Scope { org: caller.principal.org.clone(), provider: self.orgs.is_provider(&caller.principal.org) }
    }

    /// Record an auditor's read; refuse non-auditors, and everyone while
    /// the log key is not loaded.
    async fn auditor_read(&self, caller: &Caller, http: &HttpInfo, action: Action, what: &str) -> Result<(), Error> {
        let draft = EventDraft::new(Some(&caller.principal), action, Target::default(), http).detail("what", what);
        if self.store.log().keys().is_none() {
            return Err(self.refuse(draft, Error::Sealed).await);
        }
        let caller = caller.clone();
        self.audited(draft, move |_, _, _| require_role(&caller, Role::Auditor, "reading the audit log")).await
    }

    /// The newest checkpoint (signing one now if the log grew), or the one
    /// issued at exactly `size`, with the log's key.
    pub async fn checkpoint_view(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        size: Option<u64>,
    ) -> Result<CheckpointView, Error> {
        self.auditor_read(caller, http, Action::AuditRead, "checkpoint").await?;
        let keys = self.store.log().keys().ok_or(Error::Sealed)?;
        let (size, checkpoint) = match size {
            None => self.checkpoint().await?.ok_or(Error::Sealed)?,
            Some(size) => {
                let note = self.store.read(move |c| store::audit::checkpoint_at(c, size)).await?;
                (size, note.ok_or(Error::NotFound("checkpoint"))?)
            }
        };
        Ok(CheckpointView { checkpoint, public_key: keys.signer().vkey(), size })
    }

    /// The inclusion proof of one of the caller's events in the tree of `size`.
    pub async fn inclusion_proof(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        seq: u64,
        size: u64,
    ) -> Result<InclusionProof, Error> {
        self.auditor_read(caller, http, Action::AuditRead, "inclusion proof").await?;
        let mut sel = Selection::new(self.scope(caller), &AuditQuery::default(), seq.saturating_add(1), 1)?;
        sel.after = seq.checked_sub(1);
        let visible = self.store.read(move |c| page(c, &sel)).await?;
        let Some((_, leaf)) = visible.into_iter().next() else { return Err(Error::NotFound("event")) };
        let tree = self.store.log().tree();
        let proof =
            tree.inclusion_proof(seq, size).map_err(|e| Error::invalid("invalid_proof_request", e.to_string()))?;
        let leaf_hash = crate::audit::merkle::leaf_hash(leaf.as_bytes());
        Ok(InclusionProof { seq, size, leaf_hash: B64.encode(leaf_hash), proof: b64_all(&proof) })
    }

    /// The consistency proof between two tree sizes (hashes only).
    pub async fn consistency_proof(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        from: u64,
        to: u64,
    ) -> Result<ConsistencyProof, Error> {
        self.auditor_read(caller, http, Action::AuditRead, "consistency proof").await?;
        let proof = self
            .store
            .log()
            .tree()
            .consistency_proof(from, to)
            .map_err(|e| Error::invalid("invalid_proof_request", e.to_string()))?;
        Ok(ConsistencyProof { from, to, proof: b64_all(&proof) })
    }

    /// Stream the caller's events as JSON Lines or CSV, page by page, so a
    /// large log is never held in memory. Returns the body's chunks.
    pub async fn event_stream(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        query: AuditQuery,
    ) -> Result<tokio::sync::mpsc::Receiver<Result<String, std::io::Error>>, Error> {
        self.auditor_read(caller, http, Action::AuditRead, "events").await?;
        let format = query.format.unwrap_or_default();
        let size = self.store.log().tree().size();
        let mut sel = Selection::new(self.scope(caller), &query, size, PAGE)?;
        let store = self.store.clone();
        let (send, receive) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            if format == EventFormat::Csv && send.send(Ok(format!("\u{feff}{CSV_HEADER}"))).await.is_err() {
                return;
            }
            let mut left = query.limit.unwrap_or(u64::MAX);
            while left > 0 {
                sel.limit = PAGE.min(left);
                let this = sel.clone();
                let batch = match store.read(move |c| page(c, &this)).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        let _ = send.send(Err(std::io::Error::other(e.to_string()))).await;
                        return;
                    }
                };
                let Some((last, _)) = batch.last() else { return };
                sel.after = Some(*last);
                left = left.saturating_sub(batch.len() as u64);
                let full = batch.len() as u64 == sel.limit;
                let chunk: String = batch
                    .iter()
                    .map(|(_, leaf)| if format == EventFormat::Csv { csv_line(leaf) } else { format!("{leaf}\n") })
                    .collect();
                if send.send(Ok(chunk)).await.is_err() || !full {
                    return;
                }
            }
        });
        Ok(receive)
    }

    /// A verifiable bundle of the caller's events: each with its inclusion
    /// proof in a checkpoint signed now, plus a consistency proof from the
    /// checkpoint size the auditor already trusts.
    pub async fn export(&self, caller: &Caller, http: &HttpInfo, query: AuditQuery) -> Result<Bundle, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::AuditExport, Target::default(), http);
        let limit = query.limit.unwrap_or(MAX_BUNDLE_EVENTS).min(MAX_BUNDLE_EVENTS);
        let sealed = if self.store.log().keys().is_none() { Err(Error::Sealed) } else { Ok(()) };
        let checked = sealed
            .and_then(|()| require_role(caller, Role::Auditor, "exporting the audit log"))
            .and_then(|()| Selection::new(self.scope(caller), &query, 0, limit));
        let mut sel = match checked {
            Ok(sel) => sel,
            Err(e) => return Err(self.refuse(draft, e).await),
        };
        let keys = self.store.log().keys().ok_or(Error::Sealed)?;
        // Record the export first, then sign a checkpoint that covers it.
        self.audited(draft, |_, _, _| Ok(())).await?;
        let (size, checkpoint) = match self.checkpoint().await? {
            Some(latest) => latest,
            None => return Err(Error::Sealed),
        };
        // Entries run to the end of the log. On an intact log the fresh
        // checkpoint covers them all; on a log flagged as tampered no new
        // checkpoint is signed, so entries beyond (or altered since) the last
        // one cannot verify, and the auditor sees exactly where.
        sel.below = if self.store.log().tampered().is_some() { self.store.log().tree().size() } else { size };
        let (org, filters, from_size) =
            (sel.scope.org.to_string(), filters_of(&sel), sel.after.map(|a| a.saturating_add(1)));
        let rows = self.store.read(move |c| page(c, &sel)).await?;
        // The statements bracket exactly the entries: from where the page
        // starts to the checkpoint, or to the last entry when `limit` cut
        // the page short (page on with `after_seq`).
        let to_size = match rows.last() {
            Some((last, _)) if rows.len() as u64 == limit => last.saturating_add(1),
            _ => size,
        };
        let counted = org.clone();
        let (to_count, from_count) = self
            .store
            .read(move |c| {
                let to = store::audit::scope_count(c, &counted, to_size)?;
                let from = from_size.map(|s| store::audit::scope_count(c, &counted, s)).transpose()?;
                Ok::<_, StoreError>((to, from))
            })
            .await?;
        let statement = |count: u64, size: u64| {
            let s = ScopeStatement { origin: self.origin(), org: org.clone(), count, size, filters: filters.clone() };
            keys.signer().sign_text(&s.body())
        };
        let completeness = Completeness {
            org: org.clone(),
            from: from_size.zip(from_count).map(|(size, count)| statement(count, size)),
            to: statement(to_count, to_size),
        };
        let tree = self.store.log().tree();
        let mut entries = Vec::with_capacity(rows.len());
        for (seq, leaf) in rows {
            let proof = if seq < size {
                tree.inclusion_proof(seq, size).map_err(|e| Error::Internal(e.to_string()))?
            } else {
                Vec::new()
            };
            entries.push(BundleEntry { seq, leaf, proof: b64_all(&proof) });
        }
        let consistency = match query.trusted_size {
            None => None,
            Some(from) => {
                let proof = tree
                    .consistency_proof(from, size)
                    .map_err(|e| Error::invalid("invalid_proof_request", e.to_string()))?;
                Some(Consistency { from, to: size, proof: b64_all(&proof) })
            }
        };
        Ok(Bundle {
            format: BUNDLE_FORMAT.to_owned(),
            origin: self.origin(),
            public_key: keys.signer().vkey(),
            checkpoint,
            tree_size: size,
            entries,
            consistency,
            completeness,
        })
    }
}
