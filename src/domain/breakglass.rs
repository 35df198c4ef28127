//! Break-glass requests: the state machine and its rules (invariants 2, 3).
//!
//! ```text
//! pending ──approve×N──▶ approved ──window ends──▶ expired
//!    │                      └──cancel / nothing left to release──▶ closed
//!    ├──deny──▶ denied
//!    ├──cancel──▶ cancelled
//!    └──pending TTL passes──▶ expired
//! ```
//!
//! Times are Unix seconds supplied by the caller, so every rule is a pure
//! function of its inputs.

use serde::{Deserialize, Serialize};

use super::account::Account;
use super::custody::CustodianSets;
use super::ids::{Half, OrgName, Principal, Role};
use super::orgs::Party;
use super::wall::{CurrentVersions, Exposure, blocking_exposure};

/// Longest approval window a request may ask for.
pub const MAX_WINDOW_MINUTES: u32 = 720;
/// Window used when a request names none.
pub const DEFAULT_WINDOW_MINUTES: u32 = 60;
/// Most password views an approved request may allow.
pub const MAX_PASSWORD_VIEWS: u8 = 3;
const MAX_REASON_CHARS: usize = 2000;
const MAX_TICKET_CHARS: usize = 200;

/// How requests are approved and released; validated at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Distinct approvals needed (at least 2). Private, so that no policy
    /// below dual approval can exist: `Policy::new` is the only way in.
    approvals_required: u8,
    /// How often the password may be shown within one request (1-3).
    password_views: u8,
    /// How long a request may wait for its approvals.
    pending_ttl_seconds: i64,
}

/// A policy that would break invariant 3 or the view limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("approvals_required must be at least 2 (dual approval), got {0}")]
    Threshold(u8),
    #[error("password_views must be between 1 and {MAX_PASSWORD_VIEWS}, got {0}")]
    Views(u8),
    #[error("pending_ttl_minutes must be between 1 and 10080")]
    PendingTtl,
}

impl Policy {
    pub fn new(approvals_required: u8, password_views: u8, pending_ttl_minutes: u32) -> Result<Self, PolicyError> {
        if approvals_required < 2 {
            return Err(PolicyError::Threshold(approvals_required));
        }
        if !(1..=MAX_PASSWORD_VIEWS).contains(&password_views) {
            return Err(PolicyError::Views(password_views));
        }
        if !(1..=10_080).contains(&pending_ttl_minutes) {
            return Err(PolicyError::PendingTtl);
        }
        Ok(Self { approvals_required, password_views, pending_ttl_seconds: i64::from(pending_ttl_minutes) * 60 })
    }

    pub fn approvals_required(&self) -> u8 {
        self.approvals_required
    }

    pub fn password_views(&self) -> u8 {
        self.password_views
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self { approvals_required: 2, password_views: 1, pending_ttl_seconds: 3600 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Approved,
    Denied,
    Cancelled,
    Expired,
    Closed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Cancelled => "cancelled",
            State::Expired => "expired",
            State::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [State::Pending, State::Approved, State::Denied, State::Cancelled, State::Expired, State::Closed]
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

/// One approver's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub approver: Principal,
    pub party: PartyName,
    pub approve: bool,
    pub comment: Option<String>,
    pub at: i64,
}

/// `provider` or `customer`, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyName {
    Provider,
    Customer,
}

impl From<Party> for PartyName {
    fn from(p: Party) -> Self {
        match p {
            Party::Provider => PartyName::Provider,
            Party::Customer => PartyName::Customer,
        }
    }
}

/// What a staff member asks for.
#[derive(Debug, Clone)]
pub struct Ask {
    pub reason: String,
    pub ticket: Option<String>,
    pub password_to: Option<Principal>,
    pub mfa_to: Option<Principal>,
    pub window_minutes: Option<u32>,
}

/// A break-glass request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub requester: Principal,
    pub reason: String,
    pub ticket: Option<String>,
    pub password_to: Option<Principal>,
    pub mfa_to: Option<Principal>,
    pub window_minutes: u32,
    pub state: State,
    pub decisions: Vec<Decision>,
    pub created_at: i64,
    pub pending_until: i64,
    pub approved_at: Option<i64>,
    pub window_ends: Option<i64>,
    pub password_views_left: u8,
    pub ended_at: Option<i64>,
    /// Why the service cancelled it (its account moved or closed); absent
    /// when a person ended it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// The account's customer when the request was made: after a DDI move
    /// the new customer does not see the old one's requests. Absent on
    /// requests stored before moves existed (and on accounts without a
    /// customer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_org: Option<OrgName>,
}

/// Why a request step was refused. Each names the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("break-glass requests need the staff role")]
    NotStaff,
    #[error("a reason is required (at most {MAX_REASON_CHARS} characters)")]
    Reason,
    #[error("a ticket reference is at most {MAX_TICKET_CHARS} printable characters")]
    Ticket,
    #[error("name a recipient: password_to, mfa_to or both")]
    NoRecipient,
    #[error("password_to and mfa_to must be different people (four eyes)")]
    SameRecipient,
    #[error("window_minutes must be between 1 and {MAX_WINDOW_MINUTES}")]
    Window,
    #[error("{principal} is not a current custodian of the {half} half")]
    RecipientNotCustodian { principal: Principal, half: Half },
    #[error(
        "{principal} has seen version {version} of the {seen} half, which is still current; no one may hold both halves"
    )]
    Walled { principal: Principal, seen: Half, version: u32 },
    #[error("the account stores no halves")]
    NothingStored,
    #[error("approving needs the approver role")]
    NotApprover,
    #[error("the provider holds both halves of this account: only provider approvers decide")]
    ProviderDecides,
    #[error("no one may approve their own request")]
    SelfApproval,
    #[error("a recipient of a request may not approve it")]
    RecipientApproval,
    #[error("you already decided on this request")]
    AlreadyDecided,
    #[error("this account is shared with the customer: the approvals must include one from the {0}")]
    OtherPartyRequired(&'static str),
    #[error("the request is {0}, not pending")]
    NotPending(&'static str),
    #[error("only the requester may cancel a request")]
    NotRequester,
    #[error("the request is {0}, not approved")]
    NotApproved(&'static str),
    #[error("the release window has closed")]
    WindowClosed,
    #[error("you are not the named recipient of the {0} half")]
    NotRecipient(Half),
    #[error("the password was already shown as often as allowed")]
    NoViewsLeft,
}

fn clean_text(text: &str, max: usize) -> Option<String> {
    let text = text.trim();
    (!text.is_empty() && text.chars().count() <= max && !text.chars().any(|c| c.is_control() && c != '\n'))
        .then(|| text.to_owned())
}

/// Whether `who` may receive `half` now: they must still be its custodian
/// and must not have seen the other half's current version (invariant 2).
pub fn check_recipient(
    sets: &CustodianSets,
    exposures: &[Exposure],
    current: CurrentVersions,
    who: &Principal,
    half: Half,
) -> Result<(), RequestError> {
    if !sets.is_custodian(who, half) {
        return Err(RequestError::RecipientNotCustodian { principal: who.clone(), half });
    }
    match blocking_exposure(exposures, current, who, half) {
        Some(e) => Err(RequestError::Walled { principal: who.clone(), seen: e.half, version: e.version }),
        None => Ok(()),
    }
}

/// The people a request already names: who asked, who would receive,
/// and who decided. Enough to tell whether someone else may decide.
#[derive(Debug, Clone, Copy)]
pub struct Parties<'a> {
    pub requester: &'a Principal,
    pub password_to: Option<&'a Principal>,
    pub mfa_to: Option<&'a Principal>,
    pub decided: &'a [&'a Principal],
}

impl Parties<'_> {
    /// Who may decide: an approver who is neither the requester nor a
    /// recipient, has not decided yet, and (when the provider holds both
    /// halves) belongs to the provider.
    pub fn check_decider(
        &self,
        approver: &Principal,
        roles: &[Role],
        party: Party,
        shared: bool,
    ) -> Result<(), RequestError> {
        if !roles.contains(&Role::Approver) {
            return Err(RequestError::NotApprover);
        }
        if !shared && party == Party::Customer {
            return Err(RequestError::ProviderDecides);
        }
        if approver == self.requester {
            return Err(RequestError::SelfApproval);
        }
        if self.password_to == Some(approver) || self.mfa_to == Some(approver) {
            return Err(RequestError::RecipientApproval);
        }
        if self.decided.contains(&approver) {
            return Err(RequestError::AlreadyDecided);
        }
        Ok(())
    }
}

impl Request {
    /// Open a request, checking the ask against the account's custody.
    #[expect(clippy::too_many_arguments, reason = "each input is a distinct fact the rule needs")]
    pub fn open(
        account: &Account,
        sets: &CustodianSets,
        exposures: &[Exposure],
        current: CurrentVersions,
        requester: &Principal,
        requester_roles: &[Role],
        ask: Ask,
        policy: Policy,
        now: i64,
    ) -> Result<Self, RequestError> {
        if !requester_roles.contains(&Role::Staff) {
            return Err(RequestError::NotStaff);
        }
        if !account.custody.stores_halves() {
            return Err(RequestError::NothingStored);
        }
        let reason = clean_text(&ask.reason, MAX_REASON_CHARS).ok_or(RequestError::Reason)?;
        let ticket = match ask.ticket {
            Some(t) => Some(clean_text(&t, MAX_TICKET_CHARS).ok_or(RequestError::Ticket)?),
            None => None,
        };
        let window_minutes = ask.window_minutes.unwrap_or(DEFAULT_WINDOW_MINUTES);
        if !(1..=MAX_WINDOW_MINUTES).contains(&window_minutes) {
            return Err(RequestError::Window);
        }
        match (&ask.password_to, &ask.mfa_to) {
            (None, None) => return Err(RequestError::NoRecipient),
            (Some(p), Some(m)) if p == m => return Err(RequestError::SameRecipient),
            _ => {}
        }
        for (who, half) in [(&ask.password_to, Half::Password), (&ask.mfa_to, Half::Mfa)] {
            if let Some(who) = who {
                check_recipient(sets, exposures, current, who, half)?;
            }
        }
        let password_views_left = if ask.password_to.is_some() { policy.password_views } else { 0 };
        Ok(Self {
            requester: requester.clone(),
            reason,
            ticket,
            password_to: ask.password_to,
            mfa_to: ask.mfa_to,
            window_minutes,
            state: State::Pending,
            decisions: Vec::new(),
            created_at: now,
            pending_until: now + policy.pending_ttl_seconds,
            approved_at: None,
            window_ends: None,
            password_views_left,
            ended_at: None,
            cancel_reason: None,
            customer_org: account.customer_org.clone(),
        })
    }

    /// Move to `expired` if a deadline has passed; true when it changed.
    pub fn expire_if_due(&mut self, now: i64) -> bool {
        let due = match self.state {
            State::Pending => now >= self.pending_until,
            State::Approved => self.window_ends.is_some_and(|end| now >= end),
            _ => false,
        };
        if due {
            self.state = State::Expired;
            self.ended_at = Some(now);
        }
        due
    }

    fn ensure_pending(&mut self, now: i64) -> Result<(), RequestError> {
        self.expire_if_due(now);
        match self.state {
            State::Pending => Ok(()),
            other => Err(RequestError::NotPending(other.as_str())),
        }
    }

    /// The approvals given so far.
    pub fn approvals(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| d.approve)
    }

    /// Record an approval (invariant 3). Returns true when it completed the
    /// request, which then opens its release window.
    #[expect(clippy::too_many_arguments, reason = "each input is a distinct fact the rule needs")]
    pub fn approve(
        &mut self,
        approver: &Principal,
        roles: &[Role],
        party: Party,
        shared_with_customer: bool,
        policy: Policy,
        comment: Option<String>,
        now: i64,
    ) -> Result<bool, RequestError> {
        self.ensure_pending(now)?;
        self.check_decider(approver, roles, party, shared_with_customer)?;
        let party = PartyName::from(party);
        let needed = usize::from(policy.approvals_required);
        let after = self.approvals().count() + 1;
        if shared_with_customer && after >= needed {
            for required in [PartyName::Provider, PartyName::Customer] {
                let present = party == required || self.approvals().any(|d| d.party == required);
                if !present {
                    let name = if required == PartyName::Provider { "provider" } else { "customer" };
                    return Err(RequestError::OtherPartyRequired(name));
                }
            }
        }
        self.decisions.push(Decision { approver: approver.clone(), party, approve: true, comment, at: now });
        if after >= needed {
            self.state = State::Approved;
            self.approved_at = Some(now);
            self.window_ends = Some(now + i64::from(self.window_minutes) * 60);
            return Ok(true);
        }
        Ok(false)
    }

    /// Record a denial: one denial ends the request.
    pub fn deny(
        &mut self,
        approver: &Principal,
        roles: &[Role],
        party: Party,
        shared_with_customer: bool,
        comment: Option<String>,
        now: i64,
    ) -> Result<(), RequestError> {
        self.ensure_pending(now)?;
        self.check_decider(approver, roles, party, shared_with_customer)?;
        self.decisions.push(Decision {
            approver: approver.clone(),
            party: party.into(),
            approve: false,
            comment,
            at: now,
        });
        self.state = State::Denied;
        self.ended_at = Some(now);
        Ok(())
    }

    fn check_decider(
        &self,
        approver: &Principal,
        roles: &[Role],
        party: Party,
        shared: bool,
    ) -> Result<(), RequestError> {
        let decided: Vec<&Principal> = self.decisions.iter().map(|d| &d.approver).collect();
        let parties = Parties {
            requester: &self.requester,
            password_to: self.password_to.as_ref(),
            mfa_to: self.mfa_to.as_ref(),
            decided: &decided,
        };
        parties.check_decider(approver, roles, party, shared)
    }

    /// The requester withdraws: a pending request is cancelled, an approved
    /// one is closed.
    pub fn cancel(&mut self, who: &Principal, now: i64) -> Result<(), RequestError> {
        if *who != self.requester {
            return Err(RequestError::NotRequester);
        }
        self.expire_if_due(now);
        self.state = match self.state {
            State::Pending => State::Cancelled,
            State::Approved => State::Closed,
            other => return Err(RequestError::NotPending(other.as_str())),
        };
        self.ended_at = Some(now);
        Ok(())
    }

    /// The service ends a request that is still open (pending or approved)
    /// because its account left custody as it was asked under: it moved to
    /// another customer or was closed. Returns whether it ended it.
    pub fn withdraw(&mut self, reason: &str, now: i64) -> bool {
        self.expire_if_due(now);
        if !matches!(self.state, State::Pending | State::Approved) {
            return false;
        }
        self.state = State::Cancelled;
        self.ended_at = Some(now);
        self.cancel_reason = Some(reason.to_owned());
        true
    }

    /// Whether `who` may receive `half` under this request now: what the
    /// request decides, then the custody wall.
    pub fn check_release(
        &mut self,
        who: &Principal,
        half: Half,
        sets: &CustodianSets,
        exposures: &[Exposure],
        current: CurrentVersions,
        now: i64,
    ) -> Result<(), RequestError> {
        self.check_release_terms(who, half, now)?;
        check_recipient(sets, exposures, current, who, half)
    }

    /// What the request alone decides about a release of `half` to `who`
    /// now: that `who` is its recipient of `half`, that it is approved and
    /// its window open, and that a password view is left. Not the custody
    /// wall, which only [`Request::check_release`] checks.
    pub fn check_release_terms(&mut self, who: &Principal, half: Half, now: i64) -> Result<(), RequestError> {
        let named = match half {
            Half::Password => self.password_to.as_ref(),
            Half::Mfa => self.mfa_to.as_ref(),
        };
        if named != Some(who) {
            return Err(RequestError::NotRecipient(half));
        }
        self.expire_if_due(now);
        match self.state {
            State::Approved => {}
            State::Expired if self.approved_at.is_some() => return Err(RequestError::WindowClosed),
            other => return Err(RequestError::NotApproved(other.as_str())),
        }
        if half == Half::Password && self.password_views_left == 0 {
            return Err(RequestError::NoViewsLeft);
        }
        Ok(())
    }

    /// Count one password view; the request closes when nothing is left to
    /// release (no views left and no MFA recipient).
    pub fn record_password_view(&mut self, now: i64) {
        self.password_views_left = self.password_views_left.saturating_sub(1);
        if self.password_views_left == 0 && self.mfa_to.is_none() {
            self.state = State::Closed;
            self.ended_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::{AccountKind, AccountModel, Contacts, CustodyMode, KeyOverrides};

    fn p(s: &str) -> Principal {
        s.parse().unwrap()
    }

    fn account(custody: CustodyMode) -> Account {
        Account {
            account_id: "123456789012".parse().unwrap(),
            name: "x".into(),
            kind: AccountKind::Payer,
            model: AccountModel::Spam,
            dedicated_payer: false,
            custody,
            customer_org: Some("globex".parse().unwrap()),
            root_email: "root@acme.example".parse().unwrap(),
            contacts: Contacts::default(),
            kms_keys: KeyOverrides::default(),
            assignment: Default::default(),
        }
    }

    fn sets() -> CustodianSets {
        CustodianSets { password: [p("acme/alice")].into(), mfa: [p("globex/gus")].into() }
    }

    fn ask() -> Ask {
        Ask {
            reason: "root needed to fix billing".into(),
            ticket: Some("INC-1".into()),
            password_to: Some(p("acme/alice")),
            mfa_to: Some(p("globex/gus")),
            window_minutes: None,
        }
    }

    fn open(custody: CustodyMode) -> Request {
        let current = CurrentVersions { password: Some(1), mfa: Some(1) };
        Request::open(
            &account(custody),
            &sets(),
            &[],
            current,
            &p("acme/sam"),
            &[Role::Staff],
            ask(),
            Policy::default(),
            1000,
        )
        .unwrap()
    }

    const APPROVER: &[Role] = &[Role::Approver];

    #[test]
    fn a_threshold_below_two_is_a_configuration_error() {
        assert_eq!(Policy::new(1, 1, 60), Err(PolicyError::Threshold(1)));
        assert_eq!(Policy::new(2, 4, 60), Err(PolicyError::Views(4)));
        assert!(Policy::new(3, 3, 60).is_ok());
    }

    #[test]
    fn asks_are_checked_against_custody() {
        let acc = account(CustodyMode::SharedPayer);
        let current = CurrentVersions { password: Some(1), mfa: Some(1) };
        let go = |ask: Ask, roles: &[Role]| {
            Request::open(&acc, &sets(), &[], current, &p("acme/sam"), roles, ask, Policy::default(), 0)
        };
        assert_eq!(go(ask(), &[Role::Approver]).unwrap_err(), RequestError::NotStaff);
        assert_eq!(go(Ask { reason: " ".into(), ..ask() }, &[Role::Staff]).unwrap_err(), RequestError::Reason);
        assert_eq!(
            go(Ask { password_to: None, mfa_to: None, ..ask() }, &[Role::Staff]).unwrap_err(),
            RequestError::NoRecipient
        );
        assert_eq!(
            go(Ask { mfa_to: Some(p("acme/alice")), ..ask() }, &[Role::Staff]).unwrap_err(),
            RequestError::SameRecipient
        );
        assert_eq!(go(Ask { window_minutes: Some(721), ..ask() }, &[Role::Staff]).unwrap_err(), RequestError::Window);
        assert!(matches!(
            go(Ask { mfa_to: Some(p("globex/gina")), ..ask() }, &[Role::Staff]),
            Err(RequestError::RecipientNotCustodian { .. })
        ));
        let seen = [Exposure { principal: p("acme/alice"), half: Half::Mfa, version: 1 }];
        let walled =
            Request::open(&acc, &sets(), &seen, current, &p("acme/sam"), &[Role::Staff], ask(), Policy::default(), 0);
        assert!(matches!(walled, Err(RequestError::Walled { .. })));
    }

    #[test]
    fn requesters_and_recipients_cannot_approve_and_nobody_approves_twice() {
        let mut r = open(CustodyMode::ProviderSplit);
        let policy = Policy::default();
        for (who, err) in [
            ("acme/sam", RequestError::SelfApproval),
            ("acme/alice", RequestError::RecipientApproval),
            ("globex/gus", RequestError::RecipientApproval),
        ] {
            assert_eq!(r.approve(&p(who), APPROVER, Party::Provider, false, policy, None, 1001), Err(err));
        }
        assert_eq!(
            r.approve(&p("acme/carol"), &[Role::Staff], Party::Provider, false, policy, None, 1001),
            Err(RequestError::NotApprover)
        );
        assert_eq!(r.approve(&p("acme/carol"), APPROVER, Party::Provider, false, policy, None, 1001), Ok(false));
        assert_eq!(
            r.approve(&p("acme/carol"), APPROVER, Party::Provider, false, policy, None, 1002),
            Err(RequestError::AlreadyDecided)
        );
        assert_eq!(r.approve(&p("acme/dave"), APPROVER, Party::Provider, false, policy, None, 1003), Ok(true));
        assert_eq!(r.state, State::Approved);
        assert_eq!(r.window_ends, Some(1003 + 3600));
        assert_eq!(
            r.approve(&p("acme/erin"), APPROVER, Party::Provider, false, policy, None, 1004),
            Err(RequestError::NotPending("approved"))
        );
    }

    #[test]
    fn on_provider_split_accounts_only_provider_approvers_decide() {
        let mut r = open(CustodyMode::ProviderSplit);
        let policy = Policy::default();
        let customer = r.approve(&p("globex/grace"), APPROVER, Party::Customer, false, policy, None, 1001);
        assert_eq!(customer, Err(RequestError::ProviderDecides));
        assert_eq!(
            r.deny(&p("globex/grace"), APPROVER, Party::Customer, false, None, 1001),
            Err(RequestError::ProviderDecides)
        );
        assert_eq!(r.state, State::Pending);
    }

    #[test]
    fn shared_accounts_need_one_approval_from_each_side() {
        let mut r = open(CustodyMode::SharedPayer);
        let policy = Policy::default();
        assert_eq!(r.approve(&p("acme/carol"), APPROVER, Party::Provider, true, policy, None, 1001), Ok(false));
        assert_eq!(
            r.approve(&p("acme/dave"), APPROVER, Party::Provider, true, policy, None, 1002),
            Err(RequestError::OtherPartyRequired("customer"))
        );
        assert_eq!(r.approve(&p("globex/grace"), APPROVER, Party::Customer, true, policy, None, 1003), Ok(true));
    }

    #[test]
    fn one_denial_ends_the_request_and_deadlines_expire_it() {
        let mut r = open(CustodyMode::ProviderSplit);
        r.deny(&p("acme/carol"), APPROVER, Party::Provider, false, Some("no ticket".into()), 1001).unwrap();
        assert_eq!(r.state, State::Denied);
        let mut r = open(CustodyMode::ProviderSplit);
        let late = r.pending_until;
        assert_eq!(
            r.approve(&p("acme/carol"), APPROVER, Party::Provider, false, Policy::default(), None, late),
            Err(RequestError::NotPending("expired"))
        );
    }

    #[test]
    fn the_terms_of_a_release_leave_the_wall_to_the_full_check() {
        let mut r = open(CustodyMode::ProviderSplit);
        let policy = Policy::default();
        r.approve(&p("acme/carol"), APPROVER, Party::Provider, false, policy, None, 1001).unwrap();
        r.approve(&p("acme/dave"), APPROVER, Party::Provider, false, policy, None, 1002).unwrap();
        let current = CurrentVersions { password: Some(1), mfa: Some(1) };
        // Alice has seen the current MFA seed: the request's terms let her
        // have the password, the wall does not.
        let seen = [Exposure { principal: p("acme/alice"), half: Half::Mfa, version: 1 }];
        assert_eq!(r.check_release_terms(&p("acme/alice"), Half::Password, 1003), Ok(()));
        assert!(matches!(
            r.check_release(&p("acme/alice"), Half::Password, &sets(), &seen, current, 1003),
            Err(RequestError::Walled { .. })
        ));
        assert_eq!(
            r.check_release_terms(&p("globex/gus"), Half::Password, 1003),
            Err(RequestError::NotRecipient(Half::Password))
        );
    }

    #[test]
    fn releases_go_to_the_named_recipient_within_the_window_only() {
        let mut r = open(CustodyMode::ProviderSplit);
        let policy = Policy::default();
        r.approve(&p("acme/carol"), APPROVER, Party::Provider, false, policy, None, 1001).unwrap();
        r.approve(&p("acme/dave"), APPROVER, Party::Provider, false, policy, None, 1002).unwrap();
        let current = CurrentVersions { password: Some(1), mfa: Some(1) };
        assert_eq!(
            r.check_release(&p("globex/gus"), Half::Password, &sets(), &[], current, 1003),
            Err(RequestError::NotRecipient(Half::Password))
        );
        assert_eq!(r.check_release(&p("acme/alice"), Half::Password, &sets(), &[], current, 1003), Ok(()));
        r.record_password_view(1003);
        assert_eq!(
            r.check_release(&p("acme/alice"), Half::Password, &sets(), &[], current, 1004),
            Err(RequestError::NoViewsLeft)
        );
        assert_eq!(r.check_release(&p("globex/gus"), Half::Mfa, &sets(), &[], current, 1004), Ok(()));
        let end = r.window_ends.unwrap();
        assert_eq!(
            r.check_release(&p("globex/gus"), Half::Mfa, &sets(), &[], current, end),
            Err(RequestError::WindowClosed)
        );
        assert_eq!(r.state, State::Expired);
    }

    #[test]
    fn cancelling_belongs_to_the_requester() {
        let mut r = open(CustodyMode::ProviderSplit);
        assert_eq!(r.cancel(&p("acme/alice"), 1001), Err(RequestError::NotRequester));
        r.cancel(&p("acme/sam"), 1001).unwrap();
        assert_eq!(r.state, State::Cancelled);
        assert_eq!(r.cancel(&p("acme/sam"), 1002), Err(RequestError::NotPending("cancelled")));
    }

    #[test]
    fn the_service_withdraws_open_requests_with_its_reason_and_leaves_ended_ones_alone() {
        let policy = Policy::default();
        let mut pending = open(CustodyMode::ProviderSplit);
        assert!(pending.withdraw("the account moved to another customer", 1001));
        assert_eq!((pending.state, pending.ended_at), (State::Cancelled, Some(1001)));
        assert_eq!(pending.cancel_reason.as_deref(), Some("the account moved to another customer"));
        assert!(!pending.withdraw("again", 1002), "already ended");
        let mut approved = open(CustodyMode::ProviderSplit);
        approved.approve(&p("acme/carol"), APPROVER, Party::Provider, false, policy, None, 1001).unwrap();
        approved.approve(&p("acme/dave"), APPROVER, Party::Provider, false, policy, None, 1002).unwrap();
        assert!(approved.withdraw("the account was closed", 1003));
        assert_eq!(approved.state, State::Cancelled);
        let mut overdue = open(CustodyMode::ProviderSplit);
        assert!(!overdue.withdraw("late", overdue.pending_until), "an expired request stays expired");
        assert_eq!((overdue.state, overdue.cancel_reason), (State::Expired, None));
        let stored = serde_json::to_value(open(CustodyMode::ProviderSplit)).unwrap();
        assert!(stored.get("cancel_reason").is_none(), "requests ended by people keep their stored shape");
    }
}
