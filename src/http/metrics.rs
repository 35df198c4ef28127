//! `GET /metrics` (docs/metrics.md): the service's Prometheus metrics, for
//! provider admins' bearer tokens on the main listener, and for anyone who
//! reaches the separate metrics listener (`[metrics] listen`), which serves
//! nothing else.
//!
//! Like `GET /v1/sys/ha-status`, a scrape is not an audit event: it touches
//! no account, half, request, link, custody or seal (DESIGN §7), and every
//! node answers it itself, standbys included (`crate::ha::forward`), which
//! cannot append to the log. A token that fails verification is still
//! recorded (`auth.fail`) by the caller extractor, where the log can be
//! written.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::App;
use crate::auth::Caller;
use crate::domain::ids::Role;
use crate::error::Error;
use crate::metrics::{CONTENT_TYPE, Snapshot};

/// The scrape on the main listener: provider admins only.
pub async fn scrape(State(app): State<App>, caller: Caller) -> Result<Response, Error> {
    if !app.vault.orgs().is_provider(&caller.principal.org) || !caller.has_role(Role::Admin) {
        return Err(Error::forbidden("forbidden", "only the provider's admins read the metrics"));
    }
    Ok(open_scrape(State(app)).await)
}

/// The scrape on the metrics listener, which only those who may read the
/// metrics can reach.
async fn open_scrape(State(app): State<App>) -> Response {
    let text = app.vault.metrics().render(&Snapshot::take(&app).await);
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The metrics listener's routes: `GET /metrics` and nothing else.
pub fn listener_routes(app: App) -> Router {
    Router::new().route("/metrics", get(open_scrape)).fallback(super::not_found).with_state(app)
}
