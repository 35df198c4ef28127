//! DDI moves (seed 000): an account moves from one customer of the provider
//! to another.
//!
//! ```text
//! requested ─confirm─▶ confirmed ─complete (on or after the move date)─▶ completed
//!     └──────────── cancel ─────────┴──▶ cancelled
//! ```
//!
//! The current customer asks at least [`NOTICE_BUSINESS_DAYS`] business days
//! (Monday to Friday) ahead, for a date inside a move window (by default the
//! 15th to the 25th of March, June, September and December); a date outside
//! the windows is accepted only when the customer acknowledges the fee. The
//! provider confirms, and completes the move on the date. Dates are UTC
//! calendar dates and times Unix seconds, supplied by the caller, so every
//! rule is a pure function of its inputs.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Weekday};

use super::account::CustodyMode;
use super::custody::{CustodianSets, holding_parties};
use super::ids::{Half, OrgName, Principal};
use super::orgs::Party;
use super::wall::{CurrentVersions, Exposure};

/// How many business days ahead a move must be asked for (seed 000).
pub const NOTICE_BUSINESS_DAYS: u32 = 14;

time::serde::format_description!(ymd, Date, "[year]-[month]-[day]");

/// Whether `date` is a business day: Monday to Friday.
pub fn is_business_day(date: Date) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The `n`th business day after `from` (`from` itself never counts).
pub fn add_business_days(from: Date, n: u32) -> Date {
    let (mut date, mut left) = (from, n);
    while left > 0 {
        // Only the last day `time` can represent has no next day.
        let Some(next) = date.next_day() else { return date };
        date = next;
        if is_business_day(date) {
            left -= 1;
        }
    }
    date
}

/// When moves may happen without a fee: days `first_day..=last_day` of each
/// of `months`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveWindows {
    months: BTreeSet<u8>,
    first_day: u8,
    last_day: u8,
}

/// A window configuration that cannot describe a window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("name at least one month")]
    NoMonths,
    #[error("months are 1 to 12")]
    Month,
    #[error("days are 1 to 31")]
    Day,
    #[error("the first day must not come after the last day")]
    Order,
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `1st`, `2nd`, `3rd`, `4th`, … `11th`, `21st`.
fn ordinal(n: u8) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

impl Default for MoveWindows {
    /// Seed 000: quarterly, "starting on or about the 15th of the month and
    /// ending on or about the 25th".
    fn default() -> Self {
        Self { months: BTreeSet::from([3, 6, 9, 12]), first_day: 15, last_day: 25 }
    }
}

impl MoveWindows {
    pub fn new(months: &[u8], first_day: u8, last_day: u8) -> Result<Self, WindowError> {
        if months.is_empty() {
            return Err(WindowError::NoMonths);
        }
        if months.iter().any(|m| !(1..=12).contains(m)) {
            return Err(WindowError::Month);
        }
        if ![first_day, last_day].iter().all(|d| (1..=31).contains(d)) {
            return Err(WindowError::Day);
        }
        if first_day > last_day {
            return Err(WindowError::Order);
        }
        Ok(Self { months: months.iter().copied().collect(), first_day, last_day })
    }

    /// Whether `date` lies inside a window.
    pub fn contains(&self, date: Date) -> bool {
        self.months.contains(&u8::from(date.month())) && (self.first_day..=self.last_day).contains(&date.day())
    }

    /// The windows in words: "the 15th to the 25th of March, June,
    /// September and December".
    pub fn describe(&self) -> String {
        let names: Vec<&str> = self.months.iter().map(|m| MONTH_NAMES[usize::from(m - 1)]).collect();
        let months = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.join(""),
        };
        format!("the {} to the {} of {months}", ordinal(self.first_day), ordinal(self.last_day))
    }
}

/// Where a move stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveState {
    Requested,
    Confirmed,
    Completed,
    Cancelled,
}

impl MoveState {
    pub fn as_str(self) -> &'static str {
        match self {
            MoveState::Requested => "requested",
            MoveState::Confirmed => "confirmed",
            MoveState::Completed => "completed",
            MoveState::Cancelled => "cancelled",
        }
    }

    /// Whether the move may still happen (or be cancelled).
    pub fn is_open(self) -> bool {
        matches!(self, MoveState::Requested | MoveState::Confirmed)
    }
}

impl fmt::Display for MoveState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a move step was refused. Each names the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    #[error("the account already belongs to {0}; a move goes to another customer")]
    SameCustomer(OrgName),
    #[error("to_customer_org must name a known customer organisation")]
    UnknownCustomer,
    #[error("move dates cannot be in the past; {date} is before today ({today}, UTC)")]
    InPast { date: Date, today: Date },
    #[error(
        "a move is asked for at least {NOTICE_BUSINESS_DAYS} business days (Monday to Friday) ahead; the earliest \
         move date from today is {earliest}, and {date} is sooner"
    )]
    TooSoon { date: Date, earliest: Date },
    #[error(
        "moves happen inside the move windows ({windows}); {date} is outside them: ask again with \
         fee_acknowledged: true to accept the fee of a move outside the windows"
    )]
    OutsideWindow { date: Date, windows: String },
    #[error("the move is {actual}, not {expected}")]
    WrongState { actual: MoveState, expected: MoveState },
    #[error("the move is {0}: it can no longer change")]
    Closed(MoveState),
    #[error("the move date {0} has not come yet")]
    NotYet(Date),
}

/// What the calendar said of an accepted move date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoveTiming {
    /// Inside a move window; otherwise the customer acknowledged the fee.
    pub in_window: bool,
}

/// Whether an account may move on `date`, asked `today` (UTC calendar
/// dates): not in the past, at least [`NOTICE_BUSINESS_DAYS`] business days
/// ahead, and inside a window unless `fee_acknowledged`.
pub fn check_move_date(
    date: Date,
    today: Date,
    windows: &MoveWindows,
    fee_acknowledged: bool,
) -> Result<MoveTiming, MoveError> {
    if date < today {
        return Err(MoveError::InPast { date, today });
    }
    let earliest = add_business_days(today, NOTICE_BUSINESS_DAYS);
    if date < earliest {
        return Err(MoveError::TooSoon { date, earliest });
    }
    let in_window = windows.contains(date);
    if !in_window && !fee_acknowledged {
        return Err(MoveError::OutsideWindow { date, windows: windows.describe() });
    }
    Ok(MoveTiming { in_window })
}

/// One move of one account. Metadata only: no secret lives here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    pub state: MoveState,
    pub from_customer_org: OrgName,
    pub to_customer_org: OrgName,
    #[serde(with = "ymd")]
    pub move_date: Date,
    pub fee_acknowledged: bool,
    pub in_window: bool,
    pub requested_by: Principal,
    pub requested_at: i64,
    pub confirmed_by: Option<Principal>,
    pub confirmed_at: Option<i64>,
    pub completed_by: Option<Principal>,
    pub completed_at: Option<i64>,
    pub cancelled_by: Option<Principal>,
    pub cancelled_at: Option<i64>,
    /// The halves the completion took from the old customer.
    #[serde(default)]
    pub retired_halves: Vec<Half>,
}

/// What a customer asks for.
#[derive(Debug, Clone)]
pub struct MoveAsk {
    pub to_customer_org: OrgName,
    pub move_date: Date,
    pub fee_acknowledged: bool,
}

impl Move {
    /// Record a customer's request to move its account from `from` to
    /// `ask.to_customer_org`, which `to_is_customer` says is a customer org.
    pub fn request(
        from: OrgName,
        ask: MoveAsk,
        to_is_customer: bool,
        windows: &MoveWindows,
        (today, now): (Date, i64),
        by: Principal,
    ) -> Result<Self, MoveError> {
        if ask.to_customer_org == from {
            return Err(MoveError::SameCustomer(from));
        }
        if !to_is_customer {
            return Err(MoveError::UnknownCustomer);
        }
        let timing = check_move_date(ask.move_date, today, windows, ask.fee_acknowledged)?;
        Ok(Self {
            state: MoveState::Requested,
            from_customer_org: from,
            to_customer_org: ask.to_customer_org,
            move_date: ask.move_date,
            fee_acknowledged: ask.fee_acknowledged,
            in_window: timing.in_window,
            requested_by: by,
            requested_at: now,
            confirmed_by: None,
            confirmed_at: None,
            completed_by: None,
            completed_at: None,
            cancelled_by: None,
            cancelled_at: None,
            retired_halves: Vec::new(),
        })
    }

    fn ensure_state(&self, expected: MoveState) -> Result<(), MoveError> {
        match self.state {
            actual if actual == expected => Ok(()),
            actual if !actual.is_open() => Err(MoveError::Closed(actual)),
            actual => Err(MoveError::WrongState { actual, expected }),
        }
    }

    /// The provider accepts the move.
    pub fn confirm(&mut self, by: Principal, now: i64) -> Result<(), MoveError> {
        self.ensure_state(MoveState::Requested)?;
        self.state = MoveState::Confirmed;
        self.confirmed_by = Some(by);
        self.confirmed_at = Some(now);
        Ok(())
    }

    /// Whether the move may be completed `today`: confirmed, and the move
    /// date has come.
    pub fn check_complete(&self, today: Date) -> Result<(), MoveError> {
        self.ensure_state(MoveState::Confirmed)?;
        if today < self.move_date {
            return Err(MoveError::NotYet(self.move_date));
        }
        Ok(())
    }

    /// The provider carries the move out; `retired` are the halves taken
    /// from the old customer.
    pub fn complete(&mut self, by: Principal, today: Date, now: i64, retired: Vec<Half>) -> Result<(), MoveError> {
        self.check_complete(today)?;
        self.state = MoveState::Completed;
        self.completed_by = Some(by);
        self.completed_at = Some(now);
        self.retired_halves = retired;
        Ok(())
    }

    /// Withdraw the move before it happens.
    pub fn cancel(&mut self, by: Principal, now: i64) -> Result<(), MoveError> {
        if !self.state.is_open() {
            return Err(MoveError::Closed(self.state));
        }
        self.state = MoveState::Cancelled;
        self.cancelled_by = Some(by);
        self.cancelled_at = Some(now);
        Ok(())
    }
}

/// The halves a move takes from the old customer `from`: those that only
/// the customer may hold under `mode` (the MFA half of a shared payer), and
/// those the customer may hold that `from` held (one of its people is a
/// custodian) or knows (one of its people has seen the current version).
/// Their stored versions are destroyed, like a hand-off's, so that nothing
/// the old customer knew can be released again; the new customer deposits
/// afresh.
pub fn retired_halves(
    mode: CustodyMode,
    sets: &CustodianSets,
    exposures: &[Exposure],
    current: CurrentVersions,
    from: &OrgName,
) -> Vec<Half> {
    Half::BOTH
        .into_iter()
        .filter(|&half| {
            let parties = holding_parties(mode, half);
            let only_customer = parties == [Party::Customer];
            let held = sets.of(half).iter().any(|p| p.org == *from);
            let known = exposures
                .iter()
                .any(|e| e.half == half && e.principal.org == *from && Some(e.version) == current.of(half));
            parties.contains(&Party::Customer) && (only_customer || held || known)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_calendar::{days_in_month, every_day, is_weekend, sakamoto, ymd_date};
    use time::macros::date;

    fn org(s: &str) -> OrgName {
        s.parse().unwrap()
    }

    fn who(s: &str) -> Principal {
        s.parse().unwrap()
    }

    /// Every day of 2026 and 2027, in order, as `(date, year, month, day)`.
    fn every_day_of_2026_and_2027() -> Vec<(Date, i32, u8, u8)> {
        [2026, 2027].into_iter().flat_map(|y| every_day(y).map(move |(m, d)| (ymd_date(y, m, d), y, m, d))).collect()
    }

    /// The days after 2027 the oracle needs to count 14 business days from
    /// the last days of 2027: enough of January 2028.
    fn calendar_to_2028() -> Vec<(Date, i32, u8, u8)> {
        let mut days = every_day_of_2026_and_2027();
        days.extend((1..=31).map(|d| (ymd_date(2028, 1, d), 2028, 1, d)));
        days
    }

    /// What `add_business_days(today, 14)` must answer, found by walking the
    /// independent calendar.
    fn oracle_earliest(days: &[(Date, i32, u8, u8)], index: usize) -> Date {
        let mut left = NOTICE_BUSINESS_DAYS;
        for &(date, y, m, d) in &days[index + 1..] {
            if !is_weekend(sakamoto(y, m, d)) {
                left -= 1;
                if left == 0 {
                    return date;
                }
            }
        }
        panic!("the oracle's calendar is too short");
    }

    fn in_default_window(m: u8, d: u8) -> bool {
        [3, 6, 9, 12].contains(&m) && (15..=25).contains(&d)
    }

    #[test]
    fn business_days_are_monday_to_friday_on_every_day_of_2026_and_2027() {
        let days = every_day_of_2026_and_2027();
        assert_eq!(days.len(), 365 + 365);
        let business: usize = days.iter().filter(|(date, ..)| is_business_day(*date)).count();
        for &(date, y, m, d) in &days {
            assert_eq!(is_business_day(date), !is_weekend(sakamoto(y, m, d)), "{date}");
        }
        // 2026 starts on a Thursday (52 weeks and a Thursday), 2027 on a Friday (52 weeks and a Friday).
        assert_eq!(business, 261 + 261);
    }

    #[test]
    fn the_earliest_move_date_is_fourteen_business_days_after_every_day_of_2026_and_2027() {
        let days = calendar_to_2028();
        for index in 0..730 {
            let today = days[index].0;
            let earliest = oracle_earliest(&days, index);
            assert_eq!(add_business_days(today, NOTICE_BUSINESS_DAYS), earliest, "from {today}");
            // Two full weeks plus at most the weekend days around them.
            let gap = (earliest - today).whole_days();
            assert!((18..=20).contains(&gap), "{today} → {earliest}: {gap} days");
            assert!(is_business_day(earliest), "{earliest}");
        }
    }

    #[test]
    fn every_day_of_2026_and_2027_is_in_or_out_of_the_default_windows() {
        let windows = MoveWindows::default();
        let mut inside = 0;
        for (date, _, m, d) in every_day_of_2026_and_2027() {
            assert_eq!(windows.contains(date), in_default_window(m, d), "{date}");
            inside += usize::from(windows.contains(date));
        }
        assert_eq!(inside, 2 * 4 * 11, "eleven days in each of four months, two years");
    }

    /// Every pair of (today, move date) in 2026 and 2027 that matters is
    /// judged like an independent reading of the rule: today from every day
    /// of both years, the move date from 0 to 120 days ahead of it.
    #[test]
    fn every_move_date_asked_on_every_day_of_2026_and_2027_is_judged_by_notice_window_and_fee() {
        let windows = MoveWindows::default();
        let days = calendar_to_2028();
        for index in 0..730 {
            let today = days[index].0;
            let earliest = oracle_earliest(&days, index);
            let mut accepted = 0;
            for ahead in 0..=120 {
                let date = today + time::Duration::days(ahead);
                let inside = in_default_window(u8::from(date.month()), date.day());
                for fee in [false, true] {
                    let got = check_move_date(date, today, &windows, fee);
                    let want = if date < earliest {
                        Err(MoveError::TooSoon { date, earliest })
                    } else if !inside && !fee {
                        Err(MoveError::OutsideWindow { date, windows: windows.describe() })
                    } else {
                        Ok(MoveTiming { in_window: inside })
                    };
                    assert_eq!(got, want, "asked {today} for {date}, fee {fee}");
                    accepted += usize::from(got.is_ok() && !fee);
                }
            }
            // Every window lies within 120 days of any day, so some date is always open.
            assert!(accepted > 0, "no date within 120 days of {today}");
            let yesterday = today - time::Duration::days(1);
            assert_eq!(
                check_move_date(yesterday, today, &windows, true),
                Err(MoveError::InPast { date: yesterday, today })
            );
        }
    }

    #[test]
    fn the_last_day_of_every_month_of_2026_and_2027_keeps_the_notice_across_the_month_end() {
        for year in [2026, 2027] {
            for m in 1..=12u8 {
                let last = ymd_date(year, m, days_in_month(year, m));
                let earliest = add_business_days(last, NOTICE_BUSINESS_DAYS);
                assert!(earliest.month() != last.month() || earliest.year() != last.year(), "{last}");
                let business_between = (1..=(earliest - last).whole_days())
                    .map(|n| last + time::Duration::days(n))
                    .filter(|d| is_business_day(*d))
                    .count();
                assert_eq!(business_between, 14, "{last}");
            }
        }
    }

    #[test]
    fn a_request_on_the_first_day_of_a_window_month_misses_that_window() {
        // 2026-03-02 (Monday) + 14 business days = 2026-03-20 (Friday): inside March's window.
        assert_eq!(add_business_days(date!(2026 - 03 - 02), 14), date!(2026 - 03 - 20));
        let w = MoveWindows::default();
        assert!(check_move_date(date!(2026 - 03 - 20), date!(2026 - 03 - 02), &w, false).is_ok());
        // From 2026-03-13 (Friday) the earliest is 2026-04-02: March's window is gone.
        assert_eq!(add_business_days(date!(2026 - 03 - 13), 14), date!(2026 - 04 - 02));
        assert!(matches!(
            check_move_date(date!(2026 - 03 - 25), date!(2026 - 03 - 13), &w, true),
            Err(MoveError::TooSoon { .. })
        ));
        let next = check_move_date(date!(2026 - 06 - 15), date!(2026 - 03 - 13), &w, false);
        assert_eq!(next, Ok(MoveTiming { in_window: true }));
        assert_eq!(
            check_move_date(date!(2026 - 04 - 15), date!(2026 - 03 - 13), &w, true),
            Ok(MoveTiming { in_window: false })
        );
    }

    #[test]
    fn refusals_name_their_rule_and_the_dates() {
        let w = MoveWindows::default();
        assert_eq!(
            check_move_date(date!(2026 - 04 - 15), date!(2026 - 03 - 02), &w, false).unwrap_err().to_string(),
            "moves happen inside the move windows (the 15th to the 25th of March, June, September and December); \
             2026-04-15 is outside them: ask again with fee_acknowledged: true to accept the fee of a move outside \
             the windows"
        );
        assert_eq!(
            check_move_date(date!(2026 - 03 - 10), date!(2026 - 03 - 02), &w, true).unwrap_err().to_string(),
            "a move is asked for at least 14 business days (Monday to Friday) ahead; the earliest move date from \
             today is 2026-03-20, and 2026-03-10 is sooner"
        );
        assert_eq!(
            check_move_date(date!(2026 - 03 - 01), date!(2026 - 03 - 02), &w, true).unwrap_err().to_string(),
            "move dates cannot be in the past; 2026-03-01 is before today (2026-03-02, UTC)"
        );
    }

    #[test]
    fn windows_are_configurable_and_checked() {
        let monthly = MoveWindows::new(&(1..=12).collect::<Vec<_>>(), 1, 31).unwrap();
        for (date, ..) in every_day_of_2026_and_2027() {
            assert!(monthly.contains(date), "{date}");
        }
        let one = MoveWindows::new(&[2], 28, 29).unwrap();
        assert!(one.contains(date!(2028 - 02 - 29)) && one.contains(date!(2026 - 02 - 28)));
        assert!(!one.contains(date!(2026 - 03 - 01)));
        assert_eq!(one.describe(), "the 28th to the 29th of February");
        assert_eq!(MoveWindows::new(&[1, 11], 1, 3).unwrap().describe(), "the 1st to the 3rd of January and November");
        assert_eq!(MoveWindows::new(&[], 15, 25), Err(WindowError::NoMonths));
        assert_eq!(MoveWindows::new(&[13], 15, 25), Err(WindowError::Month));
        assert_eq!(MoveWindows::new(&[0], 15, 25), Err(WindowError::Month));
        assert_eq!(MoveWindows::new(&[3], 0, 25), Err(WindowError::Day));
        assert_eq!(MoveWindows::new(&[3], 15, 32), Err(WindowError::Day));
        assert_eq!(MoveWindows::new(&[3], 26, 25), Err(WindowError::Order));
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(22), "22nd");
        assert_eq!(ordinal(23), "23rd");
        assert_eq!(ordinal(31), "31st");
    }

    // ---- the state machine ----

    const TODAY: Date = date!(2026 - 03 - 02);
    const DAY: Date = date!(2026 - 03 - 20);

    fn ask(to: &str, date: Date) -> MoveAsk {
        MoveAsk { to_customer_org: org(to), move_date: date, fee_acknowledged: false }
    }

    fn requested() -> Move {
        Move::request(
            org("globex"),
            ask("initech", DAY),
            true,
            &MoveWindows::default(),
            (TODAY, 100),
            who("globex/gina"),
        )
        .unwrap()
    }

    #[test]
    fn a_move_is_requested_confirmed_and_completed_on_its_date() {
        let mut m = requested();
        assert_eq!((m.state, m.in_window, m.requested_at), (MoveState::Requested, true, 100));
        m.confirm(who("acme/ada"), 200).unwrap();
        assert_eq!(m.check_complete(date!(2026 - 03 - 19)), Err(MoveError::NotYet(DAY)));
        assert_eq!(MoveError::NotYet(DAY).to_string(), "the move date 2026-03-20 has not come yet");
        m.complete(who("acme/ada"), DAY, 300, vec![Half::Mfa]).unwrap();
        assert_eq!(
            (m.state, m.completed_at, m.retired_halves.clone()),
            (MoveState::Completed, Some(300), vec![Half::Mfa])
        );
        assert_eq!(m.cancel(who("acme/ada"), 400), Err(MoveError::Closed(MoveState::Completed)));
        assert_eq!(m.confirm(who("acme/ada"), 400), Err(MoveError::Closed(MoveState::Completed)));
    }

    #[test]
    fn a_move_completes_only_once_confirmed_and_confirms_only_once() {
        let mut m = requested();
        assert_eq!(
            m.complete(who("acme/ada"), DAY, 300, vec![]),
            Err(MoveError::WrongState { actual: MoveState::Requested, expected: MoveState::Confirmed })
        );
        m.confirm(who("acme/ada"), 200).unwrap();
        assert_eq!(
            m.confirm(who("acme/ada"), 201),
            Err(MoveError::WrongState { actual: MoveState::Confirmed, expected: MoveState::Requested })
        );
        // Later than the date is fine: a move that slipped a day still completes.
        assert_eq!(m.check_complete(date!(2026 - 03 - 23)), Ok(()));
    }

    #[test]
    fn a_move_may_be_cancelled_until_it_completes() {
        let mut m = requested();
        m.cancel(who("globex/gina"), 150).unwrap();
        assert_eq!((m.state, m.cancelled_at), (MoveState::Cancelled, Some(150)));
        assert_eq!(m.cancel(who("globex/gina"), 151), Err(MoveError::Closed(MoveState::Cancelled)));
        let mut m = requested();
        m.confirm(who("acme/ada"), 200).unwrap();
        m.cancel(who("acme/ada"), 250).unwrap();
        assert_eq!(m.state, MoveState::Cancelled);
    }

    #[test]
    fn a_move_needs_another_known_customer_and_a_good_date() {
        let w = MoveWindows::default();
        let by = || who("globex/gina");
        assert_eq!(
            Move::request(org("globex"), ask("globex", DAY), true, &w, (TODAY, 1), by()),
            Err(MoveError::SameCustomer(org("globex")))
        );
        assert_eq!(
            MoveError::SameCustomer(org("globex")).to_string(),
            "the account already belongs to globex; a move goes to another customer"
        );
        assert_eq!(
            Move::request(org("globex"), ask("umbrella", DAY), false, &w, (TODAY, 1), by()),
            Err(MoveError::UnknownCustomer)
        );
        let outside = ask("initech", date!(2026 - 04 - 15));
        assert!(matches!(
            Move::request(org("globex"), outside.clone(), true, &w, (TODAY, 1), by()),
            Err(MoveError::OutsideWindow { .. })
        ));
        let paid = MoveAsk { fee_acknowledged: true, ..outside };
        let m = Move::request(org("globex"), paid, true, &w, (TODAY, 1), by()).unwrap();
        assert_eq!((m.in_window, m.fee_acknowledged), (false, true));
    }

    #[test]
    fn a_move_serialises_its_date_as_text_and_round_trips() {
        let m = requested();
        let value = serde_json::to_value(&m).unwrap();
        assert_eq!(value["move_date"], "2026-03-20");
        assert_eq!(value["state"], "requested");
        assert_eq!(serde_json::from_value::<Move>(value).unwrap(), m);
    }

    // ---- what the old customer loses ----

    fn sets(password: &[&str], mfa: &[&str]) -> CustodianSets {
        CustodianSets { password: password.iter().map(|p| who(p)).collect(), mfa: mfa.iter().map(|p| who(p)).collect() }
    }

    fn seen(by: &str, half: Half, version: u32) -> Exposure {
        Exposure { principal: who(by), half, version }
    }

    #[test]
    fn a_shared_payer_always_loses_its_customer_held_mfa_half_and_keeps_its_password() {
        let current = CurrentVersions { password: Some(1), mfa: Some(1) };
        for custodians in [sets(&["acme/alice"], &["globex/gus"]), sets(&["acme/alice"], &[])] {
            let got = retired_halves(CustodyMode::SharedPayer, &custodians, &[], current, &org("globex"));
            assert_eq!(got, vec![Half::Mfa]);
        }
    }

    #[test]
    fn a_provider_split_account_loses_nothing() {
        let current = CurrentVersions { password: Some(2), mfa: Some(1) };
        let custodians = sets(&["acme/alice"], &["acme/bob"]);
        assert!(retired_halves(CustodyMode::ProviderSplit, &custodians, &[], current, &org("globex")).is_empty());
        assert!(retired_halves(CustodyMode::CustomerOwned, &sets(&[], &[]), &[], current, &org("globex")).is_empty());
    }

    #[test]
    fn a_co_owned_account_loses_the_halves_the_old_customer_held_or_knows() {
        let current = CurrentVersions { password: Some(2), mfa: Some(1) };
        let mode = CustodyMode::CoOwned;
        let old = org("globex");
        let provider_only = sets(&["acme/alice"], &["acme/bob"]);
        assert!(retired_halves(mode, &provider_only, &[], current, &old).is_empty());
        let shared_password = sets(&["acme/alice", "globex/gus"], &["acme/bob"]);
        assert_eq!(retired_halves(mode, &shared_password, &[], current, &old), vec![Half::Password]);
        // Knowing the current version counts; an older one does not.
        let knows = [seen("globex/gus", Half::Mfa, 1), seen("globex/gus", Half::Password, 1)];
        assert_eq!(retired_halves(mode, &provider_only, &knows, current, &old), vec![Half::Mfa]);
        // Another customer's knowledge is not the old customer's.
        let other = [seen("initech/ivan", Half::Mfa, 1)];
        assert!(retired_halves(mode, &provider_only, &other, current, &old).is_empty());
    }
}
