//! Onboarding (account assumption): custody of an account begins (seeds 000,
//! 001, 002, 004).
//!
//! The provider's admin starts it with the customer's legal name and address
//! and its authorised signatory, then works through the checklist: the root
//! e-mail set to the provider's alias, the root access keys deleted, the
//! alternate contacts set (billing to the provider, operations and security
//! to the customer: seed 004), the provider's role created and the root
//! sign-in watch enabled, each marked `done` or `not_applicable`. Two items
//! are the service's own: `reset_password` and `enable_mfa` are done when a
//! new version of the password half and of the MFA half is stored after the
//! start by the side the custody mode gives that half to (a custodian's
//! deposit, a generated password, or a collect link, e.g. to the signatory
//! who keeps their own password: seed 002). Completion needs every item.
//!
//! ```text
//! not_started ─start─▶ in_progress ─complete (every item settled)─▶ completed
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::account::CustodyMode;
use super::custody::holding_parties;
use super::ids::{Half, OrgName, Principal};
use super::orgs::Party;
use super::reverse::{ItemStatus, Signatory};

/// Longest legal name accepted, in characters.
pub const MAX_LEGAL_NAME_CHARS: usize = 200;
/// Longest legal address accepted, in characters (line breaks allowed).
pub const MAX_LEGAL_ADDRESS_CHARS: usize = 500;

/// Where an account's onboarding stands. Accounts registered before
/// onboarding existed count as `completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnboardingState {
    NotStarted,
    InProgress,
    Completed,
}

impl OnboardingState {
    pub fn as_str(self) -> &'static str {
        match self {
            OnboardingState::NotStarted => "not_started",
            OnboardingState::InProgress => "in_progress",
            OnboardingState::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [OnboardingState::NotStarted, OnboardingState::InProgress, OnboardingState::Completed]
            .into_iter()
            .find(|state| state.as_str() == s)
    }

    /// The state a newly registered account starts in: the service holds
    /// nothing of a `customer_owned` account, so there is nothing to onboard.
    pub fn for_new_account(mode: CustodyMode) -> Self {
        if mode.stores_halves() { OnboardingState::NotStarted } else { OnboardingState::Completed }
    }
}

impl fmt::Display for OnboardingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The onboarding checklist, in the order the work is done. Declaration
/// order is the order of the checklist and of the JSON object recording it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnboardingItem {
    SetRootEmail,
    ResetPassword,
    EnableMfa,
    DeleteRootAccessKeys,
    SetAlternateContacts,
    CreateProviderRole,
    EnableRootSigninWatch,
}

impl OnboardingItem {
    pub const ALL: [OnboardingItem; 7] = [
        OnboardingItem::SetRootEmail,
        OnboardingItem::ResetPassword,
        OnboardingItem::EnableMfa,
        OnboardingItem::DeleteRootAccessKeys,
        OnboardingItem::SetAlternateContacts,
        OnboardingItem::CreateProviderRole,
        OnboardingItem::EnableRootSigninWatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OnboardingItem::SetRootEmail => "set_root_email",
            OnboardingItem::ResetPassword => "reset_password",
            OnboardingItem::EnableMfa => "enable_mfa",
            OnboardingItem::DeleteRootAccessKeys => "delete_root_access_keys",
            OnboardingItem::SetAlternateContacts => "set_alternate_contacts",
            OnboardingItem::CreateProviderRole => "create_provider_role",
            OnboardingItem::EnableRootSigninWatch => "enable_root_signin_watch",
        }
    }

    /// The item a new version of `half` settles.
    pub fn for_half(half: Half) -> Self {
        match half {
            Half::Password => OnboardingItem::ResetPassword,
            Half::Mfa => OnboardingItem::EnableMfa,
        }
    }

    /// Whether the service settles this item itself, from a deposit.
    pub fn is_the_services(self) -> bool {
        matches!(self, OnboardingItem::ResetPassword | OnboardingItem::EnableMfa)
    }
}

impl fmt::Display for OnboardingItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OnboardingItem {
    type Err = OnboardingError;
    fn from_str(s: &str) -> Result<Self, OnboardingError> {
        OnboardingItem::ALL.into_iter().find(|i| i.as_str() == s).ok_or(OnboardingError::UnknownItem)
    }
}

/// How and by whom an item was settled. `by` is a principal, or
/// `link:<hash>` when a collect link brought the deposit; `version` is the
/// half version that settled a service item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemMark {
    pub status: ItemStatus,
    pub by: String,
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

/// What the provider's admin gives when starting.
#[derive(Debug, Clone)]
pub struct Start {
    pub signatory: Signatory,
    pub legal_name: String,
    pub legal_address: String,
}

/// One account's onboarding, once started. Metadata only: no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Onboarding {
    pub state: OnboardingState,
    /// The account's customer when onboarding started: whose legal details
    /// these are.
    pub customer_org: Option<OrgName>,
    pub signatory: Signatory,
    pub legal_name: String,
    pub legal_address: String,
    pub started_by: Principal,
    pub started_at: i64,
    pub checklist: BTreeMap<OnboardingItem, ItemMark>,
    pub completed_by: Option<Principal>,
    pub completed_at: Option<i64>,
}

/// Why an onboarding step was refused. Each names the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnboardingError {
    #[error("customer_owned accounts store nothing, so there is nothing to onboard")]
    NothingInCustody,
    #[error("onboarding of this account is already under way")]
    AlreadyStarted,
    #[error("this account is already onboarded")]
    AlreadyOnboarded,
    #[error("the signatory's name must be 1-200 characters without control characters")]
    SignatoryName,
    #[error("legal_name must be 1-{MAX_LEGAL_NAME_CHARS} characters without control characters")]
    LegalName,
    #[error("legal_address must be 1-{MAX_LEGAL_ADDRESS_CHARS} characters without control characters but line breaks")]
    LegalAddress,
    #[error(
        "{0} is done by the service when a new {half} half is deposited after onboarding started",
        half = if *.0 == OnboardingItem::ResetPassword { "password" } else { "MFA" }
    )]
    ServiceItem(OnboardingItem),
    #[error(
        "unknown checklist item; the items are set_root_email, reset_password, enable_mfa, delete_root_access_keys, \
         set_alternate_contacts, create_provider_role and enable_root_signin_watch"
    )]
    UnknownItem,
    #[error("the checklist is incomplete: {} {} still open", item_list(.0), if .0.len() == 1 { "is" } else { "are" })]
    Incomplete(Vec<OnboardingItem>),
}

fn item_list(items: &[OnboardingItem]) -> String {
    items.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(", ")
}

/// `text` trimmed, if it is 1 to `max` characters with no control character
/// (line breaks allowed when `lines`).
fn clean(text: &str, max: usize, lines: bool) -> Option<String> {
    let text = text.trim();
    let allowed = |c: char| !c.is_control() || (lines && c == '\n');
    (!text.is_empty() && text.chars().count() <= max && text.chars().all(allowed)).then(|| text.to_owned())
}

/// The parties whose deposit of `half` settles its item under `mode`: the
/// side the custody mode gives the half to (DESIGN §2), e.g. the customer
/// for the MFA half of a shared payer (seed 004).
pub fn depositors(mode: CustodyMode, half: Half) -> &'static [Party] {
    holding_parties(mode, half)
}

impl Onboarding {
    /// Start onboarding an account in custody `mode`, whose onboarding is
    /// `current`, for its customer `customer_org`.
    pub fn start(
        current: OnboardingState,
        mode: CustodyMode,
        customer_org: Option<OrgName>,
        start: Start,
        by: Principal,
        now: i64,
    ) -> Result<Self, OnboardingError> {
        if !mode.stores_halves() {
            return Err(OnboardingError::NothingInCustody);
        }
        match current {
            OnboardingState::NotStarted => {}
            OnboardingState::InProgress => return Err(OnboardingError::AlreadyStarted),
            OnboardingState::Completed => return Err(OnboardingError::AlreadyOnboarded),
        }
        let signatory = start.signatory.cleaned().ok_or(OnboardingError::SignatoryName)?;
        let legal_name = clean(&start.legal_name, MAX_LEGAL_NAME_CHARS, false).ok_or(OnboardingError::LegalName)?;
        let legal_address =
            clean(&start.legal_address, MAX_LEGAL_ADDRESS_CHARS, true).ok_or(OnboardingError::LegalAddress)?;
        Ok(Self {
            state: OnboardingState::InProgress,
            customer_org,
            signatory,
            legal_name,
            legal_address,
            started_by: by,
            started_at: now,
            checklist: BTreeMap::new(),
            completed_by: None,
            completed_at: None,
        })
    }

    fn ensure_in_progress(&self) -> Result<(), OnboardingError> {
        match self.state {
            OnboardingState::InProgress => Ok(()),
            OnboardingState::Completed => Err(OnboardingError::AlreadyOnboarded),
            OnboardingState::NotStarted => Err(OnboardingError::AlreadyStarted),
        }
    }

    /// Mark one of the provider's items. Marking again replaces the mark,
    /// so a mistaken `not_applicable` can be corrected.
    pub fn mark(
        &mut self,
        item: OnboardingItem,
        status: ItemStatus,
        by: &Principal,
        now: i64,
    ) -> Result<(), OnboardingError> {
        self.ensure_in_progress()?;
        if item.is_the_services() {
            return Err(OnboardingError::ServiceItem(item));
        }
        self.checklist.insert(item, ItemMark { status, by: by.to_string(), at: now, version: None });
        Ok(())
    }

    /// A new `version` of `half` was stored by `by`, standing for `party`.
    /// Returns the item it settled, if any: only while onboarding is under
    /// way, and only when `party` is the side that holds the half under
    /// `mode`. A later version settles it again (it records the newest).
    pub fn record_deposit(
        &mut self,
        mode: CustodyMode,
        half: Half,
        party: Party,
        by: &str,
        version: u32,
        now: i64,
    ) -> Option<OnboardingItem> {
        if self.state != OnboardingState::InProgress || !depositors(mode, half).contains(&party) {
            return None;
        }
        let item = OnboardingItem::for_half(half);
        let mark = ItemMark { status: ItemStatus::Done, by: by.to_owned(), at: now, version: Some(version) };
        self.checklist.insert(item, mark);
        Some(item)
    }

    /// The items not yet settled, in checklist order.
    pub fn missing_items(&self) -> Vec<OnboardingItem> {
        OnboardingItem::ALL.into_iter().filter(|i| !self.checklist.contains_key(i)).collect()
    }

    /// Finish onboarding: every item must be settled.
    pub fn complete(&mut self, by: Principal, now: i64) -> Result<(), OnboardingError> {
        self.ensure_in_progress()?;
        let missing = self.missing_items();
        if !missing.is_empty() {
            return Err(OnboardingError::Incomplete(missing));
        }
        self.state = OnboardingState::Completed;
        self.completed_by = Some(by);
        self.completed_at = Some(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(s: &str) -> Principal {
        s.parse().unwrap()
    }

    fn start_body() -> Start {
        Start {
            signatory: Signatory { name: " Gina Globex ".into(), email: "gina@globex.example".parse().unwrap() },
            legal_name: "Globex Corporation".into(),
            legal_address: "1 Globex Way\nCypress Creek".into(),
        }
    }

    fn started(mode: CustodyMode) -> Onboarding {
        Onboarding::start(
            OnboardingState::NotStarted,
            mode,
            Some("globex".parse().unwrap()),
            start_body(),
            who("acme/ada"),
            10,
        )
        .unwrap()
    }

    fn mark_the_providers_items(o: &mut Onboarding) {
        for item in OnboardingItem::ALL.into_iter().filter(|i| !i.is_the_services()) {
            o.mark(item, ItemStatus::Done, &who("acme/ada"), 20).unwrap();
        }
    }

    #[test]
    fn onboarding_starts_once_with_clean_legal_details() {
        let o = started(CustodyMode::SharedPayer);
        assert_eq!((o.state, o.signatory.name.as_str()), (OnboardingState::InProgress, "Gina Globex"));
        assert_eq!(o.missing_items(), OnboardingItem::ALL.to_vec());
        let again =
            |current| Onboarding::start(current, CustodyMode::SharedPayer, None, start_body(), who("acme/ada"), 11);
        assert_eq!(again(OnboardingState::InProgress), Err(OnboardingError::AlreadyStarted));
        assert_eq!(again(OnboardingState::Completed), Err(OnboardingError::AlreadyOnboarded));
        let owned = Onboarding::start(
            OnboardingState::NotStarted,
            CustodyMode::CustomerOwned,
            None,
            start_body(),
            who("acme/ada"),
            1,
        );
        assert_eq!(owned, Err(OnboardingError::NothingInCustody));
    }

    #[test]
    fn legal_details_and_the_signatory_are_checked() {
        let with = |f: fn(&mut Start)| {
            let mut s = start_body();
            f(&mut s);
            Onboarding::start(OnboardingState::NotStarted, CustodyMode::CoOwned, None, s, who("acme/ada"), 1)
        };
        assert_eq!(with(|s| s.legal_name = "  ".into()), Err(OnboardingError::LegalName));
        assert_eq!(with(|s| s.legal_name = "Globex\nCorp".into()), Err(OnboardingError::LegalName));
        assert_eq!(with(|s| s.legal_name = "x".repeat(201)), Err(OnboardingError::LegalName));
        assert_eq!(with(|s| s.legal_address = String::new()), Err(OnboardingError::LegalAddress));
        assert_eq!(with(|s| s.legal_address = "1 Way\u{7}".into()), Err(OnboardingError::LegalAddress));
        assert_eq!(with(|s| s.legal_address = "a".repeat(501)), Err(OnboardingError::LegalAddress));
        assert_eq!(with(|s| s.signatory.name = "\n".into()), Err(OnboardingError::SignatoryName));
        assert!(with(|s| s.legal_address = "é".repeat(500)).is_ok());
    }

    #[test]
    fn the_service_items_cannot_be_marked_by_hand() {
        let mut o = started(CustodyMode::ProviderSplit);
        for item in [OnboardingItem::ResetPassword, OnboardingItem::EnableMfa] {
            assert_eq!(o.mark(item, ItemStatus::Done, &who("acme/ada"), 20), Err(OnboardingError::ServiceItem(item)));
        }
        assert_eq!(
            OnboardingError::ServiceItem(OnboardingItem::EnableMfa).to_string(),
            "enable_mfa is done by the service when a new MFA half is deposited after onboarding started"
        );
        o.mark(OnboardingItem::SetRootEmail, ItemStatus::NotApplicable, &who("acme/ada"), 20).unwrap();
        o.mark(OnboardingItem::SetRootEmail, ItemStatus::Done, &who("acme/ada"), 21).unwrap();
        assert_eq!(o.checklist[&OnboardingItem::SetRootEmail].status, ItemStatus::Done);
    }

    #[test]
    fn deposits_settle_their_item_only_from_the_side_the_mode_names() {
        let cases = [
            (CustodyMode::ProviderSplit, Half::Password, Party::Provider, true),
            (CustodyMode::ProviderSplit, Half::Mfa, Party::Provider, true),
            (CustodyMode::ProviderSplit, Half::Mfa, Party::Customer, false),
            (CustodyMode::SharedPayer, Half::Password, Party::Provider, true),
            (CustodyMode::SharedPayer, Half::Password, Party::Customer, false),
            (CustodyMode::SharedPayer, Half::Mfa, Party::Customer, true),
            (CustodyMode::SharedPayer, Half::Mfa, Party::Provider, false),
            (CustodyMode::CoOwned, Half::Password, Party::Customer, true),
            (CustodyMode::CoOwned, Half::Password, Party::Provider, true),
            (CustodyMode::CoOwned, Half::Mfa, Party::Customer, true),
        ];
        for (mode, half, party, settles) in cases {
            let mut o = started(mode);
            let got = o.record_deposit(mode, half, party, "someone", 3, 30);
            assert_eq!(got.is_some(), settles, "{mode} {half} {party:?}");
            if settles {
                let mark = &o.checklist[&OnboardingItem::for_half(half)];
                assert_eq!((mark.status, mark.version, mark.by.as_str()), (ItemStatus::Done, Some(3), "someone"));
            }
        }
    }

    #[test]
    fn completion_needs_every_item_and_happens_once() {
        let mode = CustodyMode::SharedPayer;
        let mut o = started(mode);
        mark_the_providers_items(&mut o);
        let err = o.complete(who("acme/ada"), 40).unwrap_err();
        assert_eq!(err, OnboardingError::Incomplete(vec![OnboardingItem::ResetPassword, OnboardingItem::EnableMfa]));
        assert_eq!(err.to_string(), "the checklist is incomplete: reset_password, enable_mfa are still open");
        o.record_deposit(mode, Half::Password, Party::Provider, "acme/alice", 1, 30);
        assert_eq!(
            o.complete(who("acme/ada"), 40).unwrap_err().to_string(),
            "the checklist is incomplete: enable_mfa is still open"
        );
        o.record_deposit(mode, Half::Mfa, Party::Customer, "globex/gus", 1, 31);
        o.complete(who("acme/ada"), 40).unwrap();
        assert_eq!((o.state, o.completed_at), (OnboardingState::Completed, Some(40)));
        assert_eq!(o.complete(who("acme/ada"), 41), Err(OnboardingError::AlreadyOnboarded));
        assert_eq!(
            o.mark(OnboardingItem::SetRootEmail, ItemStatus::Done, &who("acme/ada"), 41),
            Err(OnboardingError::AlreadyOnboarded)
        );
        assert_eq!(o.record_deposit(mode, Half::Password, Party::Provider, "acme/alice", 2, 42), None);
    }

    #[test]
    fn items_parse_from_their_names_and_states_from_theirs() {
        for item in OnboardingItem::ALL {
            assert_eq!(item.as_str().parse::<OnboardingItem>(), Ok(item));
            assert_eq!(serde_json::to_value(item).unwrap(), serde_json::json!(item.as_str()));
        }
        assert_eq!("reset-password".parse::<OnboardingItem>(), Err(OnboardingError::UnknownItem));
        for state in [OnboardingState::NotStarted, OnboardingState::InProgress, OnboardingState::Completed] {
            assert_eq!(OnboardingState::parse(state.as_str()), Some(state));
        }
        assert_eq!(OnboardingState::for_new_account(CustodyMode::CustomerOwned), OnboardingState::Completed);
        assert_eq!(OnboardingState::for_new_account(CustodyMode::CoOwned), OnboardingState::NotStarted);
    }

    #[test]
    fn an_onboarding_round_trips_through_json() {
        let mut o = started(CustodyMode::CoOwned);
        o.record_deposit(CustodyMode::CoOwned, Half::Password, Party::Customer, "link:0123456789abcdef", 1, 30);
        let value = serde_json::to_value(&o).unwrap();
        assert_eq!(value["checklist"]["reset_password"]["by"], "link:0123456789abcdef");
        assert_eq!(serde_json::from_value::<Onboarding>(value).unwrap(), o);
    }
}
