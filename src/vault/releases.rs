//! Releasing a half under an approved request: the password (counted
//! views) or the current TOTP code (never the seed).
//!
//! A release makes two trips to the database. The read before it loads the
//! half's current stored version, so the secret can be decrypted while no
//! lock is held, and gates that decryption on the request: only its named
//! recipient, once it is approved and while its window is open, on an
//! account in custody, gets the secret decrypted. The write then decides:
//! under the writer it checks everything (the request again, the account,
//! the custody wall against the custodians and exposures as they are at
//! commit), counts the view, records the exposure and the audit event, and
//! signs the checkpoint that covers it (invariant 4: only after that
//! commit, and the checkpoint's witnessing, does the secret leave). The
//! wall is checked only there: a check before it could only repeat it.

use std::sync::Arc;

use secrecy::SecretString;
use serde::Serialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::requests::{load, request_event};
use super::{CustodyRecords, Vault, ensure_active, notify, unix_now};
use crate::audit::{Action, EventDraft, HttpInfo};
use crate::auth::Caller;
use crate::crypto::totp::MfaSeed;
use crate::domain::ids::{AccountId, Half};
use crate::domain::orgs::OrgDirectory;
use crate::error::Error;
use crate::notify::Event;
use crate::store::exposures::ExposureKind;
use crate::store::halves::StoredHalf;
use crate::store::requests::StoredRequest;
use crate::store::{self, Conn};

/// A released password: shown once per view.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasswordRelease {
    #[serde(serialize_with = "super::expose")]
    #[schema(value_type = String)]
    pub password: SecretString,
    pub version: u32,
    pub views_left: u8,
}

/// A released MFA code: never the seed (invariant 5).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodeRelease {
    #[serde(serialize_with = "super::expose")]
    #[schema(value_type = String, example = "492039")]
    pub code: SecretString,
    pub valid_for_seconds: u64,
}

/// What the read before a release found.
pub(super) struct ReleaseRead {
    /// The request's account, for the audit record whatever comes of it.
    pub account: Option<AccountId>,
    /// The account and the half's current stored version when the request
    /// lets the caller receive it now; why not otherwise.
    pub checked: Result<(AccountId, StoredHalf), Error>,
}

/// The request `stored` as `caller` may see it, with its account's custody
/// records, checked for a release of `half` to `caller` now: the request's
/// terms and the custody wall. The write that commits a release runs this.
fn check_release(
    orgs: &OrgDirectory,
    conn: &Conn,
    caller: &Caller,
    stored: StoredRequest,
    half: Half,
    now: i64,
) -> Result<(StoredRequest, CustodyRecords), Error> {
    let (mut stored, account) = Vault::visible_request(orgs, conn, caller, stored)?;
    let records = CustodyRecords::with_account(conn, account)?;
    stored.request.check_release(&caller.principal, half, &records.sets, &records.exposures, records.current, now)?;
    Ok((stored, records))
}

impl Vault {
    /// The read before a release of `half` under request `id`, in one trip
    /// to the database: see [`ReleaseRead`]. Nothing is changed. The checks
    /// are those of the request and its account, in the order the write
    /// makes them; the wall is the write's alone.
    pub(super) async fn release_read(&self, caller: &Caller, id: &str, half: Half) -> ReleaseRead {
        let gate = self.ensure_unsealed().and_then(|()| self.require_recent_signin(caller));
        let (orgs, caller, id) = (Arc::clone(&self.orgs), caller.clone(), id.to_owned());
        let read = self
            .store
            .read_by_key(move |conn| {
                let stored = load(conn, &id)?;
                let account = stored.as_ref().map(|s| s.account_id.clone());
                let checked = gate.and_then(|()| {
                    let stored = stored.ok_or(Error::NotFound("request"))?;
                    let (mut stored, _) = Vault::visible_request(&orgs, conn, &caller, stored)?;
                    ensure_active(conn, &stored.account_id)?;
                    stored.request.check_release_terms(&caller.principal, half, unix_now())?;
                    let current = store::halves::load_current(conn, &stored.account_id, half)?;
                    Ok((stored.account_id, current.ok_or_else(|| nothing_deposited(half))?))
                });
                Ok::<_, Error>(ReleaseRead { account, checked })
            })
            .await;
        read.unwrap_or_else(|e| ReleaseRead { account: None, checked: Err(e) })
    }

    /// Commit a release of `version` of `half`: re-check the request under
    /// the write lock, count it, record the exposure, flag a released
    /// password for rotation (invariant 7), audit and notify. Only after
    /// this commits does the secret leave (invariant 4). `extra` runs in the
    /// same transaction (a deliver link stores itself there).
    pub(super) async fn commit_release(
        &self,
        caller: &Caller,
        draft: EventDraft,
        id: String,
        half: Half,
        version: u32,
        extra: impl FnOnce(&Conn, &AccountId, &str) -> Result<(), Error> + Send + 'static,
    ) -> Result<u8, Error> {
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, draft, now| {
            let stored = load(tx, &id)?.ok_or(Error::NotFound("request"))?;
            let unix = unix_now();
            let (StoredRequest { id, account_id, mut request }, records) =
                check_release(&orgs, tx, &caller, stored, half, unix)?;
            if records.current.of(half) != Some(version) {
                return Err(Error::conflict(
                    "concurrent_change",
                    "the half changed while it was being released; ask again",
                ));
            }
            let who = &caller.principal;
            // Only a password view changes the request (its count); an MFA
            // code leaves it as it was.
            if half == Half::Password {
                request.record_password_view(unix);
                store::requests::save(tx, &id, &request)?;
                store::halves::mark_rotation_due(tx, &account_id, half, now)?;
            }
            // The wall needs to know who has seen which version, not how
            // often: a second code of the same version adds no row.
            let seen = records.exposures.iter().any(|e| e.principal == *who && e.half == half && e.version == version);
            if !seen {
                store::exposures::record(tx, &account_id, who, half, version, ExposureKind::Received, now)?;
            }
            draft.details.insert("version".into(), version.into());
            draft.details.insert("views_left".into(), request.password_views_left.into());
            if !draft.details.contains_key("form") {
                draft
                    .details
                    .insert("form".into(), if half == Half::Password { "password" } else { "totp_code" }.into());
            }
            extra(tx, &account_id, now)?;
            let data =
                json!({"request_id": id, "half": half.as_str(), "recipient": who.to_string(), "version": version});
            notify(tx, &account_id, Event::RequestReleased, Some(who), data, now)?;
            Ok(request.password_views_left)
        })
        .await
    }

    pub(super) async fn decrypt_for_release(
        &self,
        account: &AccountId,
        half: Half,
    ) -> Result<(u32, Zeroizing<Vec<u8>>), Error> {
        self.decrypt_current(account, half).await?.ok_or_else(|| nothing_deposited(half))
    }

    /// Release the password to the request's `password_to`.
    pub async fn release_password(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: String,
    ) -> Result<PasswordRelease, Error> {
        let read = self.release_read(caller, &id, Half::Password).await;
        let draft = request_event(caller, http, Action::HalfRelease, &id, Some(Half::Password), read.account.as_ref());
        let prepared = async {
            let (account, stored) = read.checked?;
            let (version, plain) = self.open_stored(&account, Half::Password, stored).await?;
            let password = String::from_utf8(plain.to_vec())
                .map_err(|_| Error::Internal("stored password is not UTF-8".into()))?;
            Ok::<_, Error>((version, SecretString::from(password)))
        }
        .await;
        let (version, password) = match prepared {
            Ok(p) => p,
            Err(e) => return Err(self.refuse(draft, e).await),
        };
        let views_left = self.commit_release(caller, draft, id, Half::Password, version, |_, _, _| Ok(())).await?;
        Ok(PasswordRelease { password, version, views_left })
    }

    /// Release the current TOTP code (never the seed) to the request's `mfa_to`.
    pub async fn release_mfa_code(&self, caller: &Caller, http: &HttpInfo, id: String) -> Result<CodeRelease, Error> {
        let read = self.release_read(caller, &id, Half::Mfa).await;
        let draft = request_event(caller, http, Action::HalfRelease, &id, Some(Half::Mfa), read.account.as_ref());
        let prepared = async {
            let (account, stored) = read.checked?;
            let (version, plain) = self.open_stored(&account, Half::Mfa, stored).await?;
            let seed = MfaSeed::from_payload(&plain)?;
            let now = u64::try_from(unix_now()).unwrap_or(0);
            let (code, valid_for_seconds) = seed.code_at(now)?;
            Ok::<_, Error>((version, SecretString::from(code.to_string()), valid_for_seconds))
        }
        .await;
        let (version, code, valid_for_seconds) = match prepared {
            Ok(p) => p,
            Err(e) => return Err(self.refuse(draft, e).await),
        };
        self.commit_release(caller, draft, id, Half::Mfa, version, |_, _, _| Ok(())).await?;
        Ok(CodeRelease { code, valid_for_seconds })
    }
}

fn nothing_deposited(half: Half) -> Error {
    Error::conflict("nothing_deposited", format!("no {half} half has been deposited for this account"))
}
