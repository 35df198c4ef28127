//! The audit log's events.
//!
//! Every request that touches an account, a half, custody or the seal is one
//! event, granted or refused, and so is every authentication failure. Events
//! are written in the same database transaction as the change they record
//! (`crate::vault`), into a table whose triggers refuse UPDATE and DELETE.
//! The leaf bytes of an event are its RFC 8785 canonical JSON. Each event
//! names the orgs it is scoped to, with a dense counter per org
//! ([`scope`]), so that a scoped export can prove it omits nothing.
//!
//! No secret ever enters an event: the types here carry ids, principals,
//! fixed reason sentences and non-secret details only.

pub mod bundle;
mod canonical;
pub mod checkpoint;
mod entries;
pub mod log;
pub mod manifest;
pub mod merkle;
pub mod sample;
pub mod schema;
pub mod scope;
pub mod witness;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::ids::{AccountId, Half, OrgName, Principal};

/// What happened. A closed list: auditors can rely on every value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A request carried no valid bearer token (or session cookie).
    AuthFail,
    /// A person signed in through their identity provider (ok: a console
    /// session or CLI token was issued; denied: the sign-in was refused).
    AuthSignin,
    /// A person signed out (their session ended on the server).
    AuthSignout,
    /// An unseal share was submitted.
    SealUnseal,
    AccountCreate,
    AccountRead,
    AccountList,
    /// A custodian set was replaced.
    CustodiansSet,
    /// A new version of a half was deposited.
    HalfDeposit,
    /// Half metadata (versions, never secrets) was read.
    HalfList,
    /// A password, or an MFA code, left the service to a person.
    HalfRelease,
    /// A rotation candidate was generated for a custodian.
    HalfRotate,
    /// A custodian confirmed a rotation candidate as current.
    HalfRotateConfirm,
    RequestCreate,
    RequestRead,
    RequestList,
    RequestApprove,
    RequestDeny,
    RequestCancel,
    /// A request passed a deadline (recorded by the service, actor null).
    RequestExpire,
    SubscriberCreate,
    SubscriberList,
    SubscriberDelete,
    /// An auditor read events, a checkpoint or a proof.
    AuditRead,
    /// An auditor exported a verifiable bundle.
    AuditExport,
    /// The service found its stored log altered (recorded when it can be).
    AuditTamperDetected,
    LinkCreate,
    LinkRead,
    LinkRevoke,
    /// A deliver link was opened (or an attempt failed).
    LinkOpen,
    /// A collect link received its secret (or an attempt failed).
    LinkSubmit,
    ReverseRequest,
    ReverseRead,
    ReverseSchedule,
    ReverseConfirmBalance,
    ReverseChecklist,
    ReverseHandoff,
    ReverseCancel,
    AccountClose,
    /// An online backup was taken.
    SysBackup,
    /// A backup was restored (written by the offline restore; no MAC).
    SysRestore,
    /// A provider admin listed notification deliveries.
    SysNotifications,
    /// The root sign-in watch recorded a root user's event (actor null).
    RootSignin,
    /// An account's recorded root sign-ins were read.
    RootSigninList,
    /// The root sign-in watch rejected a queue message (actor null).
    WatchReject,
    /// A provider admin changed an account's details.
    AccountUpdate,
    /// A provider admin reopened a closed account.
    AccountReopen,
    /// The daily sweep closed an account for good (actor null).
    AccountClosePermanently,
    OnboardingStart,
    OnboardingRead,
    OnboardingChecklist,
    OnboardingComplete,
    MoveRequest,
    MoveRead,
    MoveConfirm,
    MoveComplete,
    MoveCancel,
    /// One side marked the consent to assignment signed.
    ReverseConsent,
}

impl Action {
    pub const ALL: [Action; 58] = [
        Action::AuthFail,
        Action::AuthSignin,
        Action::AuthSignout,
        Action::SealUnseal,
        Action::AccountCreate,
        Action::AccountRead,
        Action::AccountList,
        Action::CustodiansSet,
        Action::HalfDeposit,
        Action::HalfList,
        Action::HalfRelease,
        Action::HalfRotate,
        Action::HalfRotateConfirm,
        Action::RequestCreate,
        Action::RequestRead,
        Action::RequestList,
        Action::RequestApprove,
        Action::RequestDeny,
        Action::RequestCancel,
        Action::RequestExpire,
        Action::SubscriberCreate,
        Action::SubscriberList,
        Action::SubscriberDelete,
        Action::AuditRead,
        Action::AuditExport,
        Action::AuditTamperDetected,
        Action::LinkCreate,
        Action::LinkRead,
        Action::LinkRevoke,
        Action::LinkOpen,
        Action::LinkSubmit,
        Action::ReverseRequest,
        Action::ReverseRead,
        Action::ReverseSchedule,
        Action::ReverseConfirmBalance,
        Action::ReverseChecklist,
        Action::ReverseHandoff,
        Action::ReverseCancel,
        Action::AccountClose,
        Action::SysBackup,
        Action::SysRestore,
        Action::SysNotifications,
        Action::RootSignin,
        Action::RootSigninList,
        Action::WatchReject,
        Action::AccountUpdate,
        Action::AccountReopen,
        Action::AccountClosePermanently,
        Action::OnboardingStart,
        Action::OnboardingRead,
        Action::OnboardingChecklist,
        Action::OnboardingComplete,
        Action::MoveRequest,
        Action::MoveRead,
        Action::MoveConfirm,
        Action::MoveComplete,
        Action::MoveCancel,
        Action::ReverseConsent,
    ];

    /// Whether an `ok` event of this action records a change or a release
    /// (everything but reads, refusal records and the seal).
    pub fn changes_state(self) -> bool {
        !matches!(
            self,
            Action::AuthFail
                | Action::AuthSignin
                | Action::AuthSignout
                | Action::SealUnseal
                | Action::AccountRead
                | Action::AccountList
                | Action::HalfList
                | Action::RequestRead
                | Action::RequestList
                | Action::SubscriberList
                | Action::AuditRead
                | Action::AuditExport
                | Action::AuditTamperDetected
                | Action::LinkRead
                | Action::ReverseRead
                | Action::SysBackup
                | Action::SysRestore
                | Action::SysNotifications
                | Action::RootSigninList
                | Action::OnboardingRead
                | Action::MoveRead
        )
    }

    /// Whether it may still be done once the log was found altered: the
    /// auditors keep signing in, reading and exporting it, operators keep
    /// backing it up for the investigation, and the seal keeps working.
    /// Everything else waits for the investigation.
    pub fn allowed_on_tampered_log(self) -> bool {
        matches!(
            self,
            Action::SealUnseal
                | Action::AuthSignin
                | Action::AuthSignout
                | Action::AuditRead
                | Action::AuditExport
                | Action::AuditTamperDetected
                | Action::SysBackup
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::AuthFail => "auth.fail",
            Action::AuthSignin => "auth.signin",
            Action::AuthSignout => "auth.signout",
            Action::SealUnseal => "seal.unseal",
            Action::AccountCreate => "account.create",
            Action::AccountRead => "account.read",
            Action::AccountList => "account.list",
            Action::CustodiansSet => "custodians.set",
            Action::HalfDeposit => "half.deposit",
            Action::HalfList => "half.list",
            Action::HalfRelease => "half.release",
            Action::HalfRotate => "half.rotate",
            Action::HalfRotateConfirm => "half.rotate_confirm",
            Action::RequestCreate => "request.create",
            Action::RequestRead => "request.read",
            Action::RequestList => "request.list",
            Action::RequestApprove => "request.approve",
            Action::RequestDeny => "request.deny",
            Action::RequestCancel => "request.cancel",
            Action::RequestExpire => "request.expire",
            Action::SubscriberCreate => "subscriber.create",
            Action::SubscriberList => "subscriber.list",
            Action::SubscriberDelete => "subscriber.delete",
            Action::AuditRead => "audit.read",
            Action::AuditExport => "audit.export",
            Action::AuditTamperDetected => "audit.tamper_detected",
            Action::LinkCreate => "link.create",
            Action::LinkRead => "link.read",
            Action::LinkRevoke => "link.revoke",
            Action::LinkOpen => "link.open",
            Action::LinkSubmit => "link.submit",
            Action::ReverseRequest => "reverse.request",
            Action::ReverseRead => "reverse.read",
            Action::ReverseSchedule => "reverse.schedule",
            Action::ReverseConfirmBalance => "reverse.confirm_balance",
            Action::ReverseChecklist => "reverse.checklist",
            Action::ReverseHandoff => "reverse.handoff",
            Action::ReverseCancel => "reverse.cancel",
            Action::AccountClose => "account.close",
            Action::SysBackup => "sys.backup",
            Action::SysRestore => "sys.restore",
            Action::SysNotifications => "sys.notifications",
            Action::RootSignin => "root.signin",
            Action::RootSigninList => "root_signin.list",
            Action::WatchReject => "watch.reject",
            Action::AccountUpdate => "account.update",
            Action::AccountReopen => "account.reopen",
            Action::AccountClosePermanently => "account.close_permanently",
            Action::OnboardingStart => "onboarding.start",
            Action::OnboardingRead => "onboarding.read",
            Action::OnboardingChecklist => "onboarding.checklist",
            Action::OnboardingComplete => "onboarding.complete",
            Action::MoveRequest => "move.request",
            Action::MoveRead => "move.read",
            Action::MoveConfirm => "move.confirm",
            Action::MoveComplete => "move.complete",
            Action::MoveCancel => "move.cancel",
            Action::ReverseConsent => "reverse.consent",
        }
    }
}

/// `ok`, `denied` (refused by a rule) or `error` (the service failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Denied,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }
}

/// What the event is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Target {
    pub account_id: Option<String>,
    pub half: Option<String>,
    pub request_id: Option<String>,
    pub link_id_hash: Option<String>,
}

impl Target {
    pub fn request(account: &AccountId, request_id: &str) -> Self {
        Self { account_id: Some(account.to_string()), request_id: Some(request_id.to_owned()), ..Self::default() }
    }

    pub fn account(id: &AccountId) -> Self {
        Self { account_id: Some(id.to_string()), ..Self::default() }
    }

    pub fn half(id: &AccountId, half: Half) -> Self {
        Self { account_id: Some(id.to_string()), half: Some(half.to_string()), ..Self::default() }
    }
}

/// The HTTP request behind an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HttpInfo {
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An event before the log assigns its sequence number and time.
#[derive(Debug, Clone)]
pub struct EventDraft {
    pub actor: Option<Principal>,
    pub action: Action,
    pub target: Target,
    pub http: HttpInfo,
    pub details: Map<String, Value>,
    /// An org the event is scoped to beyond the usual rule: the former
    /// customer of an account, for the DDI move that takes it away (the
    /// last event of the account that org sees). Not part of the event.
    pub former_customer: Option<OrgName>,
}

impl EventDraft {
    pub fn new(actor: Option<&Principal>, action: Action, target: Target, http: &HttpInfo) -> Self {
        Self { actor: actor.cloned(), action, target, http: http.clone(), details: Map::new(), former_customer: None }
    }

    /// Add a non-secret detail.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }

    /// Complete the event with its place in the log and its outcome.
    pub fn seal(self, seq: u64, time: &str, outcome: Outcome, reason: Option<String>) -> AuditEvent {
        AuditEvent {
            seq,
            time: time.to_owned(),
            actor: self.actor.map(|p| p.to_string()),
            action: self.action.as_str(),
            target: self.target,
            outcome,
            reason,
            http: self.http,
            details: Value::Object(self.details),
            scope: BTreeMap::new(),
        }
    }
}

/// One audit event, as stored and exported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub seq: u64,
    pub time: String,
    pub actor: Option<String>,
    pub action: &'static str,
    pub target: Target,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub http: HttpInfo,
    pub details: Value,
    /// Each org the event is scoped to, with that org's dense counter:
    /// decided once, when the log appends the event (see [`scope`]).
    pub scope: BTreeMap<String, u64>,
}

impl AuditEvent {
    /// The leaf bytes: the event's RFC 8785 (JCS) canonical JSON, written
    /// by the same walk a verifier checks leaves with ([`canonical`]); a
    /// test holds it to `serde_json_canonicalizer`'s output.
    pub fn leaf_json(&self) -> Result<String, serde_json::Error> {
        let mut out = Vec::with_capacity(1024);
        canonical::write(&serde_json::to_value(self)?, &mut out)?;
        String::from_utf8(out).map_err(serde::ser::Error::custom)
    }
}

/// Whether `leaf` is exactly the RFC 8785 canonical form of the JSON it
/// holds: the check a verifier makes so that two different byte strings can
/// never stand for one event.
pub fn is_canonical(leaf: &str) -> bool {
    serde_json::from_str::<Value>(leaf).is_ok_and(|v| canonical::is_canonical_form(&v, leaf, &mut Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_json_is_compact_with_sorted_keys() {
        let draft = EventDraft::new(None, Action::AuthFail, Target::default(), &HttpInfo::default())
            .detail("zeta", 1)
            .detail("alpha", "a");
        let event = draft.seal(7, "2026-11-22T00:00:00Z", Outcome::Denied, Some("no token".into()));
        let json = event.leaf_json().unwrap();
        assert!(json.starts_with(r#"{"action":"auth.fail","actor":null,"details":{"alpha":"a","zeta":1},"http""#));
        assert!(!json.contains(' ') || json.contains("no token"));
        assert!(is_canonical(&json));
    }

    #[test]
    fn leaves_are_rfc_8785_even_for_numbers_and_unicode() {
        let mut event = EventDraft::new(None, Action::AuthFail, Target::default(), &HttpInfo::default())
            .detail("ratio", 1e21)
            .detail("\u{fb01}", 1)
            .detail("\u{1f600}", 2)
            .seal(1, "2026-11-22T00:00:00.000Z", Outcome::Ok, None);
        event.scope.insert("acme".into(), 3);
        let json = event.leaf_json().unwrap();
        // JCS writes numbers as ECMAScript does and sorts keys by UTF-16
        // code units (U+1F600 is a surrogate pair, so it sorts before U+FB01, unlike in UTF-8).
        assert!(json.contains(r#""ratio":1e+21"#), "{json}");
        assert!(json.find('\u{1f600}').unwrap() < json.find('\u{fb01}').unwrap(), "{json}");
        assert!(json.contains(r#""scope":{"acme":3}"#), "{json}");
        assert!(is_canonical(&json));
        assert_eq!(json, serde_json_canonicalizer::to_string(&event).unwrap());
    }

    #[test]
    fn a_reordered_or_spaced_leaf_is_not_canonical() {
        assert!(is_canonical(r#"{"a":1,"b":[true,null]}"#));
        assert!(!is_canonical(r#"{"b":[true,null],"a":1}"#));
        assert!(!is_canonical(r#"{"a": 1,"b":[true,null]}"#));
        assert!(!is_canonical(r#"{"a":1.0,"b":[true,null]}"#));
        assert!(!is_canonical("not json"));
    }

    #[test]
    fn action_names_are_unique_dotted_words() {
        let names: std::collections::BTreeSet<_> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), Action::ALL.len());
        assert!(names.iter().all(|n| n.split('.').count() == 2));
    }
}
