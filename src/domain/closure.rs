//! Where an account stands in its life, and the rules of closing it (seeds
//! 000, 002, 003).
//!
//! A closed AWS account can be reopened for 90 days, which needs its root
//! credentials, so closing keeps the encrypted halves but releases nothing.
//! A provider admin may reopen it within those 90 days; once they have
//! passed, AWS deletes the account for good and so does the service: it
//! becomes `closed_permanently` and its data keys are destroyed.
//!
//! ```text
//! active ─close─▶ closed ─reopen (within 90 days)─▶ active
//!                    └──90 days pass──▶ closed_permanently
//! active ─hand-off link used─▶ returned
//! ```

use std::fmt;

use super::onboarding::OnboardingState;

/// How long a closed account may be reopened (AWS's rule, seed 000).
pub const REOPEN_DAYS: i64 = 90;
const DAY_SECONDS: i64 = 86_400;

/// Where an account stands, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Closed,
    ClosedPermanently,
    /// Handed back to the customer: custody ended.
    Returned,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Closed => "closed",
            AccountStatus::ClosedPermanently => "closed_permanently",
            AccountStatus::Returned => "returned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [AccountStatus::Active, AccountStatus::Closed, AccountStatus::ClosedPermanently, AccountStatus::Returned]
            .into_iter()
            .find(|status| status.as_str() == s)
    }

    /// What the account shows: an active account is `onboarding` until its
    /// onboarding is completed.
    pub fn shown(self, onboarding: OnboardingState) -> &'static str {
        match (self, onboarding) {
            (AccountStatus::Active, OnboardingState::NotStarted | OnboardingState::InProgress) => "onboarding",
            (status, _) => status.as_str(),
        }
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a closure step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClosureError {
    #[error("the account is {0}, not closed")]
    NotClosed(AccountStatus),
    #[error("the account was closed more than {REOPEN_DAYS} days ago: AWS no longer reopens it")]
    TooLate,
}

/// The last moment (Unix seconds) an account closed at `closed_at` may be
/// reopened.
pub fn reopen_deadline(closed_at: i64) -> i64 {
    closed_at.saturating_add(REOPEN_DAYS * DAY_SECONDS)
}

/// Whether an account of `status`, closed at `closed_at`, may be reopened
/// `now`: it is closed, and no more than [`REOPEN_DAYS`] days ago.
pub fn check_reopen(status: AccountStatus, closed_at: Option<i64>, now: i64) -> Result<(), ClosureError> {
    match (status, closed_at) {
        (AccountStatus::Closed, Some(at)) if now <= reopen_deadline(at) => Ok(()),
        (AccountStatus::Closed, _) => Err(ClosureError::TooLate),
        (other, _) => Err(ClosureError::NotClosed(other)),
    }
}

/// Whether the daily sweep makes an account closed at `closed_at` closed
/// for good `now`: more than [`REOPEN_DAYS`] days have passed.
pub fn is_past_reopening(closed_at: i64, now: i64) -> bool {
    now > reopen_deadline(closed_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOSED: i64 = 1_780_000_000;

    #[test]
    fn a_closed_account_reopens_up_to_the_ninetieth_day_and_is_swept_after_it() {
        let deadline = CLOSED + 90 * 86_400;
        assert_eq!(reopen_deadline(CLOSED), deadline);
        for now in [CLOSED, CLOSED + 1, CLOSED + 89 * 86_400, deadline] {
            assert_eq!(check_reopen(AccountStatus::Closed, Some(CLOSED), now), Ok(()), "{now}");
            assert!(!is_past_reopening(CLOSED, now), "{now}");
        }
        for now in [deadline + 1, deadline + 86_400, CLOSED + 365 * 86_400] {
            assert_eq!(check_reopen(AccountStatus::Closed, Some(CLOSED), now), Err(ClosureError::TooLate), "{now}");
            assert!(is_past_reopening(CLOSED, now), "{now}");
        }
        assert_eq!(
            ClosureError::TooLate.to_string(),
            "the account was closed more than 90 days ago: AWS no longer reopens it"
        );
    }

    #[test]
    fn only_a_closed_account_reopens() {
        for status in [AccountStatus::Active, AccountStatus::ClosedPermanently, AccountStatus::Returned] {
            assert_eq!(check_reopen(status, Some(CLOSED), CLOSED + 1), Err(ClosureError::NotClosed(status)));
        }
        // A closure recorded before closure times were kept cannot prove it is recent.
        assert_eq!(check_reopen(AccountStatus::Closed, None, CLOSED), Err(ClosureError::TooLate));
        assert_eq!(
            ClosureError::NotClosed(AccountStatus::ClosedPermanently).to_string(),
            "the account is closed_permanently, not closed"
        );
    }

    #[test]
    fn an_active_account_shows_onboarding_until_onboarded() {
        assert_eq!(AccountStatus::Active.shown(OnboardingState::NotStarted), "onboarding");
        assert_eq!(AccountStatus::Active.shown(OnboardingState::InProgress), "onboarding");
        assert_eq!(AccountStatus::Active.shown(OnboardingState::Completed), "active");
        assert_eq!(AccountStatus::Closed.shown(OnboardingState::InProgress), "closed");
        for s in ["active", "closed", "closed_permanently", "returned"] {
            assert_eq!(AccountStatus::parse(s).map(AccountStatus::as_str), Some(s));
        }
        assert_eq!(AccountStatus::parse("gone"), None);
    }
}
