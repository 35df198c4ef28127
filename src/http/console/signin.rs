//! The browser side of signing in (docs/signin.md): the sign-in page, the
//! start of a flow, the provider's callback, step-up and sign-out. Thin:
//! every rule is in `crate::vault` (signin) and `crate::domain::session`.

use std::collections::HashMap;
use std::time::Duration;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::page::{page, problem};
use super::visitor::Visitor;
use super::{cookies, signed_in};
use crate::app::App;
use crate::auth::secret::Secret;
use crate::error::Error;
use crate::http::extract::Meta;
use crate::vault::{SigninDone, SigninStart};

/// A 303 to `location`, setting `cookies`.
pub fn redirect(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Whether cookies must be `Secure` (the service is reached over https).
pub fn secure(app: &App) -> bool {
    app.vault.public_url().starts_with("https://")
}

/// `/signin?return_to=…`, percent-encoded.
pub fn signin_path(return_to: &str) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    url.append_pair("return_to", return_to);
    format!("/signin?{}", url.finish())
}

/// A vault refusal as a page: sign-in refusals are 400 with their
/// sentence; the rest keep their status with a fixed sentence.
pub fn refusal_page(e: &Error) -> Response {
    let status = crate::http::error::status_of(e);
    match e {
        Error::Malformed { message, .. } => problem(status, "Sign-in refused", message),
        Error::NotFound(_) => problem(status, "Unknown organisation", "No identity provider is configured for it."),
        Error::Sealed => problem(status, "Sealed", "The vault is sealed: sign-in works once it is unsealed."),
        Error::Unavailable(_) => problem(
            status,
            "Identity provider unreachable",
            "The identity provider could not be reached. Try again in a minute.",
        ),
        other => problem(status, "Sign-in failed", &other.to_string()),
    }
}

/// `GET /signin`: the orgs people can sign in to, each a link labelled
/// with its name.
pub async fn signin_page(
    State(app): State<App>,
    visitor: Visitor,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let return_to = crate::domain::session::safe_return_to(query.get("return_to").map(String::as_str));
    let orgs = app.vault.signin_orgs();
    let start = |org: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("return_to", &return_to);
        format!("/auth/oidc/{org}/start?{}", q.finish())
    };
    let body = html! {
        h1 { "Sign in" }
        @if let Some(s) = &visitor.session {
            p.box { "You are signed in as " span.mono { (s.caller.principal) } ". Signing in again replaces that session." }
        }
        @if orgs.is_empty() {
            p.box { "No identity provider is configured. Machines use bearer tokens; see the configuration guide." }
        } @else {
            p.muted { "Choose your organisation; its identity provider asks who you are." }
            ul.choices {
                @for org in &orgs {
                    li { a.button data-action="sign-in" data-org=(org) href=(start(org.as_str())) { (org) } }
                }
            }
        }
    };
    let mut response = page("Sign in", visitor.session.as_ref().map(signed_in), body).into_response();
    if visitor.stale_cookie {
        append_cookie(&mut response, &cookies::clear(cookies::SESSION, secure(&app)));
    }
    response
}

fn append_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Send the browser to the provider with a new pending sign-in.
pub fn to_provider(app: &App, started: Result<SigninStart, Error>) -> Response {
    match started {
        Ok(start) => redirect(&start.provider_url, &[cookies::login(start.browser.expose(), secure(app))]),
        Err(e) => refusal_page(&e),
    }
}

/// `GET /auth/oidc/{org}/start?return_to=…`
pub async fn start(
    State(app): State<App>,
    Path(org): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let started = app.vault.begin_signin(&org, query.get("return_to").map(String::as_str), None, None).await;
    to_provider(&app, started)
}

/// `GET /auth/reauth?return_to=…`: step-up. The provider is asked for a
/// fresh sign-in (`max_age=0`), which the release endpoints then accept.
pub async fn reauth(
    State(app): State<App>,
    visitor: Visitor,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let return_to = query.get("return_to").map(String::as_str);
    let Some(session) = visitor.session else {
        return redirect(&signin_path(&crate::domain::session::safe_return_to(return_to)), &[]);
    };
    let org = session.caller.principal.org.to_string();
    let started = app.vault.begin_signin(&org, return_to, Some(Duration::ZERO), None).await;
    to_provider(&app, started)
}

/// `GET /auth/callback?code=…&state=…` (or `error=…`): the provider sent
/// the browser back. Any further parameters (`iss`, RFC 9207) are ignored:
/// the ID token's issuer is what is checked.
pub async fn callback(
    State(app): State<App>,
    Meta(http): Meta,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| query.get(k).map(String::as_str);
    let browser = cookies::read(&headers, cookies::LOGIN).and_then(|c| Secret::parse(&c));
    let previous = cookies::read(&headers, cookies::SESSION).and_then(|c| Secret::parse(&c));
    let done = app.vault.finish_signin(&http, get("state"), get("code"), get("error"), browser, previous).await;
    let secure = secure(&app);
    let clear_login = cookies::clear(cookies::LOGIN, secure);
    match done {
        Ok(SigninDone::Console { session, return_to }) => {
            redirect(&return_to, &[cookies::session(session.expose(), secure), clear_login])
        }
        Ok(SigninDone::Cli { redirect: to }) => redirect(&to, &[clear_login]),
        Err(e) => {
            let mut response = refusal_page(&e);
            append_cookie(&mut response, &clear_login);
            response
        }
    }
}

/// `POST /signout` with the session's `csrf_token`.
pub async fn signout(
    State(app): State<App>,
    Meta(http): Meta,
    visitor: Visitor,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let secure = secure(&app);
    let Some(session) = visitor.session else {
        return redirect("/signin", &[cookies::clear(cookies::SESSION, secure)]);
    };
    let token = form.as_ref().ok().and_then(|f| f.0.get("csrf_token")).map(String::as_str);
    if let Err(e) = super::check_csrf(&app, &http, &session, token, crate::audit::Action::AuthSignout).await {
        return e;
    }
    match app.vault.sign_out(&session.caller, &http, &session.secret, "oidc").await {
        Ok(()) => redirect("/signin", &[cookies::clear(cookies::SESSION, secure)]),
        Err(e) => problem(crate::http::error::status_of(&e), "Sign-out failed", &e.to_string()),
    }
}
