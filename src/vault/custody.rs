//! Naming the custodians of a half.

use std::sync::Arc;

use super::{CustodiansView, CustodyRecords, Vault, require_role};
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::domain::ids::{AccountId, Half, Principal, Role};
use crate::error::Error;
use crate::store;

impl Vault {
    /// Replace the caller's org's custodians of `half` with `principals`.
    /// Refused with `four_eyes_violation` when anyone would then be able to
    /// hold both halves (invariants 1 and 2).
    pub async fn set_custodians(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: AccountId,
        half: Half,
        principals: Vec<Principal>,
    ) -> Result<CustodiansView, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::CustodiansSet, Target::half(&id, half), http)
            .detail("requested", principals.iter().map(ToString::to_string).collect::<Vec<_>>());
        if let Err(e) = self.ensure_unsealed() {
            return Err(self.refuse(draft, e).await);
        }
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, draft, now| {
            let records = CustodyRecords::load(&orgs, tx, &caller, &id)?;
            require_role(&caller, Role::Admin, "naming custodians")?;
            let next = records.state(&orgs).assign(&caller.principal, half, &principals)?;
            store::custodians::replace(tx, &id, half, &next, &caller.principal, now)?;
            draft.details.insert("custodians".into(), next.iter().map(ToString::to_string).collect::<Vec<_>>().into());
            // A collect link stands for its maker's custody of the half at
            // the time; once the custodians change, open ones are void
            // (invariant 2).
            if next != *records.sets.of(half) {
                let revoked = store::links::revoke_collect(tx, &id, half, now)?;
                if revoked > 0 {
                    draft.details.insert("collect_links_revoked".into(), revoked.into());
                }
            }
            let mut sets = records.sets;
            match half {
                Half::Password => sets.password = next,
                Half::Mfa => sets.mfa = next,
            }
            Ok(sets.into())
        })
        .await
    }
}
