//! Registering, reading and changing accounts.

use std::sync::Arc;

use serde::Serialize;

use serde_json::json;

use super::{Vault, notify, require_role, rfc3339, visible};
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::domain::account::{Account, Contacts, Email, NewAccount, clean_name};
use crate::domain::closure::{AccountStatus, reopen_deadline};
use crate::domain::custody::CustodianSets;
use crate::domain::ids::{AccountId, Principal, Role};
use crate::domain::onboarding::OnboardingState;
use crate::error::Error;
use crate::notify::Event;
use crate::store::{self, Conn};

/// Who holds which half, as shown to the account's parties.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustodiansView {
    pub password: Vec<Principal>,
    pub mfa: Vec<Principal>,
}

impl From<CustodianSets> for CustodiansView {
    fn from(sets: CustodianSets) -> Self {
        Self { password: sets.password.into_iter().collect(), mfa: sets.mfa.into_iter().collect() }
    }
}

/// An account's metadata and custodians. Never a secret.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    #[serde(flatten)]
    pub account: Account,
    pub custodians: CustodiansView,
    /// Whether a released password waits for its rotation (invariant 7).
    pub rotation_due: bool,
    /// `onboarding` (until onboarded), `active`, `closed`,
    /// `closed_permanently` or `returned`.
    pub status: &'static str,
    pub onboarding: OnboardingState,
    /// When a closed account was closed, and until when it may be reopened.
    pub closed_at: Option<String>,
    pub reopen_until: Option<String>,
}

/// An account's view as stored now.
pub(super) fn view_of(tx: &Conn, account: Account) -> Result<AccountView, Error> {
    let id = account.account_id.clone();
    let custodians = store::custodians::load(tx, &id)?.into();
    let rotation_due = store::halves::status(tx, &id)?.iter().any(|h| h.rotation_due);
    let life = store::accounts::lifecycle(tx, &id)?.ok_or(Error::NotFound("account"))?;
    Ok(AccountView {
        account,
        custodians,
        rotation_due,
        status: life.status.shown(life.onboarding),
        onboarding: life.onboarding,
        closed_at: life.closed_at.map(rfc3339),
        reopen_until: life
            .closed_at
            .filter(|_| life.status == AccountStatus::Closed)
            .map(|at| rfc3339(reopen_deadline(at))),
    })
}

/// What `PATCH /v1/accounts/{id}` may change; absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    pub name: Option<String>,
    pub root_email: Option<Email>,
    pub contacts: Option<Contacts>,
    pub public_sector: Option<bool>,
    pub aws_india: Option<bool>,
}

impl AccountChanges {
    /// Apply to `account`; returns the names of the fields that changed.
    fn apply(self, account: &mut Account) -> Result<Vec<&'static str>, Error> {
        let mut changed = Vec::new();
        if let Some(name) = self.name {
            let name = clean_name(&name)?;
            if name != account.name {
                account.name = name;
                changed.push("name");
            }
        }
        if let Some(email) = self.root_email.filter(|e| *e != account.root_email) {
            account.root_email = email;
            changed.push("root_email");
        }
        if let Some(contacts) = self.contacts.filter(|c| *c != account.contacts) {
            account.contacts = contacts;
            changed.push("contacts");
        }
        if let Some(flag) = self.public_sector.filter(|f| *f != account.assignment.public_sector) {
            account.assignment.public_sector = flag;
            changed.push("public_sector");
        }
        if let Some(flag) = self.aws_india.filter(|f| *f != account.assignment.aws_india) {
            account.assignment.aws_india = flag;
            changed.push("aws_india");
        }
        Ok(changed)
    }
}

impl Vault {
    /// Register an account (provider admins only).
    pub async fn create_account(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        new: NewAccount,
    ) -> Result<AccountView, Error> {
        let draft =
            EventDraft::new(Some(&caller.principal), Action::AccountCreate, Target::account(&new.account_id), http);
        let checked = self.ensure_unsealed().and_then(|()| {
            if !self.orgs.is_provider(&caller.principal.org) {
                return Err(Error::forbidden("forbidden", "only the provider registers accounts"));
            }
            require_role(caller, Role::Admin, "registering an account")?;
            let account = new.validate(&self.orgs)?;
            if !account.kms_keys.is_empty() && !self.keys.supports_key_overrides() {
                return Err(Error::invalid(
                    "key_override_unsupported",
                    format!("the {} key provider does not support per-account keys", self.keys.kind()),
                ));
            }
            Ok(account)
        });
        let account = match checked {
            Ok(account) => account,
            Err(e) => return Err(self.refuse(draft, e).await),
        };
        let by = caller.principal.clone();
        self.audited(draft, move |tx, draft, now| {
            if store::accounts::get(tx, &account.account_id)?.is_some() {
                return Err(Error::conflict("account_exists", "an account with this id is already registered"));
            }
            store::accounts::insert(tx, &account, &by, now)?;
            draft.details.insert("custody".into(), account.custody.as_str().into());
            view_of(tx, account)
        })
        .await
    }

    /// Change an account's details (provider admins): name, root e-mail,
    /// contacts, and whether it is public sector or AWS India.
    pub async fn update_account(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: AccountId,
        changes: AccountChanges,
    ) -> Result<AccountView, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::AccountUpdate, Target::account(&id), http);
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, draft, now| {
            let (mut account, party) = visible(&orgs, tx, &caller, &id)?;
            super::ensure_active(tx, &id)?;
            super::require_provider_admin(&caller, party, "changes an account's details")?;
            let changed = changes.apply(&mut account)?;
            draft.details.insert("changed".into(), changed.clone().into());
            if !changed.is_empty() {
                store::accounts::update_details(tx, &account)?;
                notify(tx, &id, Event::AccountUpdated, Some(&caller.principal), json!({"changed": changed}), now)?;
            }
            view_of(tx, account)
        })
        .await
    }

    /// One account, if the caller's org is a party to it.
    pub async fn account(&self, caller: &Caller, http: &HttpInfo, id: AccountId) -> Result<AccountView, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::AccountRead, Target::account(&id), http);
        if let Err(e) = self.ensure_unsealed() {
            return Err(self.refuse(draft, e).await);
        }
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, _, _| {
            let (account, _) = visible(&orgs, tx, &caller, &id)?;
            view_of(tx, account)
        })
        .await
    }

    /// Every account the caller's org is a party to.
    pub async fn accounts(&self, caller: &Caller, http: &HttpInfo) -> Result<Vec<AccountView>, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::AccountList, Target::default(), http);
        if let Err(e) = self.ensure_unsealed() {
            return Err(self.refuse(draft, e).await);
        }
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, draft, _| {
            let mut out = Vec::new();
            for account in store::accounts::list(tx)? {
                if orgs.party_of(&account, &caller.principal.org).is_some() {
                    out.push(view_of(tx, account)?);
                }
            }
            draft.details.insert("count".into(), out.len().into());
            Ok(out)
        })
        .await
    }
}
