//! Reverse assumption: the customer takes its account back (DESIGN §9).
//!
//! The customer's admin asks; the provider's admin schedules a weekday (after
//! the 15th for a dedicated payer), confirms the balance and ticks the
//! checklist; the hand-off then creates a link to the signatory. When that
//! link is used, custody ends: the data keys of every half version are
//! destroyed, custodians are cleared and the account becomes read-only history.
//! A public-sector or AWS India account is handed off only once both sides
//! marked the consent to assignment signed.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::store::Conn;
use serde::Serialize;
use time::Date;

use super::links::{id_hash, log_hash, new_link_id, seal_for_link};
use super::{Vault, notify, now_rfc3339, require_role, unix_now, visible};
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::domain::account::Account;
use crate::domain::account::Email;
use crate::domain::consent::{Consent, ConsentError, ConsentMark, side};
use crate::domain::ids::{AccountId, Half, Role};
use crate::domain::links::{DEFAULT_TTL_MINUTES, LinkState, Purpose, effective_state};
use crate::domain::orgs::{OrgDirectory, Party};
use crate::domain::reverse::{ChecklistItem, HandoffKind, ItemStatus, RaError, RaState, ReverseAssumption, Signatory};
use crate::error::Error;
use crate::notify::Event;
use crate::store::links::StoredLink;
use crate::store::reverse::StoredReverse;
use crate::store::{self};

fn ra_error(e: RaError) -> Error {
    match e {
        RaError::Consent(consent) => consent.into(),
        other => Error::conflict("reverse_assumption_rule", other.to_string()),
    }
}

/// A reverse assumption as its parties see it: its own type, with times in
/// RFC 3339 like every other view. `Debug` leaves out the hand-off URL,
/// which carries a link key.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReverseView {
    pub account_id: AccountId,
    pub state: RaState,
    pub new_root_email: String,
    pub signatory: SignatoryView,
    pub requested_date: String,
    pub requested_by: String,
    pub scheduled_date: Option<String>,
    pub balance_confirmed_at: Option<String>,
    pub checklist: BTreeMap<ChecklistItem, ItemStatus>,
    pub handed_off_at: Option<String>,
    pub handoff: Option<HandoffKind>,
    pub completed_at: Option<String>,
    pub cancelled_at: Option<String>,
    pub missing_items: Vec<ChecklistItem>,
    pub consent: ConsentView,
    pub link: Option<HandoffLinkView>,
    /// The hand-off URL, to the customer's admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_url: Option<String>,
}

/// The state of the hand-off link, as both sides see it (never its URL).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HandoffLinkView {
    pub purpose: Purpose,
    pub state: LinkState,
    pub expires_at: String,
    pub used_at: Option<String>,
}

/// Who signs for the customer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignatoryView {
    pub name: String,
    pub email: String,
}

/// The consent to assignment: whether the account needs it, and each
/// side's mark.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentView {
    pub required: bool,
    pub provider: Option<ConsentMarkView>,
    pub customer: Option<ConsentMarkView>,
    /// The sides still to mark, when it is required.
    pub missing: Vec<&'static str>,
}

/// One side's mark.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentMarkView {
    pub by: String,
    pub at: String,
}

impl ConsentView {
    fn new(consent: &Consent, required: bool) -> Self {
        let mark = |m: &Option<ConsentMark>| {
            m.as_ref().map(|m| ConsentMarkView { by: m.by.to_string(), at: super::rfc3339(m.at) })
        };
        Self {
            required,
            provider: mark(&consent.provider),
            customer: mark(&consent.customer),
            missing: if required { consent.missing() } else { Vec::new() },
        }
    }
}

impl ReverseView {
    fn new(account: &Account, w: &ReverseAssumption, link: Option<HandoffLinkView>, link_url: Option<String>) -> Self {
        let at = |t: Option<i64>| t.map(super::rfc3339);
        Self {
            account_id: account.account_id.clone(),
            state: w.state,
            new_root_email: w.new_root_email.to_string(),
            signatory: SignatoryView { name: w.signatory.name.clone(), email: w.signatory.email.to_string() },
            requested_date: w.requested_date.to_string(),
            requested_by: w.requested_by.to_string(),
            scheduled_date: w.scheduled_date.map(|d| d.to_string()),
            balance_confirmed_at: at(w.balance_confirmed_at),
            checklist: w.checklist.clone(),
            handed_off_at: at(w.handed_off_at),
            handoff: w.handoff,
            completed_at: at(w.completed_at),
            cancelled_at: at(w.cancelled_at),
            missing_items: w.missing_items(),
            consent: ConsentView::new(&w.consent, account.assignment.needs_consent()),
            link,
            link_url,
        }
    }
}

impl std::fmt::Debug for ReverseView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReverseView")
            .field("account_id", &self.account_id)
            .field("state", &self.state)
            .field("link", &self.link)
            .finish_non_exhaustive()
    }
}

/// One step of the provider's side of the workflow.
#[derive(Debug)]
pub enum ReverseStep {
    Schedule(Date),
    ConfirmBalance,
    Checklist(ChecklistItem, ItemStatus),
    Handoff(HandoffKind),
    Cancel,
    /// Mark the consent to assignment signed for the caller's side.
    Consent,
}

/// Whether `caller` may take `step` of the hand-back of `id`: the provider's
/// admin runs it; the customer's admin may only cancel and mark the
/// customer's consent. Returns the account and the caller's side.
fn authorize_step(
    orgs: &OrgDirectory,
    conn: &Conn,
    caller: &Caller,
    id: &AccountId,
    step: &ReverseStep,
) -> Result<(Account, Party), Error> {
    let (account, party) = visible(orgs, conn, caller, id)?;
    super::ensure_active(conn, id)?;
    let customer_may = matches!(step, ReverseStep::Cancel | ReverseStep::Consent) && party == Party::Customer;
    if (party != Party::Provider && !customer_may) || !caller.has_role(Role::Admin) {
        return Err(Error::forbidden("forbidden", "the provider's admin runs the hand-back"));
    }
    Ok((account, party))
}

/// A hand-off of a public-sector or AWS India account waits for both
/// sides' consent to assignment.
fn check_handoff_consent(conn: &Conn, account: &Account) -> Result<(), Error> {
    let stored = store::reverse::load(conn, &account.account_id)?.ok_or(Error::NotFound("reverse assumption"))?;
    stored.workflow.check_consent(account.assignment.needs_consent()).map_err(ra_error)
}

impl Vault {
    fn load_reverse(tx: &Conn, id: &AccountId) -> Result<StoredReverse, Error> {
        store::reverse::load(tx, id)?.ok_or(Error::NotFound("reverse assumption"))
    }

    /// The customer's admin asks for the account back.
    pub async fn request_reverse(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: AccountId,
        new_root_email: Email,
        signatory: Signatory,
        requested_date: Date,
    ) -> Result<ReverseView, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::ReverseRequest, Target::account(&id), http);
        if let Err(e) = self.ensure_unsealed() {
            return Err(self.refuse(draft, e).await);
        }
        let (orgs, caller, today) = (Arc::clone(&self.orgs), caller.clone(), self.calendar_now().date());
        self.audited(draft, move |tx, draft, _| {
            let (account, party) = visible(&orgs, tx, &caller, &id)?;
            super::ensure_active(tx, &id)?;
            if party != Party::Customer || !caller.has_role(Role::Admin) {
                return Err(Error::forbidden("forbidden", "only the customer's admin asks for a reverse assumption"));
            }
            if !account.custody.stores_halves() {
                return Err(Error::conflict("nothing_in_custody", "the customer already owns this account's root"));
            }
            if store::reverse::load(tx, &id)?
                .is_some_and(|r| !matches!(r.workflow.state, RaState::Completed | RaState::Cancelled))
            {
                return Err(Error::conflict("reverse_assumption_exists", "a reverse assumption is already under way"));
            }
            if store::moves::has_open(tx, &id)? {
                return Err(Error::conflict(
                    "move_pending",
                    "a move of this account to another customer is under way; cancel it first",
                ));
            }
            let workflow = ReverseAssumption::request(
                new_root_email,
                signatory,
                requested_date,
                caller.principal.clone(),
                account.dedicated_payer,
                today,
            )
            .map_err(ra_error)?;
            draft.details.insert("requested_date".into(), requested_date.to_string().into());
            let stored = StoredReverse { workflow, link_id_hash: None, sealed_url: None };
            store::reverse::save(tx, &id, &stored)?;
            Ok(ReverseView::new(&account, &stored.workflow, None, None))
        })
        .await
    }

    /// State, dates, checklist and link status; the URL to customer admins.
    pub async fn reverse_view(&self, caller: &Caller, http: &HttpInfo, id: AccountId) -> Result<ReverseView, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::ReverseRead, Target::account(&id), http);
        let (orgs, caller, log) = (Arc::clone(&self.orgs), caller.clone(), Arc::clone(self.store.log()));
        self.audited(draft, move |tx, _, _| {
            let (account, party) = visible(&orgs, tx, &caller, &id)?;
            require_role(&caller, Role::Admin, "following a reverse assumption")?;
            let stored = Self::load_reverse(tx, &id)?;
            let link = match &stored.link_id_hash {
                Some(hash) => store::links::load(tx, hash)?.map(|l| HandoffLinkView {
                    purpose: l.purpose,
                    state: effective_state(l.state, l.expires_at, unix_now()),
                    expires_at: super::rfc3339(l.expires_at),
                    used_at: l.used_at,
                }),
                None => None,
            };
            let link_url = match (&stored.sealed_url, party, log.keys()) {
                (Some(sealed), Party::Customer, Some(keys)) => {
                    let url = keys.open(id.as_str().as_bytes(), sealed).map_err(Error::from)?;
                    Some(String::from_utf8_lossy(&url).into_owned())
                }
                _ => None,
            };
            Ok(ReverseView::new(&account, &stored.workflow, link, link_url))
        })
        .await
    }

    /// The provider's admin moves the workflow on.
    pub async fn reverse_step(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: AccountId,
        step: ReverseStep,
    ) -> Result<ReverseView, Error> {
        let action = match step {
            ReverseStep::Schedule(_) => Action::ReverseSchedule,
            ReverseStep::ConfirmBalance => Action::ReverseConfirmBalance,
            ReverseStep::Checklist(..) => Action::ReverseChecklist,
            ReverseStep::Handoff(_) => Action::ReverseHandoff,
            ReverseStep::Cancel => Action::ReverseCancel,
            ReverseStep::Consent => Action::ReverseConsent,
        };
        let draft = EventDraft::new(Some(&caller.principal), action, Target::account(&id), http);
        if let Err(e) = self.ensure_unsealed() {
            return Err(self.refuse(draft, e).await);
        }
        // A deliver hand-off needs the current password, decrypted before the
        // write; only for someone the step is for, so that nobody else makes
        // the service decrypt anything (or learns more than the 404 everyone
        // gets for an account they may not see).
        let handoff = match &step {
            ReverseStep::Handoff(kind) => {
                let prepared = async {
                    let (orgs, who, account) = (Arc::clone(&self.orgs), caller.clone(), id.clone());
                    let step = ReverseStep::Handoff(*kind);
                    self.store
                        .read(move |conn| {
                            let (account, _) = authorize_step(&orgs, conn, &who, &account, &step)?;
                            check_handoff_consent(conn, &account)
                        })
                        .await?;
                    self.prepare_handoff(*kind, &id).await
                };
                match prepared.await {
                    Ok(h) => Some(h),
                    Err(e) => return Err(self.refuse(draft, e).await),
                }
            }
            _ => None,
        };
        let (orgs, caller, log) = (Arc::clone(&self.orgs), caller.clone(), Arc::clone(self.store.log()));
        let calendar = self.calendar_now();
        self.audited(draft, move |tx, draft, now| {
            let (account, party) = authorize_step(&orgs, tx, &caller, &id, &step)?;
            let mut stored = Self::load_reverse(tx, &id)?;
            let (day, unix) = (calendar.date(), calendar.unix_timestamp());
            let w = &mut stored.workflow;
            match step {
                ReverseStep::Schedule(date) => {
                    w.schedule(date, account.dedicated_payer, day).map_err(ra_error)?;
                    draft.details.insert("date".into(), date.to_string().into());
                }
                ReverseStep::ConfirmBalance => w.confirm_balance(unix).map_err(ra_error)?,
                ReverseStep::Checklist(item, status) => {
                    w.mark(item, status).map_err(ra_error)?;
                    draft.details.insert("item".into(), item.as_str().into());
                    draft.details.insert("status".into(), serde_json::to_value(status).unwrap_or_default());
                }
                ReverseStep::Cancel => w.cancel(unix).map_err(ra_error)?,
                ReverseStep::Consent => {
                    if !account.assignment.needs_consent() {
                        return Err(ConsentError::NotRequired.into());
                    }
                    w.mark_consent(party, caller.principal.clone(), unix).map_err(ra_error)?;
                    let (side, missing) = (side(party), w.consent.missing());
                    draft.details.insert("side".into(), side.into());
                    let data =
                        serde_json::json!({"side": side, "by": caller.principal.to_string(), "missing": missing});
                    notify(tx, &id, Event::ConsentMarked, Some(&caller.principal), data, now)?;
                }
                ReverseStep::Handoff(kind) => {
                    w.check_consent(account.assignment.needs_consent()).map_err(ra_error)?;
                    w.hand_off(kind, day, unix).map_err(ra_error)?;
                    let Some(Handoff { id: link_id, url, mut link }) = handoff else {
                        return Err(Error::Internal("hand-off was not prepared".into()));
                    };
                    link.recipient_name = w.signatory.name.clone();
                    link.recipient_email = w.signatory.email.to_string();
                    link.created_by = caller.principal.to_string();
                    link.base_version = store::halves::current_versions(tx, &id)?.of(link.half);
                    store::links::insert(tx, &link)?;
                    let keys = log.keys().ok_or(Error::Sealed)?;
                    stored.sealed_url = Some(keys.seal(id.as_str().as_bytes(), url.as_bytes()).map_err(Error::from)?);
                    stored.link_id_hash = Some(link.id_hash.clone());
                    draft.target.link_id_hash = Some(log_hash(&link_id));
                    draft.details.insert("kind".into(), serde_json::to_value(kind).unwrap_or_default());
                }
            }
            store::reverse::save(tx, &id, &stored)?;
            draft.details.insert("state".into(), stored.workflow.state.as_str().into());
            Ok(ReverseView::new(&account, &stored.workflow, None, None))
        })
        .await
    }

    /// Build the hand-off link (not yet stored): for `deliver`, the root email
    /// and current password sealed under a fresh key that only the URL holds.
    async fn prepare_handoff(&self, kind: HandoffKind, id: &AccountId) -> Result<Handoff, Error> {
        let link_id = new_link_id();
        let now = unix_now();
        let mut link = StoredLink {
            id_hash: id_hash(&link_id),
            purpose: match kind {
                HandoffKind::Deliver => Purpose::Deliver,
                HandoffKind::Collect => Purpose::Collect,
            },
            account_id: id.clone(),
            half: Half::Password,
            created_by: String::new(),
            created_at: now_rfc3339(),
            expires_at: now + i64::from(DEFAULT_TTL_MINUTES) * 60,
            recipient_name: String::new(),
            recipient_email: String::new(),
            request_id: None,
            handoff: true,
            ciphertext: None,
            passphrase_hash: None,
            attempts: 0,
            state: LinkState::Pending,
            used_at: None,
            revoked_at: None,
            // Bound to the half as it is when the hand-off is made (below).
            base_version: None,
            made_as_admin: true,
        };
        let url = match kind {
            HandoffKind::Collect => self.link_url(&link_id, None),
            HandoffKind::Deliver => {
                let (_, password) = self.decrypt_for_release(id, Half::Password).await?;
                let account = {
                    let a = id.clone();
                    self.store.read(move |c| store::accounts::get(c, &a)).await?.ok_or(Error::NotFound("account"))?
                };
                let password = String::from_utf8(password.to_vec())
                    .map_err(|_| Error::Internal("stored password is not UTF-8".into()))?;
                let payload = zeroize::Zeroizing::new(
                    serde_json::json!({"account_id": id.as_str(), "root_email": account.root_email.as_str(), "password": password}).to_string(),
                );
                let (key, ciphertext) = seal_for_link(&link_id, payload.as_bytes())?;
                link.ciphertext = Some(ciphertext);
                self.link_url(&link_id, Some(&key))
            }
        };
        Ok(Handoff { id: link_id, url, link })
    }

    /// The hand-off link was used: custody ends, inside the caller's write.
    pub(super) fn finish_handoff(
        &self,
        tx: &Conn,
        id: &AccountId,
        draft: &mut EventDraft,
        now: &str,
    ) -> Result<(), Error> {
        let Some(mut stored) = store::reverse::load(tx, id)? else { return Ok(()) };
        stored.workflow.complete(unix_now()).map_err(ra_error)?;
        store::reverse::save(tx, id, &stored)?;
        self.end_custody(tx, id, "returned", now)?;
        draft.details.insert("custody".into(), "ended".into());
        Ok(())
    }

    /// Destroy the keys, clear custody, revoke pending links, tell subscribers.
    pub(super) fn end_custody(&self, tx: &Conn, id: &AccountId, status: &str, now: &str) -> Result<(), Error> {
        store::accounts::end_custody(tx, id, status)?;
        store::links::revoke_all(tx, id, now)?;
        notify(tx, id, Event::CustodyEnded, None, serde_json::json!({"status": status}), now)?;
        Ok(())
    }

    /// After custody ended: make sure the destroyed keys leave the disk too.
    pub(super) async fn forget_shredded(&self) {
        if let Err(e) = self.store.truncate_wal().await {
            tracing::warn!(error = %e, "the write-ahead log could not be truncated after a shred");
        }
    }
}

/// A prepared hand-off link and its URL.
struct Handoff {
    id: String,
    url: String,
    link: StoredLink,
}
