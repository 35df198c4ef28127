//! Break-glass requests: open, decide, release, expire.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use super::{CustodyRecords, Vault, notify, rfc3339, unix_now, visible};
use crate::audit::{Action, EventDraft, HttpInfo, Outcome, Target};
use crate::auth::Caller;
use crate::domain::account::Account;
use crate::domain::breakglass::{Ask, Decision, PartyName, Request, State};
use crate::domain::ids::{AccountId, Half, Principal};
use crate::error::Error;
use crate::notify::Event;
use crate::store::requests::StoredRequest;
use crate::store::{self, Conn};

/// Most requests one page of a listing returns (and the default page size).
pub const LIST_LIMIT: u32 = 500;

/// One decision as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecisionView {
    pub approver: Principal,
    pub party: PartyName,
    pub comment: Option<String>,
    pub at: String,
}

impl From<&Decision> for DecisionView {
    fn from(d: &Decision) -> Self {
        Self { approver: d.approver.clone(), party: d.party, comment: d.comment.clone(), at: rfc3339(d.at) }
    }
}

/// A request as its parties see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequestView {
    pub id: String,
    pub account_id: AccountId,
    pub state: State,
    pub requester: Principal,
    pub reason: String,
    pub ticket: Option<String>,
    pub password_to: Option<Principal>,
    pub mfa_to: Option<Principal>,
    pub window_minutes: u32,
    pub approvals_required: u8,
    pub approvals: Vec<DecisionView>,
    pub denial: Option<DecisionView>,
    pub password_views_left: u8,
    pub created_at: String,
    pub pending_until: String,
    pub approved_at: Option<String>,
    pub window_ends: Option<String>,
    pub ended_at: Option<String>,
    /// Why the service cancelled it (its account moved or closed).
    pub cancel_reason: Option<String>,
}

impl RequestView {
    fn new(stored: StoredRequest, approvals_required: u8, now: i64) -> Self {
        let StoredRequest { id, account_id, mut request } = stored;
        // Show a passed deadline as it is, even before the sweeper records it.
        request.expire_if_due(now);
        Self {
            id,
            account_id,
            state: request.state,
            approvals: request.approvals().map(DecisionView::from).collect(),
            denial: request.decisions.iter().find(|d| !d.approve).map(DecisionView::from),
            requester: request.requester,
            reason: request.reason,
            ticket: request.ticket,
            password_to: request.password_to,
            mfa_to: request.mfa_to,
            window_minutes: request.window_minutes,
            approvals_required,
            password_views_left: request.password_views_left,
            created_at: rfc3339(request.created_at),
            pending_until: rfc3339(request.pending_until),
            approved_at: request.approved_at.map(rfc3339),
            window_ends: request.window_ends.map(rfc3339),
            ended_at: request.ended_at.map(rfc3339),
            cancel_reason: request.cancel_reason,
        }
    }
}

/// Which requests to list.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub account_id: Option<AccountId>,
    pub state: Option<State>,
    /// Where the previous page ended.
    pub cursor: Option<RequestCursor>,
    /// Page size, 1 to `LIST_LIMIT`; `LIST_LIMIT` when absent.
    pub limit: Option<u32>,
}

/// Where a page of requests ended: the creation time and id of its last
/// row, sent to the client as an opaque base64url string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestCursor {
    created_at: i64,
    id: String,
}

impl std::fmt::Display for RequestCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&super::cursor::encode(self.created_at, &self.id))
    }
}

impl std::str::FromStr for RequestCursor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let (created_at, id) = super::cursor::decode(s, valid_id)?;
        Ok(Self { created_at, id })
    }
}

/// One page of visible requests, and where the next one starts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestPage {
    pub requests: Vec<RequestView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The stored states a request shown in `state` may have: a pending or
/// approved request past its deadline shows as expired before the sweeper
/// records it.
fn stored_states(shown: Option<State>) -> Vec<State> {
    match shown {
        None => Vec::new(),
        Some(State::Expired) => vec![State::Expired, State::Pending, State::Approved],
        Some(state) => vec![state],
    }
}

/// Request ids are `req_` and 32 hex digits; anything else is unknown.
fn valid_id(id: &str) -> bool {
    id.len() == 36 && id.starts_with("req_") && id[4..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The stored request `id`; `None` for an id that cannot be one.
pub(super) fn load(conn: &Conn, id: &str) -> Result<Option<StoredRequest>, store::StoreError> {
    if !valid_id(id) {
        return Ok(None);
    }
    store::requests::load(conn, id)
}

/// The audit draft of `action` on request `id` of `account` (when known).
pub(super) fn request_event(
    caller: &Caller,
    http: &HttpInfo,
    action: Action,
    id: &str,
    half: Option<Half>,
    account: Option<&AccountId>,
) -> EventDraft {
    let target = Target {
        account_id: account.map(ToString::to_string),
        request_id: Some(id.chars().take(64).collect()),
        half: half.map(|h| h.to_string()),
        ..Target::default()
    };
    EventDraft::new(Some(&caller.principal), action, target, http)
}

fn data_of(id: &str, request: &Request) -> serde_json::Value {
    json!({
        "request_id": id,
        "state": request.state.as_str(),
        "requester": request.requester.to_string(),
        "reason": request.reason,
        "ticket": request.ticket,
        "password_to": request.password_to.as_ref().map(ToString::to_string),
        "mfa_to": request.mfa_to.as_ref().map(ToString::to_string),
        "cancel_reason": request.cancel_reason,
    })
}

/// Inside the caller's write: end the account's open requests for the
/// service (its account moved or closed), each saved with `reason` and
/// announced to subscribers and its requester. Returns their ids.
pub(super) fn withdraw_open(tx: &Conn, account: &AccountId, reason: &str, now: &str) -> Result<Vec<String>, Error> {
    let unix = unix_now();
    let mut withdrawn = Vec::new();
    for StoredRequest { id, mut request, .. } in store::requests::open_for_account(tx, account)? {
        // One already past its deadline is left for the expiry sweep to record.
        if request.withdraw(reason, unix) {
            store::requests::save(tx, &id, &request)?;
            notify(tx, account, Event::RequestCancelled, None, data_of(&id, &request), now)?;
            withdrawn.push(id);
        }
    }
    Ok(withdrawn)
}

/// The decision steps of a request, as verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Approve a pending request (approvers; invariant 3).
    Approve,
    /// Deny a pending request; one denial ends it.
    Deny,
    /// Withdraw a request (its requester only).
    Cancel,
}

impl Step {
    /// The audit action recording this step.
    pub fn action(self) -> Action {
        match self {
            Step::Approve => Action::RequestApprove,
            Step::Deny => Action::RequestDeny,
            Step::Cancel => Action::RequestCancel,
        }
    }
}

impl Vault {
    /// Open a break-glass request (staff only).
    pub async fn create_request(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        account: AccountId,
        ask: Ask,
    ) -> Result<RequestView, Error> {
        let id = format!("req_{}", uuid::Uuid::new_v4().simple());
        let draft =
            EventDraft::new(Some(&caller.principal), Action::RequestCreate, Target::request(&account, &id), http);
        if let Err(e) = self.ensure_unsealed() {
            return Err(self.refuse(draft, e).await);
        }
        let (orgs, caller, policy) = (Arc::clone(&self.orgs), caller.clone(), self.policy);
        self.audited(draft, move |tx, draft, now| {
            let records = CustodyRecords::load(&orgs, tx, &caller, &account)?;
            let roles: Vec<_> = caller.roles.iter().copied().collect();
            let unix = unix_now();
            let request = Request::open(
                &records.account,
                &records.sets,
                &records.exposures,
                records.current,
                &caller.principal,
                &roles,
                ask,
                policy,
                unix,
            )?;
            store::requests::insert(tx, &id, &account, &request)?;
            let data = data_of(&id, &request);
            draft.details = data.as_object().cloned().unwrap_or_default();
            notify(tx, &account, Event::RequestCreated, Some(&caller.principal), data, now)?;
            let stored = StoredRequest { id, account_id: account, request };
            Ok(RequestView::new(stored, policy.approvals_required(), unix))
        })
        .await
    }

    /// The account a request belongs to, for the audit target of a refusal.
    async fn request_account(&self, id: &str) -> Option<AccountId> {
        let id = id.to_owned();
        let stored = self.store.read(move |c| load(c, &id)).await.ok()??;
        Some(stored.account_id)
    }

    async fn request_draft(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        action: Action,
        id: &str,
        half: Option<Half>,
    ) -> EventDraft {
        let account = self.request_account(id).await;
        request_event(caller, http, action, id, half, account.as_ref())
    }

    /// Load a request the caller's org is a party to; others get 404.
    fn load_visible(
        orgs: &crate::domain::orgs::OrgDirectory,
        conn: &Conn,
        caller: &Caller,
        id: &str,
    ) -> Result<StoredRequest, Error> {
        let stored = load(conn, id)?.ok_or(Error::NotFound("request"))?;
        Self::visible_request(orgs, conn, caller, stored).map(|(stored, _)| stored)
    }

    /// A loaded request, with its account, if the caller's org is a party
    /// to it; others get 404.
    pub(super) fn visible_request(
        orgs: &crate::domain::orgs::OrgDirectory,
        conn: &Conn,
        caller: &Caller,
        stored: StoredRequest,
    ) -> Result<(StoredRequest, Account), Error> {
        let not_found = || Error::NotFound("request");
        let (account, party) = visible(orgs, conn, caller, &stored.account_id).map_err(|_| not_found())?;
        // After a DDI move, the earlier customer's requests are not the new one's.
        let earlier = stored.request.customer_org.as_ref().is_some_and(|org| *org != caller.principal.org);
        if party == crate::domain::orgs::Party::Customer && earlier {
            return Err(not_found());
        }
        Ok((stored, account))
    }

    /// One request, to the parties of its account.
    pub async fn request(&self, caller: &Caller, http: &HttpInfo, id: String) -> Result<RequestView, Error> {
        let draft = self.request_draft(caller, http, Action::RequestRead, &id, None).await;
        if let Err(e) = self.ensure_unsealed() {
            return Err(self.refuse(draft, e).await);
        }
        let (orgs, caller, required) = (Arc::clone(&self.orgs), caller.clone(), self.policy.approvals_required());
        self.audited(draft, move |tx, _, _| {
            let stored = Self::load_visible(&orgs, tx, &caller, &id)?;
            Ok(RequestView::new(stored, required, unix_now()))
        })
        .await
    }

    /// Requests of the accounts the caller's org is a party to, newest first.
    pub async fn requests(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        filter: RequestFilter,
    ) -> Result<RequestPage, Error> {
        let target = filter.account_id.as_ref().map(Target::account).unwrap_or_default();
        let draft = EventDraft::new(Some(&caller.principal), Action::RequestList, target, http);
        if let Err(e) = self.ensure_unsealed() {
            return Err(self.refuse(draft, e).await);
        }
        let (orgs, caller, required) = (Arc::clone(&self.orgs), caller.clone(), self.policy.approvals_required());
        self.audited(draft, move |tx, draft, _| {
            if let Some(account) = &filter.account_id {
                visible(&orgs, tx, &caller, account)?;
            }
            // Visibility and state are part of the query, so one customer's
            // many requests cannot fill the page and hide another's.
            let customer_org = (!orgs.is_provider(&caller.principal.org)).then_some(&caller.principal.org);
            let states = stored_states(filter.state);
            let (rows, next) = store::requests::list(
                tx,
                store::requests::Listing {
                    account: filter.account_id.as_ref(),
                    customer_org,
                    states: &states,
                    after: filter.cursor.as_ref().map(|c| (c.created_at, c.id.as_str())),
                    limit: filter.limit.unwrap_or(LIST_LIMIT).clamp(1, LIST_LIMIT),
                },
            )?;
            // The filter on state applies to the state as shown, deadlines included.
            let now = unix_now();
            let requests: Vec<RequestView> = rows
                .into_iter()
                .map(|stored| RequestView::new(stored, required, now))
                .filter(|view| filter.state.is_none_or(|s| s == view.state))
                .collect();
            draft.details.insert("count".into(), requests.len().into());
            let next_cursor = next.map(|(created_at, id)| RequestCursor { created_at, id }.to_string());
            Ok(RequestPage { requests, next_cursor })
        })
        .await
    }

    /// Approve, deny or cancel a request, with an optional comment.
    pub async fn decide(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: String,
        step: Step,
        comment: Option<String>,
    ) -> Result<RequestView, Error> {
        let draft = self.request_draft(caller, http, step.action(), &id, None).await;
        if let Err(e) = self.ensure_unsealed() {
            return Err(self.refuse(draft, e).await);
        }
        let comment = match comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) {
            Some(c) if c.chars().count() > 2000 || c.chars().any(|ch| ch.is_control() && ch != '\n') => {
                return Err(self
                    .refuse(draft, Error::invalid("invalid_request", "a comment is at most 2000 characters"))
                    .await);
            }
            other => other,
        };
        let (orgs, caller, policy) = (Arc::clone(&self.orgs), caller.clone(), self.policy);
        self.audited(draft, move |tx, draft, now| {
            let StoredRequest { id, account_id, mut request } = Self::load_visible(&orgs, tx, &caller, &id)?;
            let (account, party) = visible(&orgs, tx, &caller, &account_id)?;
            let roles: Vec<_> = caller.roles.iter().copied().collect();
            let unix = unix_now();
            let who = &caller.principal;
            let event = match step {
                Step::Approve => {
                    let shared = account.custody.is_shared_with_customer();
                    let done = request.approve(who, &roles, party, shared, policy, comment.clone(), unix)?;
                    done.then_some(Event::RequestApproved)
                }
                Step::Deny => {
                    let shared = account.custody.is_shared_with_customer();
                    request.deny(who, &roles, party, shared, comment.clone(), unix)?;
                    Some(Event::RequestDenied)
                }
                Step::Cancel => {
                    request.cancel(who, unix)?;
                    Some(Event::RequestCancelled)
                }
            };
            store::requests::save(tx, &id, &request)?;
            draft.details.insert("state".into(), request.state.as_str().into());
            draft.details.insert("approvals".into(), request.approvals().count().into());
            if let Some(comment) = &comment {
                draft.details.insert("comment".into(), comment.clone().into());
            }
            if let Some(event) = event {
                notify(tx, &account_id, event, Some(who), data_of(&id, &request), now)?;
            }
            Ok(RequestView::new(StoredRequest { id, account_id, request }, policy.approvals_required(), unix))
        })
        .await
    }

    /// Move every request past a deadline to `expired`, each with its audit
    /// event (actor null) and notification. Returns how many expired.
    pub async fn expire_due(&self) -> Result<usize, Error> {
        // A sealed service or a log found altered changes nothing, not even
        // by the clock (appending the events would be refused anyway).
        if self.ensure_unsealed().is_err() {
            return Ok(0);
        }
        // Most sweeps find nothing: look first, so an idle sweep costs a
        // read instead of a write and an fsync.
        let now = unix_now();
        let due = self
            .store
            .read(move |c| {
                Ok::<_, Error>(store::requests::open(c)?.into_iter().any(|mut r| r.request.expire_if_due(now)))
            })
            .await?;
        if !due {
            return Ok(0);
        }
        self.store
            .write(|batch| {
                let unix = unix_now();
                let now = super::now_rfc3339();
                let mut expired = 0;
                for StoredRequest { id, account_id, mut request } in store::requests::open(batch.conn())? {
                    let before = request.state;
                    if !request.expire_if_due(unix) {
                        continue;
                    }
                    store::requests::save(batch.conn(), &id, &request)?;
                    let target = Target::request(&account_id, &id);
                    let draft = EventDraft::new(None, Action::RequestExpire, target, &HttpInfo::default())
                        .detail("previous_state", before.as_str());
                    if let Err(e) = store::audit::append(batch, draft, &now, Outcome::Ok, None) {
                        batch.rollback()?;
                        return Err(super::audit_failed(e));
                    }
                    notify(batch.conn(), &account_id, Event::RequestExpired, None, data_of(&id, &request), &now)?;
                    expired += 1;
                }
                Ok(expired)
            })
            .await
    }
}
