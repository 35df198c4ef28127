//! When an issuer's public keys may be fetched again.
//!
//! Identity providers rotate their signing keys: they publish the new key,
//! start signing with it, and later drop the old one. A key set fetched
//! once would refuse every token of the new key and keep trusting the old
//! one forever. So a key set is refetched regularly (an hour after its last
//! successful fetch), and early when a token names a key the set does not
//! have. The early fetch is something any caller can provoke with a made-up
//! `kid`, so it is allowed at most once a minute per issuer, counting every
//! attempt, successful or not: a burst of such tokens, or a provider that is
//! down, costs the provider one request a minute.
//!
//! The gate is pure bookkeeping over instants passed in, so it is the same
//! for bearer-token issuers and OpenID providers, and tests need no clock.

use std::time::{Duration, Instant};

/// A key set is due for its regular refresh this long after its last
/// successful fetch.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// An unknown `kid` triggers a fetch at most this often per issuer. A failed
/// regular refresh is retried after the same interval.
pub const UNKNOWN_KID_MIN_INTERVAL: Duration = Duration::from_secs(60);

/// The refresh bookkeeping of one key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGate {
    /// The last successful fetch.
    fetched: Instant,
    /// The last regular refresh attempted; after a failure it spaces the
    /// retries.
    regular_attempt: Option<Instant>,
    /// The last fetch an unknown `kid` triggered, successful or not.
    unknown_kid_attempt: Option<Instant>,
}

impl RefreshGate {
    /// The gate of a key set fetched successfully at `fetched`. The fetch
    /// that loads a key set is no attempt of the gate's: the first unknown
    /// `kid` after it may fetch at once.
    pub fn new(fetched: Instant) -> Self {
        Self { fetched, regular_attempt: None, unknown_kid_attempt: None }
    }

    /// When the regular refresh is due: an hour after the last successful
    /// fetch, and after a failed attempt no sooner than a minute after it.
    pub fn due_at(&self) -> Instant {
        let regular = self.fetched + REFRESH_INTERVAL;
        self.regular_attempt.map_or(regular, |attempt| regular.max(attempt + UNKNOWN_KID_MIN_INTERVAL))
    }

    /// Whether the regular refresh is due at `now`; if so, the attempt is
    /// counted, so asking twice does not fetch twice.
    pub fn begin_regular(&mut self, now: Instant) -> bool {
        let due = now >= self.due_at();
        if due {
            self.regular_attempt = Some(now);
        }
        due
    }

    /// Whether a token naming an unknown `kid` at `now` may trigger a fetch;
    /// if so, the attempt is counted, so concurrent callers that consult
    /// the gate under one lock fetch once between them.
    pub fn begin_unknown_kid(&mut self, now: Instant) -> bool {
        let allowed = self.unknown_kid_attempt.is_none_or(|last| now >= last + UNKNOWN_KID_MIN_INTERVAL);
        if allowed {
            self.unknown_kid_attempt = Some(now);
        }
        allowed
    }

    /// Record a successful fetch at `at`: the next regular refresh is an
    /// hour later.
    pub fn succeeded(&mut self, at: Instant) {
        self.fetched = self.fetched.max(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn a_key_set_is_due_an_hour_after_its_last_successful_fetch() {
        let t0 = Instant::now();
        let mut gate = RefreshGate::new(t0);
        assert_eq!(gate.due_at(), t0 + REFRESH_INTERVAL);
        assert!(!gate.begin_regular(t0 + REFRESH_INTERVAL - SECOND));
        assert!(gate.begin_regular(t0 + REFRESH_INTERVAL));
        gate.succeeded(t0 + REFRESH_INTERVAL);
        assert_eq!(gate.due_at(), t0 + 2 * REFRESH_INTERVAL);
        assert!(!gate.begin_regular(t0 + REFRESH_INTERVAL + SECOND));
    }

    #[test]
    fn a_successful_unknown_kid_fetch_postpones_the_regular_refresh() {
        let t0 = Instant::now();
        let mut gate = RefreshGate::new(t0);
        let later = t0 + 20 * 60 * SECOND;
        assert!(gate.begin_unknown_kid(later));
        gate.succeeded(later);
        assert_eq!(gate.due_at(), later + REFRESH_INTERVAL);
    }

    #[test]
    fn a_failed_regular_refresh_is_retried_a_minute_later_and_not_before() {
        let t0 = Instant::now();
        let mut gate = RefreshGate::new(t0);
        let due = t0 + REFRESH_INTERVAL;
        assert!(gate.begin_regular(due + SECOND));
        // The fetch failed: nothing recorded but the attempt.
        assert_eq!(gate.due_at(), due + SECOND + UNKNOWN_KID_MIN_INTERVAL);
        assert!(!gate.begin_regular(due + 30 * SECOND));
        assert!(gate.begin_regular(due + SECOND + UNKNOWN_KID_MIN_INTERVAL));
    }

    #[test]
    fn an_unknown_kid_may_trigger_a_fetch_at_most_once_a_minute() {
        let t0 = Instant::now();
        let mut gate = RefreshGate::new(t0);
        assert!(gate.begin_unknown_kid(t0), "the first unknown kid after loading fetches at once");
        for offset in [0, 1, 30, 59] {
            assert!(!gate.begin_unknown_kid(t0 + offset * SECOND), "{offset} s after the attempt");
        }
        assert!(gate.begin_unknown_kid(t0 + UNKNOWN_KID_MIN_INTERVAL));
        assert!(!gate.begin_unknown_kid(t0 + UNKNOWN_KID_MIN_INTERVAL + SECOND));
    }

    #[test]
    fn failed_and_successful_unknown_kid_attempts_count_alike() {
        let t0 = Instant::now();
        let mut failing = RefreshGate::new(t0);
        let mut working = RefreshGate::new(t0);
        assert!(failing.begin_unknown_kid(t0 + SECOND));
        assert!(working.begin_unknown_kid(t0 + SECOND));
        working.succeeded(t0 + SECOND);
        for gate in [&mut failing, &mut working] {
            assert!(!gate.begin_unknown_kid(t0 + 10 * SECOND));
            assert!(gate.begin_unknown_kid(t0 + SECOND + UNKNOWN_KID_MIN_INTERVAL));
        }
    }

    #[test]
    fn regular_refreshes_do_not_use_up_the_unknown_kid_allowance() {
        let t0 = Instant::now();
        let mut gate = RefreshGate::new(t0);
        let due = t0 + REFRESH_INTERVAL;
        assert!(gate.begin_regular(due));
        gate.succeeded(due);
        assert!(gate.begin_unknown_kid(due + SECOND), "a key published just after the refresh is still found");
    }
}
