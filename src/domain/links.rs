//! One-time links: what they may carry, who may make them, and when one
//! can still be opened (DESIGN §8).
//!
//! A `deliver` link carries a secret encrypted in the service under a key
//! that lives only in the link's URL fragment; a `collect` link receives one
//! secret from outside. Either works once. Ids are 128-bit random values;
//! only their SHA-256 is stored, and only a truncated hash is ever logged.

use serde::{Deserialize, Serialize};

/// Expiry when none is asked for: 24 hours.
pub const DEFAULT_TTL_MINUTES: u32 = 24 * 60;
/// The longest a link may live: 7 days.
pub const MAX_TTL_MINUTES: u32 = 7 * 24 * 60;
/// Wrong passphrases before a link burns.
pub const MAX_PASSPHRASE_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Deliver,
    Collect,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Deliver => "deliver",
            Purpose::Collect => "collect",
        }
    }
}

/// The stored state; `expired` is derived from the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Pending,
    /// Opened (deliver) or used (collect): the secret moved once.
    Opened,
    Expired,
    Revoked,
    /// Too many wrong passphrases.
    Burned,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Pending => "pending",
            LinkState::Opened => "opened",
            LinkState::Expired => "expired",
            LinkState::Revoked => "revoked",
            LinkState::Burned => "burned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [LinkState::Pending, LinkState::Opened, LinkState::Expired, LinkState::Revoked, LinkState::Burned]
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

/// Why a link could not be made or used. Each names the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("ttl_minutes must be between 1 and {MAX_TTL_MINUTES} (7 days)")]
    Ttl,
    #[error("the recipient needs a name (at most 200 characters)")]
    RecipientName,
    #[error("a passphrase needs at least 8 characters")]
    Passphrase,
    #[error("deliver links carry only the password half; the MFA half leaves only as codes")]
    DeliverMfa,
    #[error("a deliver link needs the request_id of an approved break-glass request naming you")]
    DeliverNeedsRequest,
    #[error("this link was already used")]
    Used,
    #[error("this link has expired")]
    Expired,
    #[error("this link was revoked")]
    Revoked,
    #[error("this link burned after too many wrong passphrases")]
    Burned,
    #[error("wrong passphrase; {0} attempts left")]
    WrongPassphrase(u32),
    #[error("this link is a {0} link")]
    WrongPurpose(&'static str),
    #[error("the half this link collects has changed since the link was made; ask for a new link")]
    HalfChanged,
    #[error("this link can no longer be used; ask whoever sent it for a new one")]
    Void,
}

/// Check the creation inputs shared by both purposes.
pub fn check_new(ttl_minutes: Option<u32>, recipient_name: &str, passphrase: Option<&str>) -> Result<u32, LinkError> {
    let ttl = ttl_minutes.unwrap_or(DEFAULT_TTL_MINUTES);
    if !(1..=MAX_TTL_MINUTES).contains(&ttl) {
        return Err(LinkError::Ttl);
    }
    let name = recipient_name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(LinkError::RecipientName);
    }
    if passphrase.is_some_and(|p| p.chars().count() < 8) {
        return Err(LinkError::Passphrase);
    }
    Ok(ttl)
}

/// The state a link shows at `now` (pending links past expiry are expired).
pub fn effective_state(stored: LinkState, expires_at: i64, now: i64) -> LinkState {
    if stored == LinkState::Pending && now >= expires_at { LinkState::Expired } else { stored }
}

/// Whether a link in `state` can be used now; the refusal otherwise.
pub fn check_usable(state: LinkState) -> Result<(), LinkError> {
    match state {
        LinkState::Pending => Ok(()),
        LinkState::Opened => Err(LinkError::Used),
        LinkState::Expired => Err(LinkError::Expired),
        LinkState::Revoked => Err(LinkError::Revoked),
        LinkState::Burned => Err(LinkError::Burned),
    }
}

/// Whether a collect link made when its half was at `made_at` (the current
/// version then, `None` before any deposit) may still be used now that it is
/// at `current`. A link is void once its half has moved on: otherwise an old
/// link could overwrite a newer version, or be used by someone whose custody
/// has changed since (DESIGN §3, invariant 2).
pub fn check_still_current(made_at: Option<u32>, current: Option<u32>) -> Result<(), LinkError> {
    if made_at == current { Ok(()) } else { Err(LinkError::HalfChanged) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_defaults_to_a_day_and_is_capped_at_a_week() {
        assert_eq!(check_new(None, "Jane Doe", None), Ok(1440));
        assert_eq!(check_new(Some(MAX_TTL_MINUTES), "Jane Doe", None), Ok(10_080));
        assert_eq!(check_new(Some(MAX_TTL_MINUTES + 1), "Jane Doe", None), Err(LinkError::Ttl));
        assert_eq!(check_new(Some(0), "Jane Doe", None), Err(LinkError::Ttl));
        assert_eq!(check_new(None, " ", None), Err(LinkError::RecipientName));
        assert_eq!(check_new(None, "Jane", Some("short")), Err(LinkError::Passphrase));
    }

    #[test]
    fn pending_links_expire_and_only_pending_ones_are_usable() {
        assert_eq!(effective_state(LinkState::Pending, 100, 99), LinkState::Pending);
        assert_eq!(effective_state(LinkState::Pending, 100, 100), LinkState::Expired);
        assert_eq!(effective_state(LinkState::Opened, 100, 200), LinkState::Opened);
        assert_eq!(check_usable(LinkState::Pending), Ok(()));
        assert_eq!(check_usable(LinkState::Opened), Err(LinkError::Used));
        assert_eq!(check_usable(LinkState::Burned), Err(LinkError::Burned));
    }

    #[test]
    fn a_collect_link_is_void_once_its_half_moved_on() {
        assert_eq!(check_still_current(None, None), Ok(()));
        assert_eq!(check_still_current(Some(2), Some(2)), Ok(()));
        assert_eq!(check_still_current(Some(2), Some(3)), Err(LinkError::HalfChanged));
        assert_eq!(check_still_current(None, Some(1)), Err(LinkError::HalfChanged));
    }
}
