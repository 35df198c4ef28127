//! The vault: use cases that tie the rules, the keys, the store and the
//! audit log together.
//!
//! HTTP handlers and command-line tasks call these methods; each one checks
//! the domain rules, does its crypto, and commits its change together with
//! its audit event in one database transaction. A refusal is recorded too, in a
//! transaction of its own. If an event cannot be committed, the caller gets
//! `Error::AuditUnavailable` and nothing has changed (invariant 4).

mod accounts;
mod audit_log;
mod backup;
mod closure;
mod cursor;
mod custody;
mod halves;
mod links;
mod moves;
mod notices;
mod onboarding;
mod releases;
mod requests;
mod reverse;
mod root_signins;
mod rotation;
mod seal;
mod service_keys;
mod signin;
mod subscribers;
mod versions;
mod witness;

use std::sync::Arc;

use crate::store::Conn;

use crate::store::Batch;
use time::OffsetDateTime;

pub use accounts::{AccountChanges, AccountView, CustodiansView};
pub use audit_log::{AuditQuery, CheckpointView, ConsistencyProof, EventFormat, InclusionProof};
pub use backup::BackupFile;
pub use halves::{Deposited, MfaInput, PasswordInput};
pub use links::{CreatedLink, LinkRef, LinkSecret, LinkView, MyLink, NewLink, PageInfo, log_hash};
pub use moves::{MoveStep, MoveView};
pub use notices::{NOTIFICATION_LIST_MAX, PeopleRouting};
pub use onboarding::{OnboardingStep, OnboardingView};
pub use releases::{CodeRelease, PasswordRelease};
pub use requests::{
    DecisionView, LIST_LIMIT as REQUEST_LIST_LIMIT, RequestFilter, RequestPage, RequestView, Step as RequestStep,
};
pub use reverse::{ReverseStep, ReverseView};
pub use root_signins::{
    ROOT_SIGNIN_PAGE, ROOT_SIGNIN_PAGE_MAX, RootSigninPage, RootSigninQuery, RootSigninView, WatchOutcome,
};
pub use rotation::RotationCandidate;
pub use signin::{CliStart, CliToken, ConsoleSession, SigninDone, SigninStart};
pub use subscribers::NewSubscriber;
pub use witness::Witnesses;

use crate::audit::{Action, EventDraft, Outcome};
use crate::auth::Caller;
use crate::crypto::KeyProvider;
use crate::domain::account::Account;
use crate::domain::breakglass::Policy;
use crate::domain::custody::{CustodianSets, CustodyState};
use crate::domain::ids::{AccountId, Half, Principal, Role};
use crate::domain::orgs::{OrgDirectory, Party};
use crate::domain::wall::{CurrentVersions, Exposure};
use crate::error::Error;
use crate::notify;
use crate::store::{self, Store, StoreError};

/// The service's core, shared by every request.
#[derive(Debug, Clone)]
pub struct Vault {
    store: Store,
    keys: Arc<dyn KeyProvider>,
    orgs: Arc<OrgDirectory>,
    policy: Policy,
    /// The base URL links point to (set once the listener is bound).
    public_url: Arc<std::sync::RwLock<String>>,
    /// Seconds added to the clock of calendar rules; only tests move it.
    clock_shift: Arc<std::sync::atomic::AtomicI64>,
    /// Where ciphertexts live when not in the database.
    secrets: Option<crate::store::secrets_manager::SecretsManagerHalves>,
    /// Webhooks may target private addresses (dev mode; see `notify::target`).
    allow_private_webhooks: bool,
    /// Where signed checkpoints are anchored outside the database.
    witnesses: Arc<witness::Witnesses>,
    /// People's identity providers (none: only bearer tokens work).
    signin: Option<Arc<crate::auth::oidc::RelyingParty>>,
    /// Session lifetimes and the step-up age of releases.
    auth_settings: crate::config::AuthSettings,
    /// The `aud` of the tokens the service issues and accepts.
    audience: String,
    /// The key service tokens are signed with, loaded once unsealed.
    token_key: Arc<std::sync::RwLock<Option<Arc<crate::auth::service_token::ServiceTokenKey>>>>,
    /// Where each org hears about its accounts (e-mail and chat).
    people: Arc<PeopleRouting>,
    /// How the root sign-in watch reads and classifies messages.
    watch_rules: crate::domain::root_signin::WatchRules,
    /// When DDI moves may happen without a fee (`[lifecycle]`).
    move_windows: Arc<crate::domain::moves::MoveWindows>,
    /// What the service counts for Prometheus.
    metrics: crate::metrics::Metrics,
}

/// The current time in Unix seconds, the clock of the break-glass rules.
pub fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// The current time in Unix milliseconds, the outbox's clock of attempts.
pub fn now_ms() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp_nanos().div_euclid(1_000_000) as i64
}

/// Unix seconds as the service's RFC 3339 form.
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(TIMESTAMP).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// Queue a webhook to the account's subscribers, and announce the event
/// to people, inside the caller's transaction, so both exist exactly when
/// the audit event does.
fn notify(
    tx: &Conn,
    account: &AccountId,
    event: notify::Event,
    actor: Option<&Principal>,
    data: serde_json::Value,
    now: &str,
) -> Result<(), Error> {
    let actor = actor.map(ToString::to_string);
    let payload = notify::payload(event, account, now, actor.as_deref(), data);
    store::outbox::enqueue(tx, account, event.as_str(), &payload, now, now_ms())?;
    if event.tells_people() {
        store::announcements::announce(tx, account, event.as_str(), &payload.to_string(), now)?;
    }
    Ok(())
}

/// RFC 3339 in UTC with exactly three fractional digits, so timestamps have
/// one fixed width and sort as text.
const TIMESTAMP: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// The current time as RFC 3339 UTC with millisecond precision.
pub fn now_rfc3339() -> String {
    rfc3339_of(OffsetDateTime::now_utc())
}

/// A UTC time in the log's fixed RFC 3339 form.
pub fn rfc3339_of(t: OffsetDateTime) -> String {
    t.format(TIMESTAMP).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn audit_failed(e: StoreError) -> Error {
    tracing::error!(error = %e, "audit event could not be committed");
    Error::AuditUnavailable
}

/// The one guard of every audited use case, run inside its write: nothing
/// but the unseal itself happens while sealed (or before the log key is
/// loaded), and on a log found tampered only what
/// [`crate::audit::Action::allowed_on_tampered_log`] lists (invariant 4).
fn write_guard(keys: &dyn KeyProvider, log: &crate::audit::log::AuditLog, action: Action) -> Result<(), Error> {
    if action == Action::SealUnseal {
        return Ok(());
    }
    guard(keys, log, action.allowed_on_tampered_log())
}

/// Refuse while sealed or before the log key is loaded (no row may be
/// written without its MAC once unsealed), and on a log found tampered
/// unless the work is `allowed_when_tampered`.
fn guard(keys: &dyn KeyProvider, log: &crate::audit::log::AuditLog, allowed_when_tampered: bool) -> Result<(), Error> {
    if keys.seal_status().sealed || log.keys().is_none() {
        return Err(Error::Sealed);
    }
    if log.tampered().is_some() && !allowed_when_tampered {
        return Err(Error::AuditTampered);
    }
    Ok(())
}

/// Record a refused request in the caller's (already rolled back) write;
/// returns the error the caller should see: the refusal, or 503 if even the
/// refusal cannot be recorded.
fn record_refusal(batch: &mut Batch, draft: EventDraft, err: Error) -> Error {
    if let Error::Internal(detail) | Error::Unavailable(detail) = &err {
        tracing::error!(code = err.code(), detail = %detail, "request failed");
    }
    let draft = draft.detail("code", err.code());
    match store::audit::append(batch, draft, &now_rfc3339(), err.outcome(), Some(err.to_string())) {
        Ok(_) => err,
        Err(e) => {
            let _ = batch.rollback();
            audit_failed(e)
        }
    }
}

impl Vault {
    pub fn new(store: Store, keys: Arc<dyn KeyProvider>, orgs: OrgDirectory, policy: Policy) -> Self {
        store.log().set_provider(orgs.provider().as_str());
        Self {
            metrics: crate::metrics::Metrics::new(store.log().metrics()),
            store,
            keys,
            orgs: Arc::new(orgs),
            policy,
            public_url: Arc::default(),
            clock_shift: Arc::default(),
            secrets: None,
            allow_private_webhooks: false,
            witnesses: Arc::default(),
            signin: None,
            auth_settings: crate::config::AuthSettings::default(),
            audience: crate::config::DEFAULT_AUDIENCE.to_owned(),
            token_key: Arc::default(),
            people: Arc::default(),
            watch_rules: crate::domain::root_signin::WatchRules::default(),
            move_windows: Arc::default(),
        }
    }

    /// Judge DDI move dates against these windows.
    pub fn with_move_windows(mut self, windows: crate::domain::moves::MoveWindows) -> Self {
        self.move_windows = Arc::new(windows);
        self
    }

    /// Route notifications to people as `routing` says.
    pub fn with_people_routing(mut self, routing: PeopleRouting) -> Self {
        self.people = Arc::new(routing);
        self
    }

    /// Read and classify root sign-in watch messages with these settings.
    pub fn with_watch_rules(mut self, rules: crate::domain::root_signin::WatchRules) -> Self {
        self.watch_rules = rules;
        self
    }

    /// Let webhook subscribers target loopback and private addresses.
    pub fn with_private_webhook_targets(mut self, allow: bool) -> Self {
        self.allow_private_webhooks = allow;
        self
    }

    /// Keep the ciphertexts of new half versions in Secrets Manager.
    pub fn with_secrets_manager(mut self, secrets: crate::store::secrets_manager::SecretsManagerHalves) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Move the clock the calendar rules (reverse assumption, DDI moves,
    /// closure and its 90 days) see. For tests that must land on a weekday
    /// after the 15th, inside a move window or past a reopening deadline
    /// whatever day they run on; nothing in the service calls it.
    pub fn danger_shift_clock(&self, seconds: i64) {
        self.clock_shift.store(seconds, std::sync::atomic::Ordering::Relaxed);
    }

    /// The time the calendar rules see.
    fn calendar_now(&self) -> OffsetDateTime {
        let shift = self.clock_shift.load(std::sync::atomic::Ordering::Relaxed);
        OffsetDateTime::now_utc() + time::Duration::seconds(shift)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    pub fn keys(&self) -> &dyn KeyProvider {
        self.keys.as_ref()
    }

    pub fn orgs(&self) -> &OrgDirectory {
        &self.orgs
    }

    /// Refuse work early, before any crypto, as the write's guard would.
    fn ensure_unsealed(&self) -> Result<(), Error> {
        guard(self.keys.as_ref(), self.store.log(), false)
    }

    /// Run `change` and record `draft` as its `ok` event in the same write;
    /// if `change` refuses, undo it and record the refusal instead. Either
    /// way the answer comes only once the write is durable.
    async fn audited<T: Send + 'static>(
        &self,
        mut draft: EventDraft,
        change: impl FnOnce(&Conn, &mut EventDraft, &str) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let keys = Arc::clone(&self.keys);
        let anchor = witness::anchors_after(draft.action);
        let (action, half) = (draft.action, draft.target.half.clone());
        let written = self
            .store
            .write(move |batch| {
                let now = now_rfc3339();
                // Checked under the writer, so no change slips in between a
                // check and the log being flagged.
                if let Err(err) = write_guard(keys.as_ref(), batch.log(), draft.action) {
                    return Err(record_refusal(batch, draft, err));
                }
                match change(batch.conn(), &mut draft, &now) {
                    Ok(value) => match store::audit::append(batch, draft.clone(), &now, Outcome::Ok, None) {
                        Ok(event) => {
                            if anchor {
                                batch.checkpoint_at_commit(&now);
                            }
                            Ok((value, event.seq))
                        }
                        Err(StoreError::LogTampered) => {
                            batch.rollback()?;
                            Err(record_refusal(batch, draft, Error::AuditTampered))
                        }
                        Err(e) => {
                            batch.rollback()?;
                            Err(audit_failed(e))
                        }
                    },
                    Err(err) => {
                        batch.rollback()?;
                        Err(record_refusal(batch, draft, err))
                    }
                }
            })
            .await;
        self.metrics.audited(action, half.as_deref(), written.as_ref().map(|_| ()));
        let (value, seq) = written?;
        if anchor {
            // Releases and custody changes are witnessed before the caller
            // sees the answer (and so before a secret leaves).
            self.anchor_through(seq).await?;
        }
        Ok(value)
    }

    /// Record a request refused before it reached a use case (bad body,
    /// sealed, ...) and return the error to answer with.
    pub async fn refuse(&self, draft: EventDraft, err: Error) -> Error {
        let (action, half) = (draft.action, draft.target.half.clone());
        let result: Result<(), Error> = self.store.write(move |batch| Err(record_refusal(batch, draft, err))).await;
        let err = result.err().unwrap_or(Error::AuditUnavailable);
        self.metrics.audited(action, half.as_deref(), Err(&err));
        err
    }
}

/// Everything the custody rules need to know about one visible account.
struct CustodyRecords {
    account: Account,
    sets: CustodianSets,
    exposures: Vec<Exposure>,
    current: CurrentVersions,
}

impl CustodyRecords {
    /// Load the account (if `caller` may see it) with its custody records.
    /// Accounts whose custody ended are read-only history.
    fn load(orgs: &OrgDirectory, conn: &Conn, caller: &Caller, id: &AccountId) -> Result<Self, Error> {
        let (account, _) = visible(orgs, conn, caller, id)?;
        Self::with_account(conn, account)
    }

    /// The same for work that acts for no caller (a collect link being used).
    fn of_account(conn: &Conn, id: &AccountId) -> Result<Self, Error> {
        let account = store::accounts::get(conn, id)?.ok_or(Error::NotFound("account"))?;
        Self::with_account(conn, account)
    }

    fn with_account(conn: &Conn, account: Account) -> Result<Self, Error> {
        let id = account.account_id.clone();
        ensure_active(conn, &id)?;
        Ok(Self {
            account,
            sets: store::custodians::load(conn, &id)?,
            exposures: store::exposures::for_account(conn, &id)?,
            current: store::halves::current_versions(conn, &id)?,
        })
    }

    /// Whether `who` may make a new version of `half` now: a custodian of
    /// it who is not walled off, while no hand-off link is out.
    fn check_deposit(&self, orgs: &OrgDirectory, conn: &Conn, who: &Principal, half: Half) -> Result<(), Error> {
        self.state(orgs).check_deposit(who, half)?;
        ensure_no_handoff_pending(conn, &self.account.account_id)
    }

    fn state<'a>(&'a self, orgs: &'a OrgDirectory) -> CustodyState<'a> {
        CustodyState {
            account: &self.account,
            orgs,
            sets: &self.sets,
            exposures: &self.exposures,
            current: self.current,
        }
    }
}

/// Refuse changes and releases of an account that was handed back or
/// closed: a closed account keeps its halves (it may be reopened) but
/// releases nothing.
fn ensure_active(conn: &Conn, id: &AccountId) -> Result<(), Error> {
    match store::accounts::status(conn, id)?.as_deref() {
        Some("active") | None => Ok(()),
        Some("closed") => Err(Error::conflict(
            "account_closed",
            "the account is closed: its halves are kept but nothing is released; a provider admin may reopen it \
             within 90 days of its closure",
        )),
        Some("closed_permanently") => Err(Error::conflict(
            "account_closed",
            "the account is closed for good: its keys are destroyed and it is read-only history",
        )),
        Some(status) => Err(Error::conflict(
            "account_not_active",
            format!("the account is {status}: custody ended and it is read-only history"),
        )),
    }
}

/// Refuse new versions of an account's halves (deposits, rotations, collect
/// links) while its hand-off link is out. The link carries, or will collect,
/// the credentials as they stand now, and using it ends custody and destroys
/// every version's keys: a version deposited in between would be destroyed
/// and the customer handed a stale password.
fn ensure_no_handoff_pending(conn: &Conn, id: &AccountId) -> Result<(), Error> {
    let Some(hash) = store::reverse::load(conn, id)?.and_then(|r| r.link_id_hash) else { return Ok(()) };
    let pending = store::links::load(conn, &hash)?.is_some_and(|link| {
        crate::domain::links::effective_state(link.state, link.expires_at, unix_now())
            == crate::domain::links::LinkState::Pending
    });
    if pending {
        return Err(Error::conflict(
            "handoff_pending",
            "the account is being handed back: its halves cannot change while the hand-off link is out",
        ));
    }
    Ok(())
}

/// Refuse unless `caller` is an admin of the provider (given the side
/// `party` they stand on), saying what only such an admin does.
fn require_provider_admin(caller: &Caller, party: Party, doing: &str) -> Result<(), Error> {
    if party == Party::Provider && caller.has_role(Role::Admin) {
        Ok(())
    } else {
        Err(Error::forbidden("forbidden", format!("only the provider's admin {doing}")))
    }
}

/// The account `id` as seen by `caller`, and the side they stand on.
/// Accounts the caller's org is no party to are reported as not found, so
/// other tenants cannot even learn that they exist.
fn visible(orgs: &OrgDirectory, conn: &Conn, caller: &Caller, id: &AccountId) -> Result<(Account, Party), Error> {
    let account = store::accounts::get(conn, id)?.ok_or(Error::NotFound("account"))?;
    let party = orgs.party_of(&account, &caller.principal.org).ok_or(Error::NotFound("account"))?;
    Ok((account, party))
}

/// Serde `serialize_with` for the few response fields that carry a secret
/// on purpose (a released password, a code, a candidate, a webhook secret):
/// the value is written into the response body and nowhere else.
fn expose<S: serde::Serializer>(secret: &secrecy::SecretString, s: S) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    s.serialize_str(secret.expose_secret())
}

/// Refuse unless `caller` has `role`.
fn require_role(caller: &Caller, role: Role, doing: &str) -> Result<(), Error> {
    if caller.has_role(role) {
        Ok(())
    } else {
        Err(Error::forbidden("forbidden", format!("{doing} needs the {role} role")))
    }
}
