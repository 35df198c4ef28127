//! Failed authentications per client address: a budget, and aggregation.
//!
//! An address that fails to authenticate more than `BUDGET` times in a
//! window is refused with 429 on every route until the window ends, before
//! any token is looked at, and those refusals write nothing. Within a
//! window only the first failure of an address for each reason is audited
//! in full (the reasons are a short fixed list); later ones are counted
//! and written as one summary event (`details.count`)
//! when the window has closed: at the address's next failure, by the
//! periodic sweep, or when the server shuts down. So a flood of bad tokens
//! costs a few audit rows a minute, not one per request.
//!
//! Memory is bounded: at most `MAX_TRACKED` addresses; when full, the
//! oldest window is closed early (and its count summarised).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One window of failures.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Failed authentications one address may make per window.
pub const BUDGET: u32 = 20;
/// Addresses tracked at once.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone)]
struct Window {
    started: Instant,
    /// Unix seconds of `started`, for the summary event.
    started_unix: i64,
    failures: u32,
    /// Failures counted but not yet written to the audit log.
    unrecorded: u32,
    /// The reasons already recorded in full in this window.
    recorded: Vec<&'static str>,
}

/// Failures of one address that the audit log has not seen one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub ip: IpAddr,
    pub count: u32,
    /// Unix seconds when the window began.
    pub since: i64,
}

/// What to do with one failure.
#[derive(Debug, PartialEq, Eq)]
pub struct Noted {
    /// Record this failure as its own audit event (the first of a window).
    pub record: bool,
    /// Summaries of closed windows to write first.
    pub summaries: Vec<Summary>,
}

#[derive(Debug, Default)]
pub struct AuthFailures {
    windows: Mutex<HashMap<IpAddr, Window>>,
}

fn summary(ip: IpAddr, w: &Window) -> Option<Summary> {
    (w.unrecorded > 0).then_some(Summary { ip, count: w.unrecorded, since: w.started_unix })
}

impl AuthFailures {
    /// Whether `ip` spent its budget in the current window.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        windows.get(&ip).is_some_and(|w| now.duration_since(w.started) < WINDOW && w.failures >= BUDGET)
    }

    /// Count one failure of `ip` for `reason`.
    pub fn note(&self, ip: IpAddr, reason: &'static str, now: Instant, now_unix: i64) -> Noted {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let mut summaries = Vec::new();
        if let Some(w) = windows.get_mut(&ip) {
            if now.duration_since(w.started) < WINDOW {
                w.failures = w.failures.saturating_add(1);
                if w.recorded.contains(&reason) {
                    w.unrecorded = w.unrecorded.saturating_add(1);
                    return Noted { record: false, summaries };
                }
                w.recorded.push(reason);
                return Noted { record: true, summaries };
            }
            summaries.extend(summary(ip, w));
        } else if windows.len() >= MAX_TRACKED {
            // Make room: closed windows first, then the oldest open one.
            let closed: Vec<IpAddr> =
                windows.iter().filter(|(_, w)| now.duration_since(w.started) >= WINDOW).map(|(ip, _)| *ip).collect();
            let evict = if closed.is_empty() {
                windows.iter().min_by_key(|(_, w)| w.started).map(|(ip, _)| *ip).into_iter().collect()
            } else {
                closed
            };
            for old in evict {
                if let Some(w) = windows.remove(&old) {
                    summaries.extend(summary(old, &w));
                }
            }
        }
        let window =
            Window { started: now, started_unix: now_unix, failures: 1, unrecorded: 0, recorded: vec![reason] };
        windows.insert(ip, window);
        Noted { record: true, summaries }
    }

    /// Close the windows that ended before `now` (every window when `all`,
    /// at shutdown) and return what they still owe the audit log.
    pub fn take_closed(&self, now: Instant, all: bool) -> Vec<Summary> {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        windows.retain(|ip, w| {
            let closed = all || now.duration_since(w.started) >= WINDOW;
            if closed {
                out.extend(summary(*ip, w));
            }
            !closed
        });
        out
    }
}

/// Write `summaries` to the audit log: one `auth.fail` event per address,
/// with the number of failures it stands for.
pub async fn record(vault: &crate::vault::Vault, summaries: Vec<Summary>) {
    use crate::audit::{Action, EventDraft, HttpInfo, Target};
    for s in summaries {
        let http = HttpInfo { request_id: None, ip: Some(s.ip.to_string()), user_agent: None };
        let draft = EventDraft::new(None, Action::AuthFail, Target::default(), &http)
            .detail("reason", "repeated failures, summarised")
            .detail("count", s.count)
            .detail("window_started_at", crate::vault::rfc3339(s.since));
        vault.refuse(draft, crate::error::Error::Unauthenticated).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_of_a_window_is_recorded_and_the_rest_summarised_once_it_closes() {
        let f = AuthFailures::default();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(f.note(ip, "bad signature", t0, 1000), Noted { record: true, summaries: vec![] });
        assert!(f.note(ip, "token expired", t0, 1000).record, "a new reason is recorded in full");
        for _ in 2..BUDGET {
            assert!(!f.blocked(ip, t0));
            assert!(!f.note(ip, "bad signature", t0, 1000).record);
        }
        assert!(f.blocked(ip, t0), "the budget is spent");
        assert!(f.take_closed(t0, false).is_empty(), "the window is still open");
        let later = t0 + WINDOW;
        assert!(!f.blocked(ip, later));
        let next = f.note(ip, "bad signature", later, 1060);
        assert_eq!(next, Noted { record: true, summaries: vec![Summary { ip, count: BUDGET - 2, since: 1000 }] });
        assert!(f.take_closed(later, true).is_empty(), "the new window owes nothing yet");
    }

    #[test]
    fn memory_is_bounded_and_evicted_counts_are_not_lost() {
        let f = AuthFailures::default();
        let t0 = Instant::now();
        let first: IpAddr = "10.0.0.0".parse().unwrap();
        f.note(first, "bad signature", t0, 0);
        f.note(first, "bad signature", t0, 0);
        let mut owed = Vec::new();
        for i in 1..=MAX_TRACKED as u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            owed.extend(f.note(ip, "bad signature", t0 + Duration::from_millis(1), 0).summaries);
        }
        assert!(f.windows.lock().unwrap().len() <= MAX_TRACKED);
        assert_eq!(owed, vec![Summary { ip: first, count: 1, since: 0 }]);
    }
}
