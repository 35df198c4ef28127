//! Fixed-window rate limits for the public link endpoints.
//!
//! Per client address and per link, so neither one noisy client nor a
//! distributed guesser hammering one link gets far. Counters live in memory
//! behind a std `Mutex` (the critical section is a map update, never held
//! across an `.await`); windows are one minute.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::Error;

const WINDOW: Duration = Duration::from_secs(60);
/// Requests one client address may make to public link endpoints per window.
pub const PER_IP: u32 = 300;
/// Requests one link may receive per window.
pub const PER_LINK: u32 = 60;
/// Counters kept before old windows are swept.
const SWEEP_AT: usize = 10_000;

#[derive(Debug, Default)]
pub struct Limiter {
    counters: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Limiter {
    /// Count one hit for `key`; false once the window's budget is spent.
    fn allow(&self, key: String, budget: u32) -> bool {
        let now = Instant::now();
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        if counters.len() > SWEEP_AT {
            counters.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = counters.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= budget
    }
}

/// Middleware: 429 when the client or the link is over budget.
pub async fn limit(State(app): State<crate::app::App>, req: Request, next: Next) -> Response {
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_default();
    let link = req.uri().path().split('/').find(|s| s.len() == 22).unwrap_or("").to_owned();
    let limiter = &app.limiter;
    if !limiter.allow(format!("ip:{ip}"), PER_IP)
        || (!link.is_empty() && !limiter.allow(format!("link:{link}"), PER_LINK))
    {
        return Error::RateLimited.into_response();
    }
    next.run(req).await
}
