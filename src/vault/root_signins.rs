//! The root sign-in watch's use cases (DESIGN §15): record one queue
//! message, and list an account's recorded root events.
//!
//! A message is recorded in one write: its `root.signin` event (or its
//! `watch.reject`), its row, and for an unexplained or failed sign-in the
//! `root_signin.alert` notification to both parties, all commit together or
//! not at all. The write goes through the same guard as every audited use
//! case: while sealed, or with the log found altered, nothing is recorded
//! and the caller leaves the message in the queue for later.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use super::{Vault, audit_failed, notify, rfc3339, visible, write_guard};
use crate::audit::{Action, EventDraft, HttpInfo, Outcome, Target};
use crate::auth::Caller;
use crate::domain::ids::AccountId;
use crate::domain::root_signin::{
    self, Classification, Evidence, Parsed, RejectReason, RootEvent, Tolerances, Verdict,
};
use crate::error::Error;
use crate::notify::Event;
use crate::store::root_signins::StoredRootSignin;
use crate::store::{self, Batch, StoreError};

/// The default page size of `GET /v1/accounts/{id}/root-signins`.
pub const ROOT_SIGNIN_PAGE: u32 = 50;
/// The largest page it returns.
pub const ROOT_SIGNIN_PAGE_MAX: u32 = 200;

/// What became of one queue message. Every outcome means the message may
/// be deleted from the queue; an `Err` means it must stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchOutcome {
    /// Recorded as a `root.signin` event.
    Recorded { classification: Classification },
    /// Its CloudTrail event id was already recorded; nothing was written.
    Duplicate,
    /// Not a root event the watch records; nothing was written.
    Ignored,
    /// Recorded as a `watch.reject` event.
    Rejected { reason: RejectReason },
}

/// An SQS message id as the log names it: ids are UUIDs, so anything
/// longer or stranger is not copied into the log.
fn message_ref(raw: &str) -> &str {
    let ok = !raw.is_empty() && raw.len() <= 128 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok { raw } else { "(invalid)" }
}

/// Append `draft` as an `ok` event of the service (actor null).
fn append(batch: &mut Batch, draft: EventDraft, now: &str) -> Result<(), Error> {
    match store::audit::append(batch, draft, now, Outcome::Ok, None) {
        Ok(_) => Ok(()),
        Err(StoreError::LogTampered) => Err(Error::AuditTampered),
        Err(e) => Err(audit_failed(e)),
    }
}

/// The `watch.reject` event: provider scope only (no target account), the
/// reason, the message id and the AWS account the message named. Never the
/// body: it is untrusted text.
fn reject(
    batch: &mut Batch,
    message_id: &str,
    reason: RejectReason,
    account: Option<&AccountId>,
    now: &str,
) -> Result<WatchOutcome, Error> {
    let draft = EventDraft::new(None, Action::WatchReject, Target::default(), &HttpInfo::default())
        .detail("reason", reason.as_str())
        .detail("message_id", message_id)
        .detail("aws_account_id", account.map(|a| a.to_string()));
    append(batch, draft, now)?;
    tracing::info!(message_id, reason = reason.as_str(), "root sign-in watch rejected a message");
    Ok(WatchOutcome::Rejected { reason })
}

/// Record one root event inside the caller's write.
fn record(
    batch: &mut Batch,
    message_id: &str,
    event: &RootEvent,
    tolerances: Tolerances,
    now: &str,
) -> Result<WatchOutcome, Error> {
    match store::accounts::status(batch.conn(), &event.account)?.as_deref() {
        None => return reject(batch, message_id, RejectReason::UnknownAccount, Some(&event.account), now),
        Some("active") => {}
        Some(_) => return reject(batch, message_id, RejectReason::NotInCustody, Some(&event.account), now),
    }
    let tx = batch.conn();
    if store::root_signins::exists(tx, &event.event_id)? {
        return Ok(WatchOutcome::Duplicate);
    }
    let (at, skew) = (event.event_time, tolerances.clock_skew_seconds);
    let releases =
        store::root_signins::password_releases(tx, &event.account, at.saturating_sub(skew), at.saturating_add(skew))?;
    let rotations = store::root_signins::rotation_candidates(
        tx,
        &event.account,
        at.saturating_sub(tolerances.rotation_window_seconds),
        at.saturating_add(skew),
    )?;
    let verdict = root_signin::classify(event, Evidence { releases: &releases, rotations: &rotations }, tolerances);
    let id = uuid::Uuid::new_v4().to_string();
    if !store::root_signins::insert(tx, &id, event, &verdict, now)? {
        // Recorded by another writer since the check: the same as a duplicate.
        return Ok(WatchOutcome::Duplicate);
    }
    let Verdict { classification, request_id } = verdict;
    let target = match &request_id {
        Some(request) => Target::request(&event.account, request),
        None => Target::account(&event.account),
    };
    let event_time = rfc3339(event.event_time);
    let draft = EventDraft::new(None, Action::RootSignin, target, &HttpInfo::default())
        .detail("event_id", event.event_id.as_str())
        .detail("event_name", event.event_name.as_str())
        .detail("classification", classification.as_str())
        .detail("request_id", request_id.clone())
        .detail("source_ip", event.source_ip.clone())
        .detail("mfa_used", event.mfa_used)
        .detail("event_time", event_time.clone())
        .detail("login_outcome", event.outcome.as_str())
        .detail("region", event.region.clone());
    // Alerts for unexplained and failed ones; expected ones are told too,
    // as information: the SOC hears of every root sign-in (seed 004).
    let data = json!({
        "root_signin_id": id,
        "event_id": event.event_id.as_str(),
        "event_name": event.event_name.as_str(),
        "event_time": event_time,
        "classification": classification.as_str(),
        "source_ip": event.source_ip,
        "mfa_used": event.mfa_used,
        "region": event.region,
        "request_id": request_id,
    });
    let kind = if classification.alerts() { Event::RootSigninAlert } else { Event::RootSigninExpected };
    notify(tx, &event.account, kind, None, data, now)?;
    append(batch, draft, now)?;
    Ok(WatchOutcome::Recorded { classification })
}

/// One recorded root event as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RootSigninView {
    pub id: String,
    pub account_id: AccountId,
    pub event_id: String,
    pub event_name: &'static str,
    /// When it happened, by AWS's clock.
    pub event_time: String,
    /// When the service recorded it.
    pub recorded_at: String,
    /// `success` or `failure`.
    pub outcome: &'static str,
    /// `expected`, `unexplained` or `failed`.
    pub classification: &'static str,
    /// The request whose released password explains it (`expected` sign-ins).
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
    pub mfa_used: Option<bool>,
    pub region: Option<String>,
}

impl From<StoredRootSignin> for RootSigninView {
    fn from(s: StoredRootSignin) -> Self {
        Self {
            id: s.id,
            account_id: s.account_id,
            event_id: s.event_id,
            event_name: s.event_name.as_str(),
            event_time: rfc3339(s.event_time),
            recorded_at: s.recorded_at,
            outcome: s.outcome.as_str(),
            classification: s.classification.as_str(),
            request_id: s.request_id,
            source_ip: s.source_ip,
            mfa_used: s.mfa_used,
            region: s.region,
        }
    }
}

/// Which page of an account's root events to list.
#[derive(Debug, Clone, Default)]
pub struct RootSigninQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to [`ROOT_SIGNIN_PAGE_MAX`]; [`ROOT_SIGNIN_PAGE`] when absent.
    pub limit: Option<u32>,
}

/// One page of root events, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RootSigninPage {
    pub root_signins: Vec<RootSigninView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl Vault {
    /// Whether a message could be recorded now: unsealed, the log key
    /// loaded, the log not found altered. The watch receives nothing
    /// otherwise, so its messages wait in the queue rather than being
    /// received in vain until they reach the dead-letter queue.
    pub fn accepts_watch_events(&self) -> bool {
        write_guard(self.keys.as_ref(), self.store.log(), Action::RootSignin).is_ok()
    }

    /// Record one SQS message of the root sign-in watch. `Ok` whatever the
    /// message held (the caller deletes it); `Err` only when nothing could
    /// be recorded (sealed, log altered or unavailable): the message stays
    /// in the queue and comes back.
    pub async fn record_watch_message(&self, body: &str, message_id: &str) -> Result<WatchOutcome, Error> {
        let message_id = message_ref(message_id).to_owned();
        let event = match root_signin::parse(body, self.watch_rules.max_message_bytes) {
            Parsed::NotRoot => {
                tracing::debug!(message_id, "not a root event the watch records; ignored");
                return Ok(WatchOutcome::Ignored);
            }
            Parsed::Rejected { reason, account } => Err((reason, account)),
            Parsed::Root(event) => Ok(event),
        };
        let (keys, tolerances) = (Arc::clone(&self.keys), self.watch_rules.tolerances);
        self.store
            .write(move |batch| {
                let action = if event.is_ok() { Action::RootSignin } else { Action::WatchReject };
                write_guard(keys.as_ref(), batch.log(), action)?;
                let now = super::now_rfc3339();
                let result = match &event {
                    Ok(event) => record(batch, &message_id, event, tolerances, &now),
                    Err((reason, account)) => reject(batch, &message_id, *reason, account.as_ref(), &now),
                };
                if result.is_err() {
                    batch.rollback()?;
                }
                result
            })
            .await
    }

    /// An account's recorded root events, newest first, to whoever may
    /// read the account (others get the same 404 as for a missing one).
    pub async fn root_signins(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: AccountId,
        query: RootSigninQuery,
    ) -> Result<RootSigninPage, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::RootSigninList, Target::account(&id), http);
        let checked = self.ensure_unsealed().and_then(|()| {
            let after = query.cursor.as_deref().map(|c| super::cursor::decode(c, |i| uuid::Uuid::parse_str(i).is_ok()));
            let limit = query.limit.unwrap_or(ROOT_SIGNIN_PAGE);
            if !(1..=ROOT_SIGNIN_PAGE_MAX).contains(&limit) {
                return Err(Error::malformed("invalid_query", format!("limit is 1 to {ROOT_SIGNIN_PAGE_MAX}")));
            }
            Ok((after.transpose()?, limit))
        });
        let (after, limit) = match checked {
            Ok(c) => c,
            Err(e) => return Err(self.refuse(draft, e).await),
        };
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, draft, _| {
            visible(&orgs, tx, &caller, &id)?;
            let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
            let (rows, next) = store::root_signins::list(tx, &id, after, limit)?;
            draft.details.insert("count".into(), rows.len().into());
            Ok(RootSigninPage {
                root_signins: rows.into_iter().map(RootSigninView::from).collect(),
                next_cursor: next.map(|(at, id)| super::cursor::encode(at, &id)),
            })
        })
        .await
    }
}
