//! Onboarding (DESIGN §16): the provider's admin starts it, marks the
//! checklist and completes it; deposits of the right side settle
//! `reset_password` and `enable_mfa` on their own (see [`tick`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::store::Conn;
use serde::Serialize;
use serde_json::json;

use super::reverse::SignatoryView;
use super::{Vault, notify, require_provider_admin, require_role, rfc3339, unix_now, visible};
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::domain::account::{Account, CustodyMode};
use crate::domain::consent::side;
use crate::domain::ids::{AccountId, Half, Principal, Role};
use crate::domain::onboarding::{Onboarding, OnboardingError, OnboardingItem, OnboardingState, Start, depositors};
use crate::domain::orgs::Party;
use crate::domain::reverse::ItemStatus;
use crate::error::Error;
use crate::notify::Event;
use crate::store;

/// One settled item as shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MarkView {
    pub status: ItemStatus,
    pub by: String,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

/// Which side deposits each half under the account's custody mode.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DepositorsView {
    pub password: Vec<&'static str>,
    pub mfa: Vec<&'static str>,
}

impl DepositorsView {
    fn of(mode: CustodyMode) -> Self {
        let names = |half| depositors(mode, half).iter().map(|p| side(*p)).collect();
        Self { password: names(Half::Password), mfa: names(Half::Mfa) }
    }
}

/// An account's onboarding as its parties' admins see it. The legal
/// details and the signatory are the customer's of the time: shown to the
/// provider and to that customer only (not to a later one after a move).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OnboardingView {
    pub account_id: AccountId,
    pub state: OnboardingState,
    pub signatory: Option<SignatoryView>,
    pub legal_name: Option<String>,
    pub legal_address: Option<String>,
    pub started_by: Option<String>,
    pub started_at: Option<String>,
    pub checklist: BTreeMap<OnboardingItem, MarkView>,
    pub missing_items: Vec<OnboardingItem>,
    pub depositors: DepositorsView,
    pub completed_by: Option<String>,
    pub completed_at: Option<String>,
}

impl OnboardingView {
    /// The view of `account`, whose onboarding is `state` and, once
    /// started, `record`, for a caller on `party` of org `org`.
    fn new(account: &Account, state: OnboardingState, record: Option<&Onboarding>, who: (Party, &Principal)) -> Self {
        let (party, caller) = who;
        let missing = match (record, state) {
            (Some(o), _) => o.missing_items(),
            (None, OnboardingState::Completed) => Vec::new(),
            (None, _) => OnboardingItem::ALL.to_vec(),
        };
        let theirs = record.filter(|o| party == Party::Provider || o.customer_org.as_ref() == Some(&caller.org));
        Self {
            account_id: account.account_id.clone(),
            state,
            signatory: theirs
                .map(|o| SignatoryView { name: o.signatory.name.clone(), email: o.signatory.email.to_string() }),
            legal_name: theirs.map(|o| o.legal_name.clone()),
            legal_address: theirs.map(|o| o.legal_address.clone()),
            started_by: record.map(|o| o.started_by.to_string()),
            started_at: record.map(|o| rfc3339(o.started_at)),
            checklist: record
                .map(|o| {
                    o.checklist
                        .iter()
                        .map(|(item, m)| {
                            let mark =
                                MarkView { status: m.status, by: m.by.clone(), at: rfc3339(m.at), version: m.version };
                            (*item, mark)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            missing_items: missing,
            depositors: DepositorsView::of(account.custody),
            completed_by: record.and_then(|o| o.completed_by.as_ref()).map(ToString::to_string),
            completed_at: record.and_then(|o| o.completed_at).map(rfc3339),
        }
    }
}

/// A step of the provider's side of onboarding.
#[derive(Debug, Clone, Copy)]
pub enum OnboardingStep {
    Mark(OnboardingItem, ItemStatus),
    Complete,
}

/// The onboarding state of an account.
fn state_of(conn: &Conn, id: &AccountId) -> Result<OnboardingState, Error> {
    Ok(store::accounts::lifecycle(conn, id)?.ok_or(Error::NotFound("account"))?.onboarding)
}

/// Inside the write that stored `version` of `half`, deposited by `by`
/// standing for `party`: settle the half's onboarding item when onboarding
/// is under way and `party` is the side the custody mode gives the half to.
/// The deposit's event names the item (`details.onboarding_item`) and
/// subscribers hear `onboarding.progress`.
#[expect(clippy::too_many_arguments, reason = "each input is a distinct fact of the deposit")]
pub(super) fn tick(
    tx: &Conn,
    account: &Account,
    half: Half,
    party: Option<Party>,
    by: &str,
    version: u32,
    draft: &mut EventDraft,
    now: &str,
) -> Result<(), Error> {
    let id = &account.account_id;
    let (Some(party), Some(mut record)) = (party, store::onboarding::load(tx, id)?) else { return Ok(()) };
    let Some(item) = record.record_deposit(account.custody, half, party, by, version, unix_now()) else {
        return Ok(());
    };
    store::onboarding::save(tx, id, &record)?;
    draft.details.insert("onboarding_item".into(), item.as_str().into());
    let data = json!({"item": item.as_str(), "status": "done", "by": by, "version": version});
    notify(tx, id, Event::OnboardingProgress, draft.actor.as_ref(), data, now)
}

impl Vault {
    /// Start onboarding an account (provider admins).
    pub async fn start_onboarding(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: AccountId,
        start: Start,
    ) -> Result<OnboardingView, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::OnboardingStart, Target::account(&id), http);
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, draft, now| {
            let (account, party) = visible(&orgs, tx, &caller, &id)?;
            super::ensure_active(tx, &id)?;
            require_provider_admin(&caller, party, "starts onboarding")?;
            let record = Onboarding::start(
                state_of(tx, &id)?,
                account.custody,
                account.customer_org.clone(),
                start,
                caller.principal.clone(),
                unix_now(),
            )?;
            store::onboarding::save(tx, &id, &record)?;
            let view = OnboardingView::new(&account, record.state, Some(&record), (party, &caller.principal));
            draft.details.insert("state".into(), record.state.as_str().into());
            let data = json!({"state": record.state.as_str(), "depositors": &view.depositors});
            notify(tx, &id, Event::OnboardingStarted, Some(&caller.principal), data, now)?;
            Ok(view)
        })
        .await
    }

    /// State and checklist, to the admins of the account's parties.
    pub async fn onboarding(&self, caller: &Caller, http: &HttpInfo, id: AccountId) -> Result<OnboardingView, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::OnboardingRead, Target::account(&id), http);
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, _, _| {
            let (account, party) = visible(&orgs, tx, &caller, &id)?;
            require_role(&caller, Role::Admin, "following an onboarding")?;
            let record = store::onboarding::load(tx, &id)?;
            Ok(OnboardingView::new(&account, state_of(tx, &id)?, record.as_ref(), (party, &caller.principal)))
        })
        .await
    }

    /// Mark a checklist item, or complete the onboarding (provider admins).
    pub async fn onboarding_step(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: AccountId,
        step: OnboardingStep,
    ) -> Result<OnboardingView, Error> {
        let action = match step {
            OnboardingStep::Mark(..) => Action::OnboardingChecklist,
            OnboardingStep::Complete => Action::OnboardingComplete,
        };
        let draft = EventDraft::new(Some(&caller.principal), action, Target::account(&id), http);
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, draft, now| {
            let (account, party) = visible(&orgs, tx, &caller, &id)?;
            super::ensure_active(tx, &id)?;
            require_provider_admin(&caller, party, "works through the onboarding")?;
            let Some(mut record) = store::onboarding::load(tx, &id)? else {
                return Err(match state_of(tx, &id)? {
                    OnboardingState::NotStarted => {
                        Error::conflict("onboarding_rule", "onboarding of this account has not started")
                    }
                    _ => OnboardingError::AlreadyOnboarded.into(),
                });
            };
            let who = &caller.principal;
            let (event, data) = match step {
                OnboardingStep::Mark(item, status) => {
                    record.mark(item, status, who, unix_now())?;
                    draft.details.insert("item".into(), item.as_str().into());
                    draft.details.insert("status".into(), status.as_str().into());
                    (
                        Event::OnboardingProgress,
                        json!({"item": item.as_str(), "status": status.as_str(), "by": who.to_string()}),
                    )
                }
                OnboardingStep::Complete => {
                    record.complete(who.clone(), unix_now())?;
                    (Event::OnboardingCompleted, json!({"state": "completed"}))
                }
            };
            store::onboarding::save(tx, &id, &record)?;
            draft.details.insert("state".into(), record.state.as_str().into());
            notify(tx, &id, event, Some(who), data, now)?;
            Ok(OnboardingView::new(&account, record.state, Some(&record), (party, who)))
        })
        .await
    }
}
