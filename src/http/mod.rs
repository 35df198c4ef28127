//! The HTTP API (DESIGN §6): an axum router over the vault.
//!
//! Handlers are thin: they extract the caller and the body, call one vault
//! method and serialize its answer. Errors become responses in `error.rs`.

mod accounts;
mod audit;
mod auth;
pub mod console;
mod dev_idp;
pub mod error;
pub mod extract;
pub mod failures;
mod ha_status;
mod halves;
pub mod html;
mod links;
pub mod metrics;
mod moves;
mod notifications;
mod onboarding;
pub mod openapi;
pub mod ratelimit;
mod requests;
pub mod reverse;
mod root_signins;
pub mod routes;
pub mod server;
mod subscribers;
pub mod sys;

pub use server::{ServerSettings, serve, serve_metrics};

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;

use crate::app::App;
use crate::error::Error;
use crate::ha::forward::{self, Forwarded};
use crate::metrics::Route;
use extract::RequestId;

/// Request bodies above this size are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The largest body a standby forwards: the largest any route takes (the
/// console's QR picture upload); the active node holds each route to its own.
pub const MAX_FORWARD_BODY_BYTES: usize =
    if console::MAX_UPLOAD_BYTES > MAX_BODY_BYTES { console::MAX_UPLOAD_BYTES } else { MAX_BODY_BYTES };

/// The route template a response was produced by, for logs: raw paths may
/// one day carry capability ids, templates never do.
#[derive(Clone)]
struct RouteTemplate(String);

async fn remember_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteTemplate(route));
    }
    response
}

/// Give every request an id, answer with it, mark every response
/// uncacheable, and log one line per request (never bodies or headers).
/// A request a standby forwarded keeps the standby's id and is served
/// under the client's address, once its proof holds
/// (`crate::ha::forward::accept`).
async fn request_context(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let mut id = uuid::Uuid::new_v4().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let started = Instant::now();
    let mut response = match forward::accept(&app, req).await {
        Ok(req) => {
            if let Some(RequestId(forwarded)) = req.extensions().get::<RequestId>() {
                id.clone_from(forwarded);
            }
            next.run(req).await
        }
        Err(refusal) => refusal,
    };
    let (template, forwarded) =
        (response.extensions().get::<RouteTemplate>(), response.extensions().get::<Forwarded>());
    let (route, counted) = match (template, forwarded) {
        (Some(route), _) => (route.0.as_str(), Route::Template(&route.0)),
        (None, Some(Forwarded)) => ("(forwarded to the active node)", Route::Forwarded),
        (None, None) => ("(unmatched)", Route::Unmatched),
    };
    let (status, elapsed) = (response.status().as_u16(), started.elapsed());
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_millis() as u64,
        "request"
    );
    app.vault.metrics().request(&method, counted, status, elapsed);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert("x-request-id", value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// Refuse a path whose percent-decoded bytes are not UTF-8 before routing,
/// so the caller gets the JSON error shape (`invalid_id`) rather than the
/// plain-text rejection of axum's `Path` extractor.
async fn utf8_path(req: Request, next: Next) -> Response {
    if extract::percent_decoded_is_utf8(req.uri().path()) {
        next.run(req).await
    } else {
        axum::response::IntoResponse::into_response(Error::malformed(
            "invalid_id",
            "a path segment is not valid UTF-8 once percent-decoded",
        ))
    }
}

async fn not_found() -> Error {
    Error::NotFound("route")
}

async fn method_not_allowed() -> (axum::http::StatusCode, axum::Json<error::ErrorBody>) {
    let body = error::ErrorBody::new("method_not_allowed", "method not allowed on this path");
    (axum::http::StatusCode::METHOD_NOT_ALLOWED, axum::Json(body))
}

/// Headers of the public link page and endpoints: no referrer leaves the
/// page, and anything that did not set its own policy gets the strictest.
async fn public_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; base-uri 'none'; frame-ancestors 'none'"),
        );
    }
    response
}

/// `router` with `routes` added.
fn mount(router: Router<App>, routes: Vec<routes::Route>) -> Router<App> {
    routes.into_iter().fold(router, |router, (path, methods)| router.route(path, methods))
}

/// The full router for `app`. Routes under `/v1` come from `routes.rs`
/// only, so the OpenAPI document can be held to them.
pub fn router(app: App) -> Router {
    let public = mount(Router::new().route("/l/{id}", get(links::page)), routes::public_links())
        .route_layer(middleware::from_fn_with_state(app.clone(), ratelimit::limit))
        .layer(middleware::from_fn(public_headers));
    // The dev identity provider exists only in dev mode; elsewhere its
    // paths meet the fallback like any unknown route.
    let dev_idp = match &app.dev_idp {
        Some(idp) => dev_idp::routes(Arc::clone(idp), app.vault.clone()),
        None => Router::new(),
    };
    // Unless `[metrics] on_main_listener = false`: then `/metrics` meets
    // the fallback here and is served only on the metrics listener.
    let scrape = if app.metrics_access.on_main_listener {
        Router::new().route("/metrics", get(metrics::scrape))
    } else {
        Router::new()
    };
    let site = Router::new()
        .merge(public)
        .merge(console::routes())
        .merge(dev_idp)
        .merge(scrape)
        .route("/healthz", get(sys::healthz))
        .route("/readyz", get(sys::readyz));
    mount(site, routes::api())
        .route_layer(middleware::from_fn(remember_route))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(utf8_path))
        .layer(middleware::from_fn_with_state(app.clone(), ratelimit::guard))
        // A standby forwards before any limit: the active node counts
        // every client's requests, under the client's own address.
        .layer(middleware::from_fn_with_state(app.clone(), forward::to_active))
        .layer(middleware::from_fn_with_state(app.clone(), request_context))
        .with_state(app)
}
