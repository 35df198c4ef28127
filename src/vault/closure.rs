//! Closing an account, reopening it within 90 days, and the daily sweep
//! that closes for good what was not reopened (DESIGN §16).
//!
//! Closing keeps the encrypted halves (AWS reopens a closed account for 90
//! days, and that needs its root credentials) but releases nothing: every
//! change and release of a closed account is 409 `account_closed`, its open
//! requests, move and hand-back are cancelled and its pending links revoked. The sweep destroys
//! the data keys of accounts closed for more than 90 days, as a hand-off
//! does.

use std::sync::Arc;

use serde_json::json;

use super::accounts::view_of;
use super::{AccountView, Vault, ensure_no_handoff_pending, notify, require_provider_admin, rfc3339, visible};
use crate::audit::{Action, EventDraft, HttpInfo, Outcome, Target};
use crate::auth::Caller;
use crate::domain::closure::{check_reopen, is_past_reopening, reopen_deadline};
use crate::domain::ids::AccountId;
use crate::error::Error;
use crate::notify::Event;
use crate::store;

/// Why the service cancels a closed account's open requests.
const CLOSED_REASON: &str = "the account was closed";

impl Vault {
    /// Close an account (provider admin): nothing is released any more, the
    /// halves are kept for a reopening.
    pub async fn close_account(&self, caller: &Caller, http: &HttpInfo, id: AccountId) -> Result<(), Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::AccountClose, Target::account(&id), http);
        let (orgs, caller, closed_at) = (Arc::clone(&self.orgs), caller.clone(), self.calendar_now().unix_timestamp());
        self.audited(draft, move |tx, draft, now| {
            let (_, party) = visible(&orgs, tx, &caller, &id)?;
            super::ensure_active(tx, &id)?;
            require_provider_admin(&caller, party, "closes accounts")?;
            ensure_no_handoff_pending(tx, &id)?;
            if let Some(mut stored) = store::reverse::load(tx, &id)?
                && stored.workflow.state.is_open()
            {
                stored.workflow.cancel(closed_at).map_err(|e| Error::conflict("reverse_assumption_rule", e.to_string()))?;
                store::reverse::save(tx, &id, &stored)?;
                draft.details.insert("reverse_assumption".into(), "cancelled".into());
            }
            for mut open in store::moves::for_account(tx, &id)?.into_iter().filter(|m| m.record.state.is_open()) {
                open.record.cancel(caller.principal.clone(), closed_at)?;
                store::moves::save(tx, &open)?;
                draft.details.insert("move_cancelled".into(), open.id.clone().into());
            }
            let cancelled = super::requests::withdraw_open(tx, &id, CLOSED_REASON, now)?;
            store::links::revoke_all(tx, &id, now)?;
            store::accounts::close(tx, &id, closed_at)?;
            let reopen_until = rfc3339(reopen_deadline(closed_at));
            draft.details.insert("reopen_until".into(), reopen_until.clone().into());
            draft.details.insert("requests_cancelled".into(), cancelled.clone().into());
            let data = json!({"closed_at": rfc3339(closed_at), "reopen_until": reopen_until, "requests_cancelled": cancelled.len()});
            notify(tx, &id, Event::AccountClosed, Some(&caller.principal), data, now)
        })
        .await
    }

    /// Reopen a closed account within 90 days of its closure (provider
    /// admin): custody resumes as it was.
    pub async fn reopen_account(&self, caller: &Caller, http: &HttpInfo, id: AccountId) -> Result<AccountView, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::AccountReopen, Target::account(&id), http);
        let (orgs, caller, today) = (Arc::clone(&self.orgs), caller.clone(), self.calendar_now().unix_timestamp());
        self.audited(draft, move |tx, draft, now| {
            let (account, party) = visible(&orgs, tx, &caller, &id)?;
            require_provider_admin(&caller, party, "reopens accounts")?;
            let lifecycle = store::accounts::lifecycle(tx, &id)?.ok_or(Error::NotFound("account"))?;
            check_reopen(lifecycle.status, lifecycle.closed_at, today)?;
            store::accounts::reopen(tx, &id)?;
            if let Some(at) = lifecycle.closed_at {
                draft.details.insert("closed_at".into(), rfc3339(at).into());
            }
            notify(tx, &id, Event::AccountReopened, Some(&caller.principal), json!({}), now)?;
            view_of(tx, account)
        })
        .await
    }

    /// The daily sweep: every account closed more than 90 days ago (by the
    /// calendar clock) is closed for good; its data keys are destroyed,
    /// each with a `account.close_permanently` event (actor null) and a
    /// `custody.ended` notification. Returns how many.
    pub async fn close_permanently_due(&self) -> Result<usize, Error> {
        // A sealed service or a log found altered changes nothing, not even
        // by the clock.
        if self.ensure_unsealed().is_err() {
            return Ok(0);
        }
        let now_unix = self.calendar_now().unix_timestamp();
        let due: Vec<(AccountId, i64)> = self
            .store
            .read(move |c| {
                let closed = store::accounts::closed(c)?;
                Ok::<_, Error>(closed.into_iter().filter(|(_, at)| is_past_reopening(*at, now_unix)).collect())
            })
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let vault = self.clone();
        let swept = self
            .store
            .write(move |batch| {
                let now = super::now_rfc3339();
                let mut swept = 0;
                for (id, closed_at) in due {
                    // Reopened since it was read: leave it.
                    let still = store::accounts::lifecycle(batch.conn(), &id)?;
                    if still.is_none_or(|l| l.status != crate::domain::closure::AccountStatus::Closed) {
                        continue;
                    }
                    vault.end_custody(batch.conn(), &id, "closed_permanently", &now)?;
                    let draft = EventDraft::new(
                        None,
                        Action::AccountClosePermanently,
                        Target::account(&id),
                        &HttpInfo::default(),
                    )
                    .detail("closed_at", rfc3339(closed_at))
                    .detail("reopen_until", rfc3339(reopen_deadline(closed_at)));
                    if let Err(e) = store::audit::append(batch, draft, &now, Outcome::Ok, None) {
                        batch.rollback()?;
                        return Err(super::audit_failed(e));
                    }
                    swept += 1;
                }
                Ok(swept)
            })
            .await?;
        if swept > 0 {
            self.forget_shredded().await;
        }
        Ok(swept)
    }
}
