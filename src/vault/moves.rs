//! DDI moves (DESIGN §16): the current customer's admin asks to move an
//! account to another customer, the provider's admin confirms and, on the
//! date, completes it.
//!
//! Completion is one audited write: the account's customer changes; the old
//! customer's custodians are retired and the halves it held or knows are
//! crypto-shredded (like a hand-off, for those halves only); its webhook
//! subscribers stop; open requests are cancelled with a reason and pending
//! links revoked; a cancelled hand-back of the old customer is forgotten.
//! From then on nobody of the old customer can see or receive anything of
//! the account; its auditors keep the history up to and including the move
//! (the completion event is scoped to them too), and nothing after.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use super::{CustodyRecords, Vault, notify, require_provider_admin, require_role, rfc3339, visible};
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::domain::account::Account;
use crate::domain::ids::{AccountId, Half, OrgName, Role};
use crate::domain::moves::{Move, MoveAsk, MoveState, retired_halves};
use crate::domain::orgs::Party;
use crate::domain::reverse::RaState;
use crate::error::Error;
use crate::notify::Event;
use crate::store::moves::StoredMove;
use crate::store::{self, Conn};

/// Why the service cancels the open requests of a moved account.
const MOVED_REASON: &str = "the account moved to another customer";

/// A move as its parties' admins see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MoveView {
    pub id: String,
    pub account_id: AccountId,
    pub state: MoveState,
    pub from_customer_org: OrgName,
    pub to_customer_org: OrgName,
    pub move_date: String,
    pub fee_acknowledged: bool,
    pub in_window: bool,
    pub requested_by: String,
    pub requested_at: String,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<String>,
    pub completed_by: Option<String>,
    pub completed_at: Option<String>,
    pub cancelled_by: Option<String>,
    pub cancelled_at: Option<String>,
    pub retired_halves: Vec<Half>,
}

impl From<&StoredMove> for MoveView {
    fn from(stored: &StoredMove) -> Self {
        let m = &stored.record;
        let who = |p: &Option<crate::domain::ids::Principal>| p.as_ref().map(ToString::to_string);
        Self {
            id: stored.id.clone(),
            account_id: stored.account_id.clone(),
            state: m.state,
            from_customer_org: m.from_customer_org.clone(),
            to_customer_org: m.to_customer_org.clone(),
            move_date: m.move_date.to_string(),
            fee_acknowledged: m.fee_acknowledged,
            in_window: m.in_window,
            requested_by: m.requested_by.to_string(),
            requested_at: rfc3339(m.requested_at),
            confirmed_by: who(&m.confirmed_by),
            confirmed_at: m.confirmed_at.map(rfc3339),
            completed_by: who(&m.completed_by),
            completed_at: m.completed_at.map(rfc3339),
            cancelled_by: who(&m.cancelled_by),
            cancelled_at: m.cancelled_at.map(rfc3339),
            retired_halves: m.retired_halves.clone(),
        }
    }
}

/// A step of a move after it was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveStep {
    /// The provider's admin accepts it.
    Confirm,
    /// The provider's admin carries it out, on or after its date.
    Complete,
    /// Either side's admin withdraws it before it happens.
    Cancel,
}

impl MoveStep {
    pub fn action(self) -> Action {
        match self {
            MoveStep::Confirm => Action::MoveConfirm,
            MoveStep::Complete => Action::MoveComplete,
            MoveStep::Cancel => Action::MoveCancel,
        }
    }
}

/// Move ids are `mov_` and 32 hex digits; anything else is unknown.
fn valid_id(id: &str) -> bool {
    id.len() == 36 && id.starts_with("mov_") && id[4..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// What a move's webhook and notice carry.
fn data_of(stored: &StoredMove) -> serde_json::Value {
    let m = &stored.record;
    json!({
        "move_id": stored.id,
        "state": m.state.as_str(),
        "from_customer_org": m.from_customer_org.as_str(),
        "to_customer_org": m.to_customer_org.as_str(),
        "move_date": m.move_date.to_string(),
        "fee_acknowledged": m.fee_acknowledged,
        "in_window": m.in_window,
    })
}

/// Whether the caller's side may see `stored`: the provider always, a
/// customer the moves it is party to.
fn may_see(party: Party, org: &OrgName, stored: &StoredMove) -> bool {
    party == Party::Provider || stored.record.from_customer_org == *org || stored.record.to_customer_org == *org
}

/// Refuse while the account is being handed back: a move and a reverse
/// assumption do not mix.
fn ensure_no_open_reverse(conn: &Conn, id: &AccountId) -> Result<(), Error> {
    let open = store::reverse::load(conn, id)?
        .is_some_and(|r| r.workflow.state.is_open() || r.workflow.state == RaState::HandedOff);
    if open {
        return Err(Error::conflict(
            "reverse_assumption_open",
            "the account is being handed back to its customer: it cannot move to another one",
        ));
    }
    Ok(())
}

/// The stored move `move_id` of account `id`, if `caller`'s side may see it.
fn load_visible_move(
    conn: &Conn,
    id: &AccountId,
    move_id: &str,
    party: Party,
    caller: &Caller,
) -> Result<StoredMove, Error> {
    let not_found = || Error::NotFound("move");
    if !valid_id(move_id) {
        return Err(not_found());
    }
    let stored = store::moves::load(conn, move_id)?.ok_or_else(not_found)?;
    if stored.account_id != *id || !may_see(party, &caller.principal.org, &stored) {
        return Err(not_found());
    }
    Ok(stored)
}

impl Vault {
    /// The current customer's admin asks to move the account.
    pub async fn request_move(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: AccountId,
        ask: MoveAsk,
    ) -> Result<MoveView, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::MoveRequest, Target::account(&id), http);
        let (orgs, caller, windows) = (Arc::clone(&self.orgs), caller.clone(), Arc::clone(&self.move_windows));
        let calendar = self.calendar_now();
        self.audited(draft, move |tx, draft, now| {
            let (account, party) = visible(&orgs, tx, &caller, &id)?;
            super::ensure_active(tx, &id)?;
            let from = match (&account.customer_org, party) {
                (Some(org), Party::Customer) if caller.has_role(Role::Admin) => org.clone(),
                _ => return Err(Error::forbidden("forbidden", "only the account's customer admin asks to move it")),
            };
            ensure_no_open_reverse(tx, &id)?;
            if store::moves::has_open(tx, &id)? {
                return Err(Error::conflict("move_exists", "a move of this account is already under way"));
            }
            let to_is_customer = orgs.is_customer(&ask.to_customer_org);
            let (today, unix) = (calendar.date(), calendar.unix_timestamp());
            let record = Move::request(from, ask, to_is_customer, &windows, (today, unix), caller.principal.clone())?;
            let stored = StoredMove { id: format!("mov_{}", uuid::Uuid::new_v4().simple()), account_id: id, record };
            store::moves::insert(tx, &stored)?;
            let data = data_of(&stored);
            draft.details = data.as_object().cloned().unwrap_or_default();
            notify(tx, &stored.account_id, Event::MoveRequested, Some(&caller.principal), data, now)?;
            Ok(MoveView::from(&stored))
        })
        .await
    }

    /// The account's moves its parties' admins may see, oldest first.
    pub async fn moves(&self, caller: &Caller, http: &HttpInfo, id: AccountId) -> Result<Vec<MoveView>, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::MoveRead, Target::account(&id), http);
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, _, _| {
            let (_, party) = visible(&orgs, tx, &caller, &id)?;
            require_role(&caller, Role::Admin, "following moves")?;
            Ok(store::moves::for_account(tx, &id)?
                .iter()
                .filter(|m| may_see(party, &caller.principal.org, m))
                .map(MoveView::from)
                .collect())
        })
        .await
    }

    /// One move of the account.
    pub async fn move_view(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: AccountId,
        move_id: String,
    ) -> Result<MoveView, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::MoveRead, Target::account(&id), http)
            .detail("move_id", move_id.chars().take(64).collect::<String>());
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, _, _| {
            let (_, party) = visible(&orgs, tx, &caller, &id)?;
            require_role(&caller, Role::Admin, "following moves")?;
            Ok(MoveView::from(&load_visible_move(tx, &id, &move_id, party, &caller)?))
        })
        .await
    }

    /// Confirm, complete or cancel a move.
    pub async fn move_step(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: AccountId,
        move_id: String,
        step: MoveStep,
    ) -> Result<MoveView, Error> {
        let draft = EventDraft::new(Some(&caller.principal), step.action(), Target::account(&id), http)
            .detail("move_id", move_id.chars().take(64).collect::<String>());
        let (orgs, caller, calendar) = (Arc::clone(&self.orgs), caller.clone(), self.calendar_now());
        let view = self
            .audited(draft, move |tx, draft, now| {
                let (account, party) = visible(&orgs, tx, &caller, &id)?;
                super::ensure_active(tx, &id)?;
                let mut stored = load_visible_move(tx, &id, &move_id, party, &caller)?;
                let (who, unix) = (caller.principal.clone(), calendar.unix_timestamp());
                let event = match step {
                    MoveStep::Confirm => {
                        require_provider_admin(&caller, party, "confirms a move")?;
                        stored.record.confirm(who, unix)?;
                        Event::MoveConfirmed
                    }
                    MoveStep::Cancel => {
                        require_role(&caller, Role::Admin, "cancelling a move")?;
                        stored.record.cancel(who, unix)?;
                        Event::MoveCancelled
                    }
                    MoveStep::Complete => {
                        require_provider_admin(&caller, party, "completes a move")?;
                        stored.record.check_complete(calendar.date())?;
                        let retired = Self::hand_over(tx, &orgs, &account, &stored, draft, now)?;
                        stored.record.complete(who, calendar.date(), unix, retired)?;
                        Event::MoveCompleted
                    }
                };
                store::moves::save(tx, &stored)?;
                let mut data = data_of(&stored);
                for (key, value) in draft.details.clone() {
                    data[key.as_str()] = value;
                }
                draft.details = data.as_object().cloned().unwrap_or_default();
                notify(tx, &id, event, Some(&caller.principal), data, now)?;
                Ok(MoveView::from(&stored))
            })
            .await?;
        if !view.retired_halves.is_empty() {
            self.forget_shredded().await;
        }
        Ok(view)
    }

    /// Inside the completing write: take the account from its old customer
    /// and give it to the new one. Returns the halves destroyed.
    fn hand_over(
        tx: &Conn,
        orgs: &crate::domain::orgs::OrgDirectory,
        account: &Account,
        stored: &StoredMove,
        draft: &mut EventDraft,
        now: &str,
    ) -> Result<Vec<Half>, Error> {
        let (id, from, to) = (&account.account_id, &stored.record.from_customer_org, &stored.record.to_customer_org);
        if account.customer_org.as_ref() != Some(from) {
            return Err(Error::conflict(
                "move_rule",
                "the account no longer belongs to the customer that asked to move it",
            ));
        }
        if !orgs.is_customer(to) {
            return Err(Error::conflict("move_rule", "the destination is no longer a known customer organisation"));
        }
        ensure_no_open_reverse(tx, id)?;
        let records = CustodyRecords::of_account(tx, id)?;
        let retired = retired_halves(account.custody, &records.sets, &records.exposures, records.current, from);
        for half in &retired {
            store::halves::shred(tx, id, *half, now)?;
        }
        let custodians = store::custodians::retire_org(tx, id, from)?;
        let subscribers = store::outbox::remove_org_subscribers(tx, id, from, now)?;
        let requests = super::requests::withdraw_open(tx, id, MOVED_REASON, now)?;
        store::links::revoke_all(tx, id, now)?;
        if store::reverse::load(tx, id)?.is_some_and(|r| r.workflow.state == RaState::Cancelled) {
            store::reverse::forget(tx, id)?;
        }
        store::accounts::move_to(tx, id, to)?;
        // The old customer's last event of this account is this one.
        draft.former_customer = Some(from.clone());
        let names: Vec<String> = custodians.iter().map(ToString::to_string).collect();
        draft.details.insert("retired_halves".into(), json!(retired));
        draft.details.insert("custodians_retired".into(), names.into());
        draft.details.insert("subscribers_removed".into(), subscribers.into());
        draft.details.insert("requests_cancelled".into(), requests.len().into());
        draft.details.insert("cancelled_request_ids".into(), requests.into());
        Ok(retired)
    }
}
