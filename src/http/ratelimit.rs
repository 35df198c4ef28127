//! Fixed-window rate limits.
//!
//! On every route: an address that spent its budget of failed
//! authentications (`failures`) gets 429 until its window ends, and
//! requests without credentials are limited per address (health probes
//! aside). On the public link endpoints: per client address and per link,
//! so neither one noisy client nor a distributed guesser hammering one link
//! gets far. A 429 is never audited: writing a row per refused request is
//! the flood these limits exist to stop. Counters live in memory behind a
//! std `Mutex` (the critical section is a map update, never held across an
//! `.await`); windows are one minute; at most `MAX_TRACKED` counters.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::Error;

const WINDOW: Duration = Duration::from_secs(60);
/// Requests one client address may make to public link endpoints per window.
pub const PER_IP: u32 = 300;
/// Requests one link may receive per window.
pub const PER_LINK: u32 = 60;
/// Requests without credentials one client address may make per window.
pub const ANONYMOUS_PER_IP: u32 = 300;
/// Counters kept at most; past it old windows are swept, then the oldest
/// dropped.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Default)]
pub struct Limiter {
    counters: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limiter {
    /// Count one hit for `key`; false once the window's budget is spent.
    fn allow(&self, key: String, budget: u32) -> bool {
        let now = Instant::now();
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        if counters.len() >= MAX_TRACKED && !counters.contains_key(&key) {
            counters.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            if counters.len() >= MAX_TRACKED
                && let Some(oldest) = counters.iter().min_by_key(|(_, (start, _))| *start).map(|(k, _)| k.clone())
            {
                counters.remove(&oldest);
            }
        }
        let entry = counters.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= budget
    }
}

fn client_ip(req: &Request) -> IpAddr {
    req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

/// Middleware on every route: 429 for an address that spent its budget of
/// failed authentications, or of requests without credentials.
pub async fn guard(State(app): State<crate::app::App>, req: Request, next: Next) -> Response {
    let ip = client_ip(&req);
    if app.auth_failures.blocked(ip, Instant::now()) {
        return Error::RateLimited.into_response();
    }
    let probe = matches!(req.uri().path(), "/healthz" | "/readyz");
    if !probe
        && !req.headers().contains_key(AUTHORIZATION)
        && !app.limiter.allow(format!("anonymous:{ip}"), ANONYMOUS_PER_IP)
    {
        return Error::RateLimited.into_response();
    }
    next.run(req).await
}

/// Middleware: 429 when the client or the link is over budget.
pub async fn limit(State(app): State<crate::app::App>, req: Request, next: Next) -> Response {
    let ip = client_ip(&req);
    let link = req.uri().path().split('/').find(|s| s.len() == 22).unwrap_or("").to_owned();
    let limiter = &app.limiter;
    if !limiter.allow(format!("ip:{ip}"), PER_IP)
        || (!link.is_empty() && !limiter.allow(format!("link:{link}"), PER_LINK))
    {
        return Error::RateLimited.into_response();
    }
    next.run(req).await
}
