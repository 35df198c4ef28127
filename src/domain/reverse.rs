//! Reverse assumption: the customer takes ownership of an account back (DESIGN §9, seed 000).
//!
//! The customer names the new root e-mail and an authorised signatory; the provider schedules the transfer on a
//! weekday (for a dedicated payer only after the 15th, once the month's billing is final), works through the
//! checklist of account changes, and on the day confirms that the customer's balance is current. Only then are the
//! root credentials handed over through a one-time link, and custody ends when the customer uses it.
//!
//! ```text
//! requested ─schedule─▶ scheduled ─confirm_balance─▶ balance_confirmed ─hand_off─▶ handed_off ─complete─▶ completed
//!     │                  ▲     │                           │
//!     │                  └─────┴───────── schedule ────────┘   (a new date drops the balance confirmation)
//!     └── cancel, from any state before handed_off ──▶ cancelled
//! ```
//!
//! Every date here is a calendar date in UTC and every time is Unix seconds, both supplied by the caller, so each
//! rule is a pure function of its inputs.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, Weekday};

use super::account::Email;
use super::consent::{Consent, ConsentError};
use super::ids::Principal;
use super::orgs::Party;

/// Longest signatory name accepted, in characters.
pub const MAX_SIGNATORY_NAME_CHARS: usize = 200;
/// The last day of the month on which a dedicated payer account may not be handed back: the
/// provider finalises the month's billing up to and including the 15th (seed 000).
pub const DEDICATED_PAYER_LAST_BLOCKED_DAY: u8 = 15;

// Dates travel as "YYYY-MM-DD" whatever features other crates switch on in `time`, whose own
// serde impl would otherwise write a `[year, ordinal]` tuple.
time::serde::format_description!(ymd, Date, "[year]-[month]-[day]");

/// Where a reverse assumption stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RaState {
    Requested,
    Scheduled,
    BalanceConfirmed,
    HandedOff,
    Completed,
    Cancelled,
}

impl RaState {
    pub fn as_str(self) -> &'static str {
        match self {
            RaState::Requested => "requested",
            RaState::Scheduled => "scheduled",
            RaState::BalanceConfirmed => "balance_confirmed",
            RaState::HandedOff => "handed_off",
            RaState::Completed => "completed",
            RaState::Cancelled => "cancelled",
        }
    }

    /// Whether the hand-back may still be changed or cancelled: nothing has left the vault yet.
    pub fn is_open(self) -> bool {
        matches!(self, RaState::Requested | RaState::Scheduled | RaState::BalanceConfirmed)
    }
}

impl fmt::Display for RaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The account changes the provider makes before handing an account back (seed 000, "AWS
/// Account Changes Rackspace Makes When Transferring Accounts"). Declaration order is the order
/// of the checklist, and of the JSON object that records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecklistItem {
    UpdateContacts,
    UpdatePaymentMethod,
    DowngradeSupport,
    DisableMfa,
    RemoveProviderRoles,
    RemoveSnsTopics,
    LeaveOrganization,
}

impl ChecklistItem {
    /// Every item, in checklist order.
    pub const ALL: [ChecklistItem; 7] = [
        ChecklistItem::UpdateContacts,
        ChecklistItem::UpdatePaymentMethod,
        ChecklistItem::DowngradeSupport,
        ChecklistItem::DisableMfa,
        ChecklistItem::RemoveProviderRoles,
        ChecklistItem::RemoveSnsTopics,
        ChecklistItem::LeaveOrganization,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChecklistItem::UpdateContacts => "update_contacts",
            ChecklistItem::UpdatePaymentMethod => "update_payment_method",
            ChecklistItem::DowngradeSupport => "downgrade_support",
            ChecklistItem::DisableMfa => "disable_mfa",
            ChecklistItem::RemoveProviderRoles => "remove_provider_roles",
            ChecklistItem::RemoveSnsTopics => "remove_sns_topics",
            ChecklistItem::LeaveOrganization => "leave_organization",
        }
    }
}

impl fmt::Display for ChecklistItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChecklistItem {
    type Err = RaError;
    fn from_str(s: &str) -> Result<Self, RaError> {
        ChecklistItem::ALL.into_iter().find(|item| item.as_str() == s).ok_or(RaError::UnknownItem)
    }
}

/// How a checklist item was settled. `not_applicable` covers items that do not arise for this
/// account, e.g. leaving the organisation when the customer keeps it intact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Done,
    NotApplicable,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Done => "done",
            ItemStatus::NotApplicable => "not_applicable",
        }
    }
}

impl fmt::Display for ItemStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the credentials reach the customer (DESIGN §8, §9): a `deliver` link carries the root
/// e-mail and password to the signatory; a `collect` link lets the customer set the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffKind {
    Deliver,
    Collect,
}

impl HandoffKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffKind::Deliver => "deliver",
            HandoffKind::Collect => "collect",
        }
    }
}

impl fmt::Display for HandoffKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The customer's authorised signatory, who receives the hand-off link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signatory {
    pub name: String,
    pub email: Email,
}

impl Signatory {
    /// The signatory with its name trimmed, if that name is 1 to
    /// [`MAX_SIGNATORY_NAME_CHARS`] characters without control characters.
    pub fn cleaned(self) -> Option<Self> {
        let name = self.name.trim();
        let printable =
            !name.is_empty() && name.chars().count() <= MAX_SIGNATORY_NAME_CHARS && !name.chars().any(char::is_control);
        printable.then(|| Self { name: name.to_owned(), email: self.email })
    }
}

/// One account's hand-back, as the service keeps it. Metadata only: no secret lives here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReverseAssumption {
    pub state: RaState,
    pub new_root_email: Email,
    pub signatory: Signatory,
    /// The date the customer asked for (UTC calendar date).
    #[serde(with = "ymd")]
    pub requested_date: Date,
    pub requested_by: Principal,
    /// The date the provider committed to (UTC calendar date).
    #[serde(default, with = "ymd::option")]
    pub scheduled_date: Option<Date>,
    pub balance_confirmed_at: Option<i64>,
    pub checklist: BTreeMap<ChecklistItem, ItemStatus>,
    pub handed_off_at: Option<i64>,
    pub handoff: Option<HandoffKind>,
    pub completed_at: Option<i64>,
    /// Present so that a cancellation keeps its time like every other step; defaulted so that
    /// bodies stored without it still load.
    #[serde(default)]
    pub cancelled_at: Option<i64>,
    /// The consent to assignment, for public-sector and AWS India accounts.
    #[serde(default)]
    pub consent: Consent,
}

/// Why a reverse-assumption step was refused. Each names the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RaError {
    #[error("the signatory's name must be 1-{MAX_SIGNATORY_NAME_CHARS} characters without control characters")]
    SignatoryName,
    #[error("hand-back dates must fall on a weekday (Monday to Friday); {date} is a {weekday}")]
    Weekend { date: Date, weekday: Weekday },
    #[error(
        "a dedicated payer account can only be handed back after the {DEDICATED_PAYER_LAST_BLOCKED_DAY}th of the \
         month; {0} is not"
    )]
    NotAfterFifteenth(Date),
    #[error("hand-back dates cannot be in the past; {date} is before today ({today}, UTC)")]
    InPast { date: Date, today: Date },
    #[error("the reverse assumption is {actual}, not {expected}")]
    WrongState { actual: RaState, expected: RaState },
    #[error("the reverse assumption is {0}: it can no longer change")]
    Closed(RaState),
    #[error("no hand-off date is scheduled")]
    NotScheduled,
    #[error("the balance is confirmed on the day of the hand-back, and the hand-off date {0} has not come yet")]
    BalanceTooEarly(Date),
    #[error("the hand-off date {0} has not come yet")]
    HandoffNotYet(Date),
    #[error(
        "the hand-back scheduled for {scheduled} has slipped into another month ({today}); schedule it again so \
         the date rules are checked for that month"
    )]
    SlippedMonth { scheduled: Date, today: Date },
    #[error("the customer's balance is not confirmed as current")]
    BalanceNotConfirmed,
    #[error("the checklist is incomplete: {} {} still open", item_list(.0), if .0.len() == 1 { "is" } else { "are" })]
    ChecklistIncomplete(Vec<ChecklistItem>),
    // The offending text is not echoed: it comes straight from a request path.
    #[error(
        "unknown checklist item; the items are update_contacts, update_payment_method, downgrade_support, \
         disable_mfa, remove_provider_roles, remove_sns_topics and leave_organization"
    )]
    UnknownItem,
    #[error(transparent)]
    Consent(#[from] ConsentError),
}

fn item_list(items: &[ChecklistItem]) -> String {
    items.iter().map(|item| item.as_str()).collect::<Vec<_>>().join(", ")
}

/// Whether `date` (a UTC calendar date) may be a hand-back date: Monday to Friday only, and for a
/// dedicated payer account only after the 15th, once the provider has finalised the month's
/// billing (seed 000: "a hard requirement, and no exceptions can be made").
pub fn check_date(date: Date, dedicated_payer: bool) -> Result<(), RaError> {
    let weekday = date.weekday();
    if matches!(weekday, Weekday::Saturday | Weekday::Sunday) {
        return Err(RaError::Weekend { date, weekday });
    }
    if dedicated_payer && date.day() <= DEDICATED_PAYER_LAST_BLOCKED_DAY {
        return Err(RaError::NotAfterFifteenth(date));
    }
    Ok(())
}

/// `check_date`, and the date is today or later (both UTC calendar dates).
fn check_future_date(date: Date, dedicated_payer: bool, today: Date) -> Result<(), RaError> {
    if date < today {
        return Err(RaError::InPast { date, today });
    }
    check_date(date, dedicated_payer)
}

/// The Unix time at which `date` begins in UTC.
fn start_of_day(date: Date) -> i64 {
    date.midnight().assume_utc().unix_timestamp()
}

impl ReverseAssumption {
    /// Record a customer's request to take the account back. `requested_date` and `today` are
    /// UTC calendar dates; the requested date must be a valid hand-back date and not in the past.
    pub fn request(
        new_root_email: Email,
        signatory: Signatory,
        requested_date: Date,
        requested_by: Principal,
        dedicated_payer: bool,
        today: Date,
    ) -> Result<Self, RaError> {
        let signatory = signatory.cleaned().ok_or(RaError::SignatoryName)?;
        check_future_date(requested_date, dedicated_payer, today)?;
        Ok(Self {
            state: RaState::Requested,
            new_root_email,
            signatory,
            requested_date,
            requested_by,
            scheduled_date: None,
            balance_confirmed_at: None,
            checklist: BTreeMap::new(),
            handed_off_at: None,
            handoff: None,
            completed_at: None,
            cancelled_at: None,
            consent: Consent::default(),
        })
    }

    fn ensure_open(&self) -> Result<(), RaError> {
        if self.state.is_open() { Ok(()) } else { Err(RaError::Closed(self.state)) }
    }

    fn ensure_state(&self, expected: RaState) -> Result<(), RaError> {
        if self.state == expected { Ok(()) } else { Err(RaError::WrongState { actual: self.state, expected }) }
    }

    /// Commit to a hand-off date (a UTC calendar date, today or later), or move it. Allowed until
    /// the hand-off. Moving the date after the balance was confirmed drops that confirmation:
    /// the balance is confirmed on the day of the transfer (seed 000), so it belongs to the old day.
    pub fn schedule(&mut self, date: Date, dedicated_payer: bool, today: Date) -> Result<(), RaError> {
        self.ensure_open()?;
        check_future_date(date, dedicated_payer, today)?;
        self.scheduled_date = Some(date);
        self.balance_confirmed_at = None;
        self.state = RaState::Scheduled;
        Ok(())
    }

    /// Record that the customer is current on all balances. Only once scheduled, and no earlier
    /// than the start (00:00 UTC) of the hand-off date: the seed has the process engineers confirm
    /// it on the day, before proceeding, so an older confirmation proves nothing.
    pub fn confirm_balance(&mut self, now: i64) -> Result<(), RaError> {
        self.ensure_state(RaState::Scheduled)?;
        let date = self.scheduled_date.ok_or(RaError::NotScheduled)?;
        if now < start_of_day(date) {
            return Err(RaError::BalanceTooEarly(date));
        }
        self.balance_confirmed_at = Some(now);
        self.state = RaState::BalanceConfirmed;
        Ok(())
    }

    /// Record one checklist item. Allowed until the hand-off; marking an item again replaces its
    /// status, so a mistaken `not_applicable` can be corrected.
    pub fn mark(&mut self, item: ChecklistItem, status: ItemStatus) -> Result<(), RaError> {
        self.ensure_open()?;
        self.checklist.insert(item, status);
        Ok(())
    }

    /// `party` marks the consent to assignment signed (once per side), while
    /// nothing has been handed over.
    pub fn mark_consent(&mut self, party: Party, by: Principal, now: i64) -> Result<(), RaError> {
        self.ensure_open()?;
        Ok(self.consent.mark(party, by, now)?)
    }

    /// Whether the consent allows a hand-off: always when it is not
    /// `required` (neither public sector nor AWS India), else once both sides
    /// marked it.
    pub fn check_consent(&self, required: bool) -> Result<(), RaError> {
        Ok(self.consent.check_signed(required)?)
    }

    /// The checklist items not yet marked, in checklist order.
    pub fn missing_items(&self) -> Vec<ChecklistItem> {
        ChecklistItem::ALL.into_iter().filter(|item| !self.checklist.contains_key(item)).collect()
    }

    /// Whether the credentials may be handed over `today` (a UTC calendar date): the hand-off date
    /// has come, today is itself a weekday in the scheduled month (a hand-back that slips past a
    /// weekend or into the next month must not dodge the date rules, which for a dedicated payer
    /// depend on the month), the balance is confirmed and every checklist item is settled.
    pub fn check_handoff(&self, today: Date) -> Result<(), RaError> {
        if !matches!(self.state, RaState::Scheduled | RaState::BalanceConfirmed) {
            return Err(RaError::WrongState { actual: self.state, expected: RaState::BalanceConfirmed });
        }
        let scheduled = self.scheduled_date.ok_or(RaError::NotScheduled)?;
        if today < scheduled {
            return Err(RaError::HandoffNotYet(scheduled));
        }
        // Only the weekday rule is re-checked here; the 15th rule was checked on the scheduled
        // date and holds for every later day of the same month.
        check_date(today, false)?;
        if (today.year(), today.month()) != (scheduled.year(), scheduled.month()) {
            return Err(RaError::SlippedMonth { scheduled, today });
        }
        if self.state != RaState::BalanceConfirmed || self.balance_confirmed_at.is_none() {
            return Err(RaError::BalanceNotConfirmed);
        }
        let missing = self.missing_items();
        if !missing.is_empty() {
            return Err(RaError::ChecklistIncomplete(missing));
        }
        Ok(())
    }

    /// Hand the credentials over through a link of `kind`. `today` is the UTC calendar date of
    /// `now`.
    pub fn hand_off(&mut self, kind: HandoffKind, today: Date, now: i64) -> Result<(), RaError> {
        self.check_handoff(today)?;
        self.state = RaState::HandedOff;
        self.handoff = Some(kind);
        self.handed_off_at = Some(now);
        Ok(())
    }

    /// The customer used the hand-off link: custody ends.
    pub fn complete(&mut self, now: i64) -> Result<(), RaError> {
        self.ensure_state(RaState::HandedOff)?;
        self.state = RaState::Completed;
        self.completed_at = Some(now);
        Ok(())
    }

    /// Withdraw the hand-back. Possible only while nothing has been handed over.
    pub fn cancel(&mut self, now: i64) -> Result<(), RaError> {
        self.ensure_open()?;
        self.state = RaState::Cancelled;
        self.cancelled_at = Some(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::Month;
    use time::macros::date;

    use crate::domain::test_calendar::{days_in_month, every_day, sakamoto, weekday_name, ymd_date};

    /// What `check_date` must answer, computed without `time`.
    fn expected(year: i32, month: u8, day: u8, dedicated_payer: bool) -> Result<(), RaError> {
        let date = ymd_date(year, month, day);
        let w = sakamoto(year, month, day);
        if w == 0 || w == 6 {
            Err(RaError::Weekend { date, weekday: weekday_name(w) })
        } else if dedicated_payer && day <= 15 {
            Err(RaError::NotAfterFifteenth(date))
        } else {
            Ok(())
        }
    }

    // ---- fixtures ----

    fn email(s: &str) -> Email {
        s.parse().unwrap()
    }

    fn signatory() -> Signatory {
        Signatory { name: "Grace Hopper".into(), email: email("grace@globex.example") }
    }

    fn alice() -> Principal {
        "globex/grace".parse().unwrap()
    }

    /// Monday 16 November 2026; the 20th is a Friday, the 21st a Saturday.
    const TODAY: Date = date!(2026 - 11 - 16);
    const FRIDAY: Date = date!(2026 - 11 - 20);

    fn at(d: Date, hour: i64) -> i64 {
        start_of_day(d) + hour * 3600
    }

    fn requested() -> ReverseAssumption {
        ReverseAssumption::request(email("root@globex.example"), signatory(), FRIDAY, alice(), true, TODAY).unwrap()
    }

    fn scheduled_for(d: Date) -> ReverseAssumption {
        let mut ra = requested();
        ra.schedule(d, true, TODAY).unwrap();
        ra
    }

    fn ready() -> ReverseAssumption {
        let mut ra = scheduled_for(FRIDAY);
        ra.confirm_balance(at(FRIDAY, 9)).unwrap();
        for item in ChecklistItem::ALL {
            ra.mark(item, ItemStatus::Done).unwrap();
        }
        ra
    }

    fn handed_off() -> ReverseAssumption {
        let mut ra = ready();
        ra.hand_off(HandoffKind::Deliver, FRIDAY, at(FRIDAY, 10)).unwrap();
        ra
    }

    fn cancelled() -> ReverseAssumption {
        let mut ra = requested();
        ra.cancel(at(TODAY, 9)).unwrap();
        ra
    }

    // ---- calendar rules ----

    #[test]
    fn the_independent_calendar_agrees_with_time_on_every_day_of_2024_and_2026() {
        for (year, days) in [(2024, 366), (2026, 365)] {
            let mut next = ymd_date(year, 1, 1);
            let mut count = 0;
            for (m, d) in every_day(year) {
                let date = ymd_date(year, m, d);
                assert_eq!(date, next, "{year}-{m}-{d}");
                assert_eq!(date.weekday(), weekday_name(sakamoto(year, m, d)), "{date}");
                next = date.next_day().unwrap();
                count += 1;
            }
            assert_eq!(count, days);
            assert_eq!(next, ymd_date(year + 1, 1, 1));
        }
        assert!(Date::from_calendar_date(2026, Month::February, 29).is_err());
        assert_eq!(date!(2024 - 01 - 01).weekday(), Weekday::Monday);
        assert_eq!(date!(2026 - 01 - 01).weekday(), Weekday::Thursday);
    }

    #[test]
    fn every_day_of_2024_and_2026_is_judged_by_its_weekday_and_the_fifteenth() {
        for year in [2024, 2026] {
            let mut open = 0;
            for (m, d) in every_day(year) {
                let date = ymd_date(year, m, d);
                for dedicated in [false, true] {
                    let got = check_date(date, dedicated);
                    assert_eq!(got, expected(year, m, d, dedicated), "{date} dedicated={dedicated}");
                    if got.is_ok() && !dedicated {
                        open += 1;
                    }
                }
            }
            // 2024 starts on a Monday and has 366 days: 52 weeks and a Monday and Tuesday over;
            // 2026 starts on a Thursday and has 365: 52 weeks and a Thursday over.
            assert_eq!(open, if year == 2024 { 262 } else { 261 }, "{year}");
        }
    }

    #[test]
    fn the_last_day_of_every_month_is_judged_by_its_weekday_alone() {
        for year in [2024, 2026] {
            for m in 1..=12u8 {
                let last = days_in_month(year, m);
                let date = ymd_date(year, m, last);
                assert!(date.next_day().unwrap().day() == 1, "{date} is not a month end");
                let weekday = sakamoto(year, m, last);
                for dedicated in [false, true] {
                    let got = check_date(date, dedicated);
                    if weekday == 0 || weekday == 6 {
                        assert_eq!(got, Err(RaError::Weekend { date, weekday: weekday_name(weekday) }), "{date}");
                    } else {
                        assert_eq!(got, Ok(()), "{date} dedicated={dedicated}");
                    }
                }
            }
        }
    }

    #[test]
    fn february_ends_on_the_29th_in_2024_and_the_28th_in_2026() {
        assert_eq!(date!(2024 - 02 - 29).weekday(), Weekday::Thursday);
        assert_eq!(check_date(date!(2024 - 02 - 29), true), Ok(()));
        assert_eq!(check_date(date!(2024 - 02 - 28), true), Ok(()));
        assert_eq!(
            check_date(date!(2026 - 02 - 28), true),
            Err(RaError::Weekend { date: date!(2026 - 02 - 28), weekday: Weekday::Saturday })
        );
        assert_eq!(check_date(date!(2026 - 02 - 27), true), Ok(()));
        assert_eq!(check_date(date!(2026 - 03 - 02), false), Ok(()));
    }

    #[test]
    fn months_of_thirty_and_thirty_one_days_accept_their_last_weekday() {
        assert_eq!(check_date(date!(2026 - 04 - 30), true), Ok(())); // Thursday
        assert_eq!(check_date(date!(2026 - 12 - 31), true), Ok(())); // Thursday
        assert_eq!(check_date(date!(2024 - 09 - 30), true), Ok(())); // Monday
        assert_eq!(
            check_date(date!(2024 - 03 - 31), false),
            Err(RaError::Weekend { date: date!(2024 - 03 - 31), weekday: Weekday::Sunday })
        );
        assert_eq!(
            check_date(date!(2026 - 05 - 31), true),
            Err(RaError::Weekend { date: date!(2026 - 05 - 31), weekday: Weekday::Sunday })
        );
    }

    #[test]
    fn a_dedicated_payer_is_never_handed_back_on_the_fifteenth_and_may_be_from_the_sixteenth() {
        for year in [2024, 2026] {
            for m in 1..=12u8 {
                for d in 1..=15u8 {
                    assert!(check_date(ymd_date(year, m, d), true).is_err(), "{year}-{m}-{d}");
                }
                let fifteenth = ymd_date(year, m, 15);
                if !matches!(sakamoto(year, m, 15), 0 | 6) {
                    assert_eq!(check_date(fifteenth, true), Err(RaError::NotAfterFifteenth(fifteenth)));
                    assert_eq!(check_date(fifteenth, false), Ok(()));
                }
                let sixteenth = ymd_date(year, m, 16);
                assert_eq!(check_date(sixteenth, true), check_date(sixteenth, false), "{sixteenth}");
                assert_eq!(check_date(sixteenth, true).is_ok(), !matches!(sakamoto(year, m, 16), 0 | 6));
                // Some weekday after the 15th is always open, even when the 16th is a weekend.
                let first_open = (16..=18u8).map(|d| ymd_date(year, m, d)).find(|d| check_date(*d, true).is_ok());
                assert!(first_open.is_some(), "{year}-{m}");
            }
        }
    }

    #[test]
    fn calendar_refusals_name_their_rule_and_the_date() {
        assert_eq!(
            check_date(date!(2026 - 11 - 21), false).unwrap_err().to_string(),
            "hand-back dates must fall on a weekday (Monday to Friday); 2026-11-21 is a Saturday"
        );
        assert_eq!(
            check_date(date!(2026 - 11 - 22), true).unwrap_err().to_string(),
            "hand-back dates must fall on a weekday (Monday to Friday); 2026-11-22 is a Sunday"
        );
        assert_eq!(
            check_date(date!(2026 - 11 - 10), true).unwrap_err().to_string(),
            "a dedicated payer account can only be handed back after the 15th of the month; 2026-11-10 is not"
        );
    }

    // ---- request ----

    #[test]
    fn a_request_starts_requested_with_an_empty_checklist() {
        let ra = requested();
        assert_eq!(ra.state, RaState::Requested);
        assert_eq!(ra.requested_date, FRIDAY);
        assert_eq!(ra.scheduled_date, None);
        assert_eq!(ra.missing_items(), ChecklistItem::ALL.to_vec());
    }

    #[test]
    fn a_request_needs_a_printable_signatory_name_of_at_most_two_hundred_characters() {
        let with_name = |name: String| {
            let s = Signatory { name, email: email("grace@globex.example") };
            ReverseAssumption::request(email("root@globex.example"), s, FRIDAY, alice(), false, TODAY)
        };
        for bad in [String::new(), "   ".into(), "a".repeat(201), "Grace\u{7}Hopper".into(), "Grace\nHopper".into()] {
            assert_eq!(with_name(bad.clone()), Err(RaError::SignatoryName), "{bad:?}");
        }
        assert!(with_name("é".repeat(200)).is_ok());
        assert_eq!(with_name("  Grace Hopper ".into()).unwrap().signatory.name, "Grace Hopper");
        assert_eq!(
            RaError::SignatoryName.to_string(),
            "the signatory's name must be 1-200 characters without control characters"
        );
    }

    #[test]
    fn a_request_refuses_past_dates_weekends_and_early_days_for_a_dedicated_payer() {
        let ask = |d: Date, dedicated: bool| {
            ReverseAssumption::request(email("root@globex.example"), signatory(), d, alice(), dedicated, TODAY)
        };
        let yesterday = date!(2026 - 11 - 13);
        assert_eq!(ask(yesterday, false), Err(RaError::InPast { date: yesterday, today: TODAY }));
        assert_eq!(
            RaError::InPast { date: yesterday, today: TODAY }.to_string(),
            "hand-back dates cannot be in the past; 2026-11-13 is before today (2026-11-16, UTC)"
        );
        assert_eq!(
            ask(date!(2026 - 11 - 21), false),
            Err(RaError::Weekend { date: date!(2026 - 11 - 21), weekday: Weekday::Saturday })
        );
        assert_eq!(ask(date!(2026 - 12 - 01), true), Err(RaError::NotAfterFifteenth(date!(2026 - 12 - 01))));
        assert!(ask(date!(2026 - 12 - 01), false).is_ok());
        assert!(ask(TODAY, true).is_ok(), "today itself is not in the past");
    }

    // ---- schedule ----

    #[test]
    fn scheduling_sets_the_date_and_may_be_repeated() {
        let mut ra = scheduled_for(FRIDAY);
        assert_eq!((ra.state, ra.scheduled_date), (RaState::Scheduled, Some(FRIDAY)));
        ra.schedule(date!(2026 - 11 - 23), true, TODAY).unwrap();
        assert_eq!((ra.state, ra.scheduled_date), (RaState::Scheduled, Some(date!(2026 - 11 - 23))));
    }

    #[test]
    fn scheduling_applies_the_calendar_rules_and_leaves_the_record_unchanged_on_refusal() {
        let mut ra = scheduled_for(FRIDAY);
        let before = ra.clone();
        assert_eq!(
            ra.schedule(date!(2026 - 11 - 21), true, TODAY),
            Err(RaError::Weekend { date: date!(2026 - 11 - 21), weekday: Weekday::Saturday })
        );
        assert_eq!(
            ra.schedule(date!(2026 - 12 - 15), true, TODAY),
            Err(RaError::NotAfterFifteenth(date!(2026 - 12 - 15)))
        );
        assert_eq!(
            ra.schedule(date!(2026 - 11 - 16), true, date!(2026 - 11 - 17)),
            Err(RaError::InPast { date: date!(2026 - 11 - 16), today: date!(2026 - 11 - 17) })
        );
        assert_eq!(ra, before);
    }

    #[test]
    fn rescheduling_after_the_balance_was_confirmed_drops_the_confirmation() {
        let mut ra = ready();
        assert_eq!(ra.state, RaState::BalanceConfirmed);
        ra.schedule(date!(2026 - 11 - 23), true, FRIDAY).unwrap();
        assert_eq!(ra.state, RaState::Scheduled);
        assert_eq!(ra.balance_confirmed_at, None);
        assert_eq!(ra.checklist.len(), 7, "the checklist survives a new date");
    }

    #[test]
    fn nothing_is_scheduled_once_handed_off_completed_or_cancelled() {
        let mut ra = handed_off();
        assert_eq!(ra.schedule(date!(2026 - 11 - 23), true, FRIDAY), Err(RaError::Closed(RaState::HandedOff)));
        ra.complete(at(FRIDAY, 11)).unwrap();
        assert_eq!(ra.schedule(date!(2026 - 11 - 23), true, FRIDAY), Err(RaError::Closed(RaState::Completed)));
        assert_eq!(cancelled().schedule(FRIDAY, true, TODAY), Err(RaError::Closed(RaState::Cancelled)));
        assert_eq!(
            RaError::Closed(RaState::Cancelled).to_string(),
            "the reverse assumption is cancelled: it can no longer change"
        );
    }

    // ---- balance ----

    #[test]
    fn the_balance_is_confirmed_only_once_scheduled() {
        let mut ra = requested();
        assert_eq!(
            ra.confirm_balance(at(FRIDAY, 9)),
            Err(RaError::WrongState { actual: RaState::Requested, expected: RaState::Scheduled })
        );
        assert_eq!(
            ra.confirm_balance(at(FRIDAY, 9)).unwrap_err().to_string(),
            "the reverse assumption is requested, not scheduled"
        );
        let mut ra = ready();
        assert_eq!(
            ra.confirm_balance(at(FRIDAY, 10)),
            Err(RaError::WrongState { actual: RaState::BalanceConfirmed, expected: RaState::Scheduled })
        );
    }

    #[test]
    fn the_balance_is_confirmed_on_the_hand_off_day_from_midnight_utc() {
        let mut ra = scheduled_for(FRIDAY);
        assert_eq!(ra.confirm_balance(start_of_day(FRIDAY) - 1), Err(RaError::BalanceTooEarly(FRIDAY)));
        assert_eq!(
            RaError::BalanceTooEarly(FRIDAY).to_string(),
            "the balance is confirmed on the day of the hand-back, and the hand-off date 2026-11-20 has not come yet"
        );
        assert_eq!(ra.state, RaState::Scheduled);
        ra.confirm_balance(start_of_day(FRIDAY)).unwrap();
        assert_eq!((ra.state, ra.balance_confirmed_at), (RaState::BalanceConfirmed, Some(1_795_132_800)));
    }

    // ---- checklist ----

    #[test]
    fn marking_records_items_and_a_second_mark_replaces_the_first() {
        let mut ra = requested();
        ra.mark(ChecklistItem::LeaveOrganization, ItemStatus::NotApplicable).unwrap();
        ra.mark(ChecklistItem::DisableMfa, ItemStatus::Done).unwrap();
        ra.mark(ChecklistItem::LeaveOrganization, ItemStatus::Done).unwrap();
        assert_eq!(ra.checklist.get(&ChecklistItem::LeaveOrganization), Some(&ItemStatus::Done));
        assert_eq!(
            ra.missing_items(),
            vec![
                ChecklistItem::UpdateContacts,
                ChecklistItem::UpdatePaymentMethod,
                ChecklistItem::DowngradeSupport,
                ChecklistItem::RemoveProviderRoles,
                ChecklistItem::RemoveSnsTopics,
            ]
        );
    }

    #[test]
    fn marking_works_in_every_open_state_and_in_no_other() {
        let mut ra = requested();
        ra.mark(ChecklistItem::UpdateContacts, ItemStatus::Done).unwrap();
        ra.schedule(FRIDAY, true, TODAY).unwrap();
        ra.mark(ChecklistItem::UpdatePaymentMethod, ItemStatus::Done).unwrap();
        ra.confirm_balance(at(FRIDAY, 9)).unwrap();
        ra.mark(ChecklistItem::DowngradeSupport, ItemStatus::Done).unwrap();
        assert_eq!(ra.checklist.len(), 3);
        let mut ra = handed_off();
        assert_eq!(ra.mark(ChecklistItem::DisableMfa, ItemStatus::Done), Err(RaError::Closed(RaState::HandedOff)));
        assert_eq!(
            cancelled().mark(ChecklistItem::DisableMfa, ItemStatus::Done),
            Err(RaError::Closed(RaState::Cancelled))
        );
    }

    #[test]
    fn checklist_items_parse_from_their_names_and_nothing_else() {
        for item in ChecklistItem::ALL {
            assert_eq!(item.as_str().parse::<ChecklistItem>(), Ok(item));
            assert_eq!(item.to_string(), item.as_str());
            assert_eq!(serde_json::to_value(item).unwrap(), json!(item.as_str()));
        }
        for bad in ["", "Disable_MFA", "disable-mfa", "leave_organisation", "disable_mfa "] {
            assert_eq!(bad.parse::<ChecklistItem>(), Err(RaError::UnknownItem), "{bad:?}");
        }
        assert!(RaError::UnknownItem.to_string().starts_with("unknown checklist item; the items are update_contacts"));
        assert_eq!(ChecklistItem::ALL.len(), 7);
    }

    #[test]
    fn statuses_kinds_and_states_have_snake_case_names() {
        for s in [ItemStatus::Done, ItemStatus::NotApplicable] {
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
        assert_eq!(ItemStatus::NotApplicable.as_str(), "not_applicable");
        for k in [HandoffKind::Deliver, HandoffKind::Collect] {
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
        }
        for s in [
            RaState::Requested,
            RaState::Scheduled,
            RaState::BalanceConfirmed,
            RaState::HandedOff,
            RaState::Completed,
            RaState::Cancelled,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
            assert_eq!(s.is_open(), matches!(s, RaState::Requested | RaState::Scheduled | RaState::BalanceConfirmed));
        }
    }

    // ---- hand-off ----

    #[test]
    fn the_happy_path_runs_from_request_to_completion() {
        let mut ra =
            ReverseAssumption::request(email("root@globex.example"), signatory(), FRIDAY, alice(), true, TODAY)
                .unwrap();
        ra.schedule(FRIDAY, true, TODAY).unwrap();
        ra.confirm_balance(at(FRIDAY, 9)).unwrap();
        for (i, item) in ChecklistItem::ALL.into_iter().enumerate() {
            assert!(ra.check_handoff(FRIDAY).is_err(), "still missing {item}");
            let status =
                if item == ChecklistItem::LeaveOrganization { ItemStatus::NotApplicable } else { ItemStatus::Done };
            ra.mark(item, status).unwrap();
            assert_eq!(ra.missing_items().len(), 6 - i);
        }
        assert_eq!(ra.check_handoff(FRIDAY), Ok(()));
        ra.hand_off(HandoffKind::Collect, FRIDAY, at(FRIDAY, 10)).unwrap();
        assert_eq!(ra.state, RaState::HandedOff);
        assert_eq!((ra.handoff, ra.handed_off_at), (Some(HandoffKind::Collect), Some(at(FRIDAY, 10))));
        ra.complete(at(FRIDAY, 11)).unwrap();
        assert_eq!((ra.state, ra.completed_at), (RaState::Completed, Some(at(FRIDAY, 11))));
    }

    #[test]
    fn the_hand_off_waits_for_its_date() {
        let ra = scheduled_for(FRIDAY);
        assert_eq!(ra.check_handoff(date!(2026 - 11 - 19)), Err(RaError::HandoffNotYet(FRIDAY)));
        assert_eq!(
            ra.check_handoff(date!(2026 - 11 - 19)).unwrap_err().to_string(),
            "the hand-off date 2026-11-20 has not come yet"
        );
    }

    #[test]
    fn the_hand_off_needs_the_balance_confirmed() {
        let mut ra = scheduled_for(FRIDAY);
        for item in ChecklistItem::ALL {
            ra.mark(item, ItemStatus::Done).unwrap();
        }
        assert_eq!(ra.check_handoff(FRIDAY), Err(RaError::BalanceNotConfirmed));
        assert_eq!(
            ra.hand_off(HandoffKind::Deliver, FRIDAY, at(FRIDAY, 10)).unwrap_err().to_string(),
            "the customer's balance is not confirmed as current"
        );
        assert_eq!(ra.state, RaState::Scheduled);
    }

    #[test]
    fn the_hand_off_lists_the_open_checklist_items() {
        let mut ra = scheduled_for(FRIDAY);
        ra.confirm_balance(at(FRIDAY, 9)).unwrap();
        for item in ChecklistItem::ALL {
            if !matches!(item, ChecklistItem::DisableMfa | ChecklistItem::LeaveOrganization) {
                ra.mark(item, ItemStatus::Done).unwrap();
            }
        }
        let err = ra.check_handoff(FRIDAY).unwrap_err();
        assert_eq!(
            err,
            RaError::ChecklistIncomplete(vec![ChecklistItem::DisableMfa, ChecklistItem::LeaveOrganization])
        );
        assert_eq!(err.to_string(), "the checklist is incomplete: disable_mfa, leave_organization are still open");
        ra.mark(ChecklistItem::DisableMfa, ItemStatus::Done).unwrap();
        assert_eq!(
            ra.hand_off(HandoffKind::Deliver, FRIDAY, at(FRIDAY, 10)).unwrap_err().to_string(),
            "the checklist is incomplete: leave_organization is still open"
        );
        assert_eq!(ra.state, RaState::BalanceConfirmed);
    }

    #[test]
    fn a_hand_off_that_slips_may_not_land_on_a_weekend_or_in_another_month() {
        let ra = ready();
        assert_eq!(
            ra.check_handoff(date!(2026 - 11 - 21)),
            Err(RaError::Weekend { date: date!(2026 - 11 - 21), weekday: Weekday::Saturday })
        );
        assert_eq!(ra.check_handoff(date!(2026 - 11 - 23)), Ok(()), "the next Monday is still in November");
        let mut ra = scheduled_for(date!(2026 - 11 - 30));
        ra.confirm_balance(at(date!(2026 - 11 - 30), 9)).unwrap();
        for item in ChecklistItem::ALL {
            ra.mark(item, ItemStatus::Done).unwrap();
        }
        let slipped = RaError::SlippedMonth { scheduled: date!(2026 - 11 - 30), today: date!(2026 - 12 - 01) };
        assert_eq!(ra.check_handoff(date!(2026 - 12 - 01)), Err(slipped.clone()));
        assert!(
            slipped.to_string().starts_with("the hand-back scheduled for 2026-11-30 has slipped into another month")
        );
        assert_eq!(ra.check_handoff(date!(2026 - 11 - 30)), Ok(()));
    }

    #[test]
    fn the_hand_off_happens_once_and_only_from_balance_confirmed() {
        assert_eq!(
            requested().check_handoff(FRIDAY),
            Err(RaError::WrongState { actual: RaState::Requested, expected: RaState::BalanceConfirmed })
        );
        let mut ra = handed_off();
        assert_eq!(
            ra.hand_off(HandoffKind::Deliver, FRIDAY, at(FRIDAY, 12)),
            Err(RaError::WrongState { actual: RaState::HandedOff, expected: RaState::BalanceConfirmed })
        );
        assert_eq!(ra.handed_off_at, Some(at(FRIDAY, 10)));
        assert_eq!(
            cancelled().check_handoff(FRIDAY),
            Err(RaError::WrongState { actual: RaState::Cancelled, expected: RaState::BalanceConfirmed })
        );
    }

    #[test]
    fn completion_follows_the_hand_off_only_and_only_once() {
        let mut ra = ready();
        assert_eq!(
            ra.complete(at(FRIDAY, 11)),
            Err(RaError::WrongState { actual: RaState::BalanceConfirmed, expected: RaState::HandedOff })
        );
        let mut ra2 = handed_off();
        ra2.complete(at(FRIDAY, 11)).unwrap();
        assert_eq!(
            ra2.complete(at(FRIDAY, 12)),
            Err(RaError::WrongState { actual: RaState::Completed, expected: RaState::HandedOff })
        );
        assert_eq!(ra2.completed_at, Some(at(FRIDAY, 11)));
        ra.cancel(at(FRIDAY, 11)).unwrap();
        assert_eq!(
            ra.complete(at(FRIDAY, 12)),
            Err(RaError::WrongState { actual: RaState::Cancelled, expected: RaState::HandedOff })
        );
    }

    // ---- cancel ----

    #[test]
    fn cancelling_is_possible_in_every_state_before_the_hand_off() {
        for mut ra in [requested(), scheduled_for(FRIDAY), ready()] {
            ra.cancel(at(FRIDAY, 9)).unwrap();
            assert_eq!((ra.state, ra.cancelled_at), (RaState::Cancelled, Some(at(FRIDAY, 9))));
        }
    }

    #[test]
    fn cancelling_is_refused_once_the_credentials_have_left_or_it_is_already_cancelled() {
        let mut ra = handed_off();
        assert_eq!(ra.cancel(at(FRIDAY, 11)), Err(RaError::Closed(RaState::HandedOff)));
        ra.complete(at(FRIDAY, 11)).unwrap();
        assert_eq!(ra.cancel(at(FRIDAY, 12)), Err(RaError::Closed(RaState::Completed)));
        let mut ra = cancelled();
        assert_eq!(ra.cancel(at(FRIDAY, 12)), Err(RaError::Closed(RaState::Cancelled)));
        assert_eq!(ra.cancelled_at, Some(at(TODAY, 9)));
    }

    // ---- consent to assignment ----

    #[test]
    fn consent_is_marked_while_the_hand_back_is_open_and_gates_the_hand_off_only_when_required() {
        let mut ra = ready();
        assert_eq!(ra.check_consent(false), Ok(()));
        assert!(matches!(ra.check_consent(true), Err(RaError::Consent(ConsentError::Missing(_)))));
        ra.mark_consent(Party::Customer, alice(), at(FRIDAY, 9)).unwrap();
        assert_eq!(
            ra.mark_consent(Party::Customer, alice(), at(FRIDAY, 9)),
            Err(RaError::Consent(ConsentError::AlreadyMarked("customer")))
        );
        ra.mark_consent(Party::Provider, "acme/ada".parse().unwrap(), at(FRIDAY, 9)).unwrap();
        assert_eq!(ra.check_consent(true), Ok(()));
        let mut done = handed_off();
        assert_eq!(
            done.mark_consent(Party::Provider, "acme/ada".parse().unwrap(), at(FRIDAY, 11)),
            Err(RaError::Closed(RaState::HandedOff))
        );
    }

    // ---- JSON shape ----

    #[test]
    fn a_reverse_assumption_serialises_dates_as_strings_and_the_checklist_as_an_object() {
        let mut ra = scheduled_for(FRIDAY);
        ra.mark(ChecklistItem::LeaveOrganization, ItemStatus::NotApplicable).unwrap();
        ra.mark(ChecklistItem::DisableMfa, ItemStatus::Done).unwrap();
        assert_eq!(
            serde_json::to_value(&ra).unwrap(),
            json!({
                "state": "scheduled",
                "new_root_email": "root@globex.example",
                "signatory": { "name": "Grace Hopper", "email": "grace@globex.example" },
                "requested_date": "2026-11-20",
                "requested_by": "globex/grace",
                "scheduled_date": "2026-11-20",
                "balance_confirmed_at": null,
                "checklist": { "disable_mfa": "done", "leave_organization": "not_applicable" },
                "handed_off_at": null,
                "handoff": null,
                "completed_at": null,
                "cancelled_at": null,
                "consent": { "provider": null, "customer": null }
            })
        );
    }

    #[test]
    fn a_reverse_assumption_round_trips_through_json() {
        for ra in [requested(), ready(), handed_off(), cancelled()] {
            let text = serde_json::to_string(&ra).unwrap();
            assert_eq!(serde_json::from_str::<ReverseAssumption>(&text).unwrap(), ra);
        }
        let ra = handed_off();
        let value = serde_json::to_value(&ra).unwrap();
        assert_eq!(value["handoff"], json!("deliver"));
        assert_eq!(value["state"], json!("handed_off"));
        assert_eq!(value["checklist"].as_object().unwrap().len(), 7);
    }

    #[test]
    fn a_stored_body_without_optional_fields_still_loads_and_bad_dates_do_not() {
        let body = json!({
            "state": "requested",
            "new_root_email": "root@globex.example",
            "signatory": { "name": "Grace Hopper", "email": "grace@globex.example" },
            "requested_date": "2024-02-29",
            "requested_by": "globex/grace",
            "checklist": {}
        });
        let ra: ReverseAssumption = serde_json::from_value(body.clone()).unwrap();
        assert_eq!((ra.requested_date, ra.scheduled_date, ra.cancelled_at), (date!(2024 - 02 - 29), None, None));
        for bad in ["2026-02-29", "2026-13-01", "20261120", "2026-11-20T00:00:00Z"] {
            let mut b = body.clone();
            b["requested_date"] = json!(bad);
            assert!(serde_json::from_value::<ReverseAssumption>(b).is_err(), "{bad}");
        }
        let mut b = body;
        b["checklist"] = json!({ "disable_2fa": "done" });
        assert!(serde_json::from_value::<ReverseAssumption>(b).is_err());
    }
}
