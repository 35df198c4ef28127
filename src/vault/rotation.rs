//! Rotating the password half after use (invariant 7).
//!
//! `rotate` generates a policy-compliant candidate, stores it encrypted as
//! the pending version and shows it once to the custodian, who sets it on
//! the AWS root user; `confirm` then makes it current, which records its
//! hash in the history and clears `rotation_due`.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::json;

use super::halves::hash_new_password;
use super::versions::{Admission, admit_version};
use super::{CustodyRecords, Deposited, Vault, notify};
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::crypto::passwords;
use crate::domain::ids::{AccountId, Half};
use crate::error::Error;
use crate::notify::Event;
use crate::store::exposures::ExposureKind;
use crate::store::halves::{NewVersion, PendingRotation, Source};
use crate::store::{self};

/// A generated candidate, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotationCandidate {
    #[serde(serialize_with = "super::expose")]
    #[schema(value_type = String)]
    pub candidate_password: SecretString,
    pub version: u32,
}

impl Vault {
    /// Generate a rotation candidate for the password half (its custodians).
    /// A second call replaces an unconfirmed candidate.
    pub async fn rotate_password(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: AccountId,
    ) -> Result<RotationCandidate, Error> {
        let draft =
            EventDraft::new(Some(&caller.principal), Action::HalfRotate, Target::half(&id, Half::Password), http);
        let prepared = async {
            let mut plan = self.plan_deposit(caller, &id, Half::Password).await?;
            let candidate = passwords::generate();
            let hash = hash_new_password(&candidate, std::mem::take(&mut plan.history)).await?;
            let fingerprint = self.fingerprint(&id, Half::Password, candidate.expose_secret().as_bytes())?;
            let sealed = self.encrypt(&id, Half::Password, &plan, candidate.expose_secret().as_bytes()).await?;
            Ok::<_, Error>((
                plan.version,
                candidate,
                PendingRotation {
                    version: plan.version,
                    ciphertext: sealed.ciphertext,
                    wrapped: sealed.wrapped,
                    sm_version_id: sealed.sm_version_id,
                    history_hash: hash,
                    created_by: caller.principal.to_string(),
                    fingerprint: Some(fingerprint),
                },
            ))
        }
        .await;
        let (version, candidate, pending) = match prepared {
            Ok(p) => p,
            Err(e) => return Err(self.refuse(draft, e).await),
        };
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, draft, now| {
            CustodyRecords::load(&orgs, tx, &caller, &id)?.check_deposit(
                &orgs,
                tx,
                &caller.principal,
                Half::Password,
            )?;
            if store::halves::next_version(tx, &id, Half::Password)? != version {
                return Err(Error::conflict(
                    "concurrent_change",
                    "another version was deposited at the same time; retry",
                ));
            }
            store::halves::put_pending(tx, &id, &pending, now)?;
            // The custodian sees the candidate now; if it becomes current,
            // the wall must already know.
            store::exposures::record(
                tx,
                &id,
                &caller.principal,
                Half::Password,
                version,
                ExposureKind::Deposited,
                now,
            )?;
            draft.details.insert("version".into(), version.into());
            Ok(())
        })
        .await?;
        Ok(RotationCandidate { candidate_password: candidate, version })
    }

    /// Make the pending candidate current (the custodian who generated it).
    pub async fn confirm_rotation(&self, caller: &Caller, http: &HttpInfo, id: AccountId) -> Result<Deposited, Error> {
        let draft = EventDraft::new(
            Some(&caller.principal),
            Action::HalfRotateConfirm,
            Target::half(&id, Half::Password),
            http,
        );
        if let Err(e) = self.ensure_unsealed() {
            return Err(self.refuse(draft, e).await);
        }
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, draft, now| {
            let records = CustodyRecords::load(&orgs, tx, &caller, &id)?;
            records.check_deposit(&orgs, tx, &caller.principal, Half::Password)?;
            let pending = store::halves::take_pending(tx, &id)?
                .ok_or_else(|| Error::conflict("no_pending_rotation", "there is no rotation candidate to confirm"))?;
            if pending.created_by != caller.principal.to_string() {
                return Err(Error::forbidden(
                    "not_rotator",
                    "only the custodian who generated the candidate confirms it",
                ));
            }
            let fingerprint = pending.fingerprint.as_ref();
            let makers = [&caller.principal];
            let new =
                Admission { id: &id, half: Half::Password, version: pending.version, fingerprint, makers: &makers };
            admit_version(tx, &orgs, &records, new, draft, now)?;
            let new = NewVersion {
                account: &id,
                half: Half::Password,
                version: pending.version,
                ciphertext: &pending.ciphertext,
                wrapped: &pending.wrapped,
                source: Source::Rotated,
                by: &caller.principal.to_string(),
                sm_version_id: pending.sm_version_id.as_deref(),
            };
            if !store::halves::insert_current(tx, &new, now)? {
                return Err(Error::conflict(
                    "rotation_superseded",
                    "another version was deposited since; rotate again",
                ));
            }
            store::history::push(tx, &id, pending.version, &pending.history_hash, now)?;
            let party = orgs.party_of(&records.account, &caller.principal.org);
            let by = caller.principal.to_string();
            super::onboarding::tick(tx, &records.account, Half::Password, party, &by, pending.version, draft, now)?;
            draft.details.insert("version".into(), pending.version.into());
            let data = json!({"half": "password", "version": pending.version, "source": "rotated"});
            notify(tx, &id, Event::HalfRotated, Some(&caller.principal), data, now)?;
            Ok(Deposited { version: pending.version, generated_password: None })
        })
        .await
    }
}
