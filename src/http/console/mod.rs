//! The console for people (DESIGN §13 and §14): server-rendered pages over
//! the same vault use cases as the API. This part holds the sign-in pages,
//! the session and CSRF checks every page shares, and the signed-in start
//! page with my work, and the break-glass request pages.

mod account_actions;
mod account_lifecycle;
mod account_reverse;
mod account_signins;
mod accounts;
mod audit;
mod cookies;
mod home;
mod links;
mod page;
mod qr_upload;
mod releases;
mod request_new;
mod request_page;
mod script;
mod signed;
mod signin;
mod visitor;

pub use qr_upload::MAX_UPLOAD_BYTES;
pub use signed::{CsrfForm, SignedIn};

pub use page::{headers as page_headers, page, problem};
pub use signin::{redirect, refusal_page, secure, signin_path, to_provider};

use axum::Router;
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};

use crate::app::App;
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::error::Error;
use crate::vault::ConsoleSession;

/// The console's routes, with its page headers.
pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(home::home))
        .route("/signin", get(signin::signin_page))
        .route("/signout", post(signin::signout))
        .route("/auth/oidc/{org}/start", get(signin::start))
        .route("/auth/callback", get(signin::callback))
        .route("/auth/reauth", get(signin::reauth))
        .route(page::STYLESHEET_PATH, get(page::stylesheet))
        .merge(requests_routes())
        .merge(accounts::routes())
        .merge(audit::routes())
        .merge(links::routes())
        .layer(middleware::from_fn(page::headers))
}

/// Break-glass pages: my work's requests, asking, deciding, releases.
fn requests_routes() -> Router<App> {
    Router::new()
        .route("/requests/new", get(request_new::new))
        .route("/requests", post(request_new::create))
        .route("/requests/{id}", get(request_page::show))
        .route("/requests/{id}/approve", post(request_page::approve))
        .route("/requests/{id}/deny", post(request_page::deny))
        .route("/requests/{id}/cancel", post(request_page::cancel))
        .route("/requests/{id}/password", post(releases::password))
        .route("/requests/{id}/mfa-code", post(releases::mfa_code))
        .route(script::SCRIPT_PATH, get(script::script))
}

/// The hidden field every state-changing form of `session` carries.
pub fn csrf_field(session: &ConsoleSession) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(session.csrf_token()); }
}

/// The signed-in part of every page's header: where to go, who, and a
/// sign-out button.
pub fn signed_in(session: &ConsoleSession) -> Markup {
    let auditor = session.caller.has_role(crate::domain::ids::Role::Auditor);
    html! {
        nav aria-label="Console" {
            a href="/" { "My work" }
            a href="/requests/new" { "New request" }
            a href="/accounts" { "Accounts" }
            a href="/links" { "Links" }
            @if auditor { a href="/audit" { "Audit" } }
        }
        span.who {
            span.mono data-field="principal" { (session.caller.principal) }
            " "
            form.inline method="post" action="/signout" {
                (csrf_field(session))
                button.secondary type="submit" data-action="sign-out" { "Sign out" }
            }
        }
    }
}

/// Refuse a state-changing form without this session's CSRF token: 403,
/// recorded as a denied `action`.
pub async fn check_csrf(
    app: &App,
    http: &HttpInfo,
    session: &ConsoleSession,
    token: Option<&str>,
    action: Action,
) -> Result<(), Response> {
    if token.is_some_and(|t| session.secret.csrf_matches(t)) {
        return Ok(());
    }
    let draft = EventDraft::new(Some(&session.caller.principal), action, Target::default(), http)
        .detail("problem", "missing or wrong CSRF token");
    let refusal = Error::forbidden("csrf", "this form is missing its security token: reload the page and try again");
    let e = app.vault.refuse(draft, refusal).await;
    Err(page::problem(crate::http::error::status_of(&e), "Form refused", &e.to_string()))
}
