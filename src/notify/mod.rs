//! Notifications: signed webhooks, e-mail and chat, through a durable
//! outbox with retries.
//!
//! Each account can have webhook subscribers (the customer's SOC team, the
//! provider's account team, seed 004). When a break-glass request is
//! created, approved, denied, released, expired or cancelled, a half is
//! rotated, custody ends or a root sign-in needs attention, one delivery
//! per subscriber is queued in the `outbox` table in the same transaction
//! as the audit event, and the event is announced for people; the worker
//! routes announcements to e-mail addresses and chat channels (DESIGN §15,
//! docs/notifications.md), sends every delivery, and retries with
//! exponential backoff until the receiver takes it, so a receiver or relay
//! that is down gets them later. Nothing sent carries a secret.

pub mod chat;
pub mod compose;
pub mod email;
mod lifecycle_messages;
pub mod message;
pub mod sign;
pub mod target;
pub mod worker;

use std::time::Duration;

use serde_json::{Value, json};

use crate::domain::ids::AccountId;

/// What subscribers can hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    RequestCreated,
    RequestApproved,
    RequestDenied,
    RequestCancelled,
    RequestReleased,
    RequestExpired,
    HalfRotated,
    /// The account was handed back or closed; its keys are destroyed.
    CustodyEnded,
    /// A root sign-in, or a root password or e-mail change, that no
    /// break-glass window or rotation explains, or that failed.
    RootSigninAlert,
    /// A provider admin changed the account's details.
    AccountUpdated,
    /// Onboarding began, an item of its checklist was settled, or it ended.
    OnboardingStarted,
    OnboardingProgress,
    OnboardingCompleted,
    /// A DDI move was asked for, confirmed, carried out or withdrawn.
    MoveRequested,
    MoveConfirmed,
    MoveCompleted,
    MoveCancelled,
    /// One side marked the consent to assignment signed.
    ConsentMarked,
    /// The account was closed (its halves kept) or reopened.
    AccountClosed,
    AccountReopened,
    /// A root sign-in inside the window of a request whose password was
    /// released: explained, but the SOC hears of every one (seed 004).
    RootSigninExpected,
}

impl Event {
    pub const ALL: [Event; 21] = [
        Event::RequestCreated,
        Event::RequestApproved,
        Event::RequestDenied,
        Event::RequestCancelled,
        Event::RequestReleased,
        Event::RequestExpired,
        Event::HalfRotated,
        Event::CustodyEnded,
        Event::RootSigninAlert,
        Event::RootSigninExpected,
        Event::AccountUpdated,
        Event::OnboardingStarted,
        Event::OnboardingProgress,
        Event::OnboardingCompleted,
        Event::MoveRequested,
        Event::MoveConfirmed,
        Event::MoveCompleted,
        Event::MoveCancelled,
        Event::ConsentMarked,
        Event::AccountClosed,
        Event::AccountReopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::RequestCreated => "request.created",
            Event::RequestApproved => "request.approved",
            Event::RequestDenied => "request.denied",
            Event::RequestCancelled => "request.cancelled",
            Event::RequestReleased => "request.released",
            Event::RequestExpired => "request.expired",
            Event::HalfRotated => "half.rotated",
            Event::CustodyEnded => "custody.ended",
            Event::RootSigninAlert => "root_signin.alert",
            Event::RootSigninExpected => "root_signin.expected",
            Event::AccountUpdated => "account.updated",
            Event::OnboardingStarted => "onboarding.started",
            Event::OnboardingProgress => "onboarding.progress",
            Event::OnboardingCompleted => "onboarding.completed",
            Event::MoveRequested => "move.requested",
            Event::MoveConfirmed => "move.confirmed",
            Event::MoveCompleted => "move.completed",
            Event::MoveCancelled => "move.cancelled",
            Event::ConsentMarked => "consent.marked",
            Event::AccountClosed => "account.closed",
            Event::AccountReopened => "account.reopened",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// The body of a delivery (the outbox adds `delivery_id`).
pub fn payload(event: Event, account: &AccountId, occurred_at: &str, actor: Option<&str>, data: Value) -> Value {
    json!({
        "event": event.as_str(),
        "account_id": account.as_str(),
        "occurred_at": occurred_at,
        "actor": actor,
        "data": data,
    })
}

/// How the delivery worker behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifySettings {
    /// How often the worker looks for due deliveries.
    pub poll_interval: Duration,
    /// The first retry waits this long; each further one twice as long.
    pub retry_base: Duration,
    /// The longest wait between two attempts.
    pub retry_max: Duration,
    /// Attempts before a delivery is marked failed.
    pub max_attempts: u32,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Let webhooks reach loopback, private and link-local addresses over
    /// plain http (`notify.danger_allow_private_targets`; on in dev mode).
    pub allow_private_targets: bool,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            max_attempts: 15,
            timeout: Duration::from_secs(10),
            allow_private_targets: false,
        }
    }
}

impl NotifySettings {
    /// The wait after `attempts` failed attempts.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.retry_base.saturating_mul(factor).min(self.retry_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let s = NotifySettings {
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(60),
            ..Default::default()
        };
        let waits: Vec<u64> = (1..=7).map(|n| s.backoff(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn event_names_round_trip() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(e));
        }
    }
}
