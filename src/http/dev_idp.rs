//! The dev identity provider's HTTP face (`/dev/idp/{org}/…`, dev mode
//! only): thin handlers over `crate::auth::dev_idp`, and its two pages.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, PRAGMA, REFERRER_POLICY,
    WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::html::escape;
use crate::app::App;
use crate::auth::dev_idp::{AuthorizeError, DevIdp, OrgIdp, Params, Picker, TokenError};
use crate::error::Error;
use crate::vault::{Vault, unix_now};

/// The pages' policy. It deliberately has no `form-action`: the picker's
/// POST is answered by a redirect to the relying party's callback, which
/// redirects on (for `rootvault login`, to the CLI's loopback listener on
/// another port), and browsers apply `form-action` to every hop of that
/// chain.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Debug, Clone)]
struct IdpState {
    idp: Arc<DevIdp>,
    vault: Vault,
}

impl IdpState {
    fn org(&self, org: &str) -> Result<OrgIdp<'_>, Error> {
        self.idp.org(org).ok_or(Error::NotFound("identity provider"))
    }
}

/// The provider's routes; merged into the router only in dev mode.
pub fn routes(idp: Arc<DevIdp>, vault: Vault) -> Router<App> {
    Router::new()
        .route("/dev/idp/{org}/.well-known/openid-configuration", get(discovery))
        .route("/dev/idp/{org}/jwks", get(jwks))
        .route("/dev/idp/{org}/authorize", get(authorize).post(pick))
        .route("/dev/idp/{org}/token", axum::routing::post(token))
        .with_state(IdpState { idp, vault })
}

async fn discovery(State(state): State<IdpState>, Path(org): Path<String>) -> Result<Response, Error> {
    Ok(Json(state.org(&org)?.discovery(&state.vault.public_url())).into_response())
}

async fn jwks(State(state): State<IdpState>, Path(org): Path<String>) -> Result<Response, Error> {
    Ok(Json(state.org(&org)?.jwks()).into_response())
}

async fn authorize(
    State(state): State<IdpState>,
    Path(org): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Error> {
    let provider = state.org(&org)?;
    Ok(match provider.authorize(&state.vault.public_url(), query.as_deref().unwrap_or(""), unix_now()) {
        Ok(picker) => page(StatusCode::OK, &picker_page(&provider, &picker)),
        Err(AuthorizeError::Page(why)) => error_page(&provider, why),
        Err(AuthorizeError::Redirect(url)) => see_other(url.as_str()),
    })
}

async fn pick(State(state): State<IdpState>, Path(org): Path<String>, body: String) -> Result<Response, Error> {
    let provider = state.org(&org)?;
    let Ok(form) = Params::parse(&body) else {
        return Ok(error_page(&provider, "a field appears more than once"));
    };
    let (Some(request), Some(sub)) = (form.get("request"), form.get("sub")) else {
        return Ok(error_page(&provider, "pick a person"));
    };
    Ok(match provider.pick(&state.vault.public_url(), request, sub, unix_now()) {
        Ok(url) => see_other(url.as_str()),
        Err(e) => error_page(&provider, &e.to_string()),
    })
}

async fn token(
    State(state): State<IdpState>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, Error> {
    let provider = state.org(&org)?;
    // A header that is not text is no credential the client could mean.
    let authorization = match headers.get(AUTHORIZATION).map(|v| v.to_str()) {
        Some(Err(_)) => Err(TokenError::InvalidClient),
        Some(Ok(value)) => Ok(Some(value)),
        None => Ok(None),
    };
    let answer = authorization
        .and_then(|authorization| provider.token(&state.vault.public_url(), authorization, &body, unix_now()));
    let mut response = match answer {
        Ok(tokens) => Json(tokens).into_response(),
        Err(e) => token_error(&e),
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// RFC 6749 §5.2: 400, or 401 with a challenge for a failed client.
fn token_error(e: &TokenError) -> Response {
    let status = match e {
        TokenError::InvalidClient => StatusCode::UNAUTHORIZED,
        TokenError::Server => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = serde_json::json!({"error": e.code(), "error_description": e.description()});
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"rootvault dev\""));
    }
    response
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(LOCATION, value)]).into_response(),
        // A serialized URL is ASCII; should one ever not be, say so plainly.
        Err(_) => Error::Internal("redirect target is not a header value".into()).into_response(),
    }
}

fn page(status: StatusCode, html: &str) -> Response {
    let mut response = (status, html.to_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The frame of both pages: title, heading, the not-for-production warning.
fn frame(provider: &OrgIdp<'_>, body: &str) -> String {
    let org = escape(provider.name().as_str());
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Dev identity provider of {org} (not for production)</title>\n\
         <link rel=\"stylesheet\" href=\"/assets/console.css\">\n</head>\n<body>\n<main>\n\
         <h1>Dev identity provider of {org}</h1>\n\
         <p>This sign-in page belongs to <code>rootvault dev</code>: anyone may pick anyone. \
         It is not for production.</p>\n{body}</main>\n</body>\n</html>\n"
    )
}

fn picker_page(provider: &OrgIdp<'_>, picker: &Picker) -> String {
    let org = escape(provider.name().as_str());
    let mut people = String::new();
    for person in &picker.people {
        let sub = escape(person.sub);
        let roles = person.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
        people.push_str(&format!(
            "<li><button type=\"submit\" name=\"sub\" value=\"{sub}\" data-action=\"pick-person\">{sub}</button> \
             <span>{roles}</span>: <span>{about}</span></li>\n",
            roles = escape(&roles),
            about = escape(person.about),
        ));
    }
    frame(
        provider,
        &format!(
            "<p>Sign in as one of {org}'s demo people:</p>\n\
             <form method=\"post\" action=\"/dev/idp/{org}/authorize\">\n\
             <input type=\"hidden\" name=\"request\" value=\"{request}\">\n<ul>\n{people}</ul>\n</form>\n",
            request = escape(picker.request.as_str()),
        ),
    )
}

fn error_page(provider: &OrgIdp<'_>, why: &str) -> Response {
    let body = format!("<p data-field=\"error\">The sign-in request was refused: {}.</p>\n", escape(why));
    page(StatusCode::BAD_REQUEST, &frame(provider, &body))
}
