//! Registering and reading accounts.

use std::sync::Arc;

use serde::Serialize;

use super::{Vault, require_role, visible};
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::domain::account::{Account, NewAccount};
use crate::domain::custody::CustodianSets;
use crate::domain::ids::{AccountId, Principal, Role};
use crate::error::Error;
use crate::store;

/// Who holds which half, as shown to the account's parties.
#[derive(Debug, Clone, Serialize)]
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
}

/// An account's view as stored now.
fn view_of(tx: &rusqlite::Connection, account: Account) -> Result<AccountView, Error> {
    let id = account.account_id.clone();
    let custodians = store::custodians::load(tx, &id)?.into();
    let rotation_due = store::halves::status(tx, &id)?.iter().any(|h| h.rotation_due);
    Ok(AccountView { account, custodians, rotation_due })
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
            Ok(AccountView { account, custodians: CustodiansView::from(CustodianSets::default()), rotation_due: false })
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
