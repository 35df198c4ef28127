//! Releases on a request's page, to its named recipients only: reveal the
//! password (`POST /requests/{id}/password`) and get an MFA code
//! (`POST /requests/{id}/mfa-code`, also as JSON for the page's own
//! refresh). Every answer is a release through the vault, audited like
//! any; a secret appears only in the answer to its POST, never in a URL.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use secrecy::ExposeSecret;

use super::csrf_field;
use super::page::page;
use super::request_page::{refused, request_href};
use super::script::SCRIPT_PATH;
use super::signed::{CsrfForm, SignedIn};
use super::signed_in;
use crate::app::App;

/// The console's policy plus this origin's script (and, for the code's
/// refresh, fetches to this origin): only release pages run JavaScript.
const CSP_WITH_SCRIPT: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; \
                               img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn with_script(who: &SignedIn, title: &str, body: Markup) -> Response {
    let body = html! { (body) script src=(SCRIPT_PATH) {} };
    let mut response = page(title, Some(signed_in(&who.session)), body).into_response();
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP_WITH_SCRIPT));
    response
}

/// `POST /requests/{id}/password`: the password, once per view.
pub async fn password(State(app): State<App>, Path(id): Path<String>, form: CsrfForm) -> Response {
    let who = &form.who;
    let released = match app.vault.release_password(who.caller(), &who.http, id.clone()).await {
        Ok(r) => r,
        Err(e) => return refused(&app, who, id, e, None).await,
    };
    let body = html! {
        h1 { "Password" }
        p.box.secret.mono data-field="password" { (released.password.expose_secret()) }
        p { button.secondary type="button" data-action="copy" data-copy="password" hidden { "Copy" } }
        p { "Version " (released.version) ". Views left: " span data-field="views-left" { (released.views_left) } "." }
        p.muted { "Leave this page when you are done: it is not stored, and reloading it does not show the password again. The password is now due for rotation." }
        p { a href=(request_href(&id)) { "Back to the request" } }
    };
    with_script(who, "Password", body)
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"))
}

/// `POST /requests/{id}/mfa-code`: the current code and how long it lasts;
/// as JSON (`{code, valid_for_seconds}`) when asked with
/// `Accept: application/json`, which the page's script does each period.
pub async fn mfa_code(State(app): State<App>, Path(id): Path<String>, headers: HeaderMap, form: CsrfForm) -> Response {
    let who = &form.who;
    let released = app.vault.release_mfa_code(who.caller(), &who.http, id.clone()).await;
    if wants_json(&headers) {
        // Step-up here is the API's 401; the page's script then sends the
        // browser to step-up itself.
        return match released {
            Ok(r) => Json(r).into_response(),
            Err(e) => e.into_response(),
        };
    }
    let code = match released {
        Ok(r) => r,
        Err(e) => return refused(&app, who, id, e, None).await,
    };
    let href = request_href(&id);
    let body = html! {
        h1 { "MFA code" }
        p.box.secret.mono data-field="mfa-code" aria-live="polite" { (code.code.expose_secret()) }
        p { span data-field="seconds-left" data-seconds=(code.valid_for_seconds) { (code.valid_for_seconds) } " seconds left." }
        p.box.error data-field="error" role="alert" hidden {}
        form.stack method="post" action=(format!("{href}/mfa-code")) data-refresh="mfa-code" {
            (csrf_field(&who.session))
            button type="submit" data-action="mfa-code" { "Get the next code" }
        }
        p.muted { "Each code is a release recorded in the audit log. With JavaScript the code renews itself while the window lasts." }
        p { a href=(href) { "Back to the request" } }
    };
    with_script(who, "MFA code", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_json_accept_header_gets_json() {
        let mut h = HeaderMap::new();
        assert!(!wants_json(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(wants_json(&h));
    }
}
