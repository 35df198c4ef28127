//! `/v1/auth`: what `rootvault login`, `whoami` and `logout` talk to
//! (docs/signin.md). `cli/start` is opened in the person's browser and
//! answers with redirects and pages; the rest is JSON.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::html;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::console::{page, problem, refusal_page, to_provider};
use super::extract::{Meta, RawJson, bearer_token, parse_body};
use crate::app::App;
use crate::auth::Caller;
use crate::error::Error;
use crate::http::error::ErrorBody;
use crate::vault::CliStart;

const START_PARAMS: [&str; 5] = ["org", "port", "code_challenge", "state", "redirect_uri"];

/// `GET /v1/auth/cli/start?org&port&code_challenge&state[&redirect_uri]`.
/// Without `org`, the person first chooses one.
#[utoipa::path(get, path = "/v1/auth/cli/start", operation_id = "cli_start", tag = "auth",
    description = "Opened by `rootvault login` in the person's browser: redirects to the org's identity \
        provider (PKCE S256, `state`), then back to the CLI's loopback callback. Without `org`, an HTML page \
        offers the orgs. Answers are HTML pages and redirects, not JSON.",
    params(
        ("org" = Option<String>, Query, description = "The org to sign in with."),
        ("port" = Option<u16>, Query, minimum = 1024, description = "The CLI's loopback port for the callback."),
        ("code_challenge" = Option<String>, Query, description = "PKCE S256 challenge."),
        ("state" = Option<String>, Query, description = "The CLI's state, returned to its callback."),
        ("redirect_uri" = Option<String>, Query, description = "`http://127.0.0.1:PORT/callback`, when given."),
    ),
    responses(
        (status = 200, description = "The org chooser.", content_type = "text/html", body = String),
        (status = 303, description = "To the identity provider."),
        (status = 400, description = "A refused parameter (HTML page).", content_type = "text/html", body = String),
        (status = 404, description = "Unknown org (HTML page).", content_type = "text/html", body = String),
    ))]
pub async fn cli_start(
    State(app): State<App>,
    Meta(http): Meta,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(unknown) = query.keys().find(|k| !START_PARAMS.contains(&k.as_str())) {
        let message = format!("unknown parameter {unknown:?}; rootvault login sends only {}", START_PARAMS.join(", "));
        return problem(axum::http::StatusCode::BAD_REQUEST, "Sign-in refused", &message);
    }
    let get = |k: &str| query.get(k).map(String::as_str).unwrap_or("");
    // A port the CLI cannot listen on is refused before the org chooser
    // carries it on.
    if query.get("port").is_some_and(|p| p.parse().ok().and_then(crate::domain::session::cli_port).is_none()) {
        let message = crate::domain::session::CliStartError::Port.to_string();
        return problem(axum::http::StatusCode::BAD_REQUEST, "Sign-in refused", &message);
    }
    let Some(org) = query.get("org").filter(|o| !o.is_empty()) else {
        return choose_org(&app, &query);
    };
    let start = CliStart {
        org,
        port: get("port").parse().unwrap_or(0),
        code_challenge: get("code_challenge"),
        state: get("state"),
        redirect_uri: query.get("redirect_uri").map(String::as_str),
    };
    match app.vault.begin_cli_signin(&http, start).await {
        Err(e) => refusal_page(&e),
        started => to_provider(&app, started),
    }
}

/// The org chooser of a CLI sign-in started without `--org`.
fn choose_org(app: &App, query: &HashMap<String, String>) -> Response {
    let link = |org: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in query {
            q.append_pair(k, v);
        }
        q.append_pair("org", org);
        format!("/v1/auth/cli/start?{}", q.finish())
    };
    let orgs = app.vault.signin_orgs();
    let body = html! {
        h1 { "Sign in the command line" }
        p.muted { "Choose your organisation; its identity provider asks who you are." }
        ul.choices {
            @for org in &orgs { li { a.button data-action="sign-in" data-org=(org) href=(link(org.as_str())) { (org) } } }
        }
    };
    page("Sign in", None, body).into_response()
}

/// The CLI's exchange of its code and PKCE verifier.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CliTokenRequest)]
struct TokenBody {
    #[schema(value_type = String)]
    code: SecretString,
    #[schema(value_type = String)]
    code_verifier: SecretString,
}

/// A service-issued token for `rootvault login`.
#[derive(Serialize, ToSchema)]
#[schema(as = CliTokenResponse)]
pub struct IssuedToken {
    /// A JWT signed by the service; its session ends at `logout`.
    token: String,
    principal: String,
    roles: Vec<&'static str>,
    expires_at: String,
}

/// `POST /v1/auth/cli/token` `{code, code_verifier}`.
#[utoipa::path(post, path = "/v1/auth/cli/token", operation_id = "cli_token", tag = "auth", request_body = TokenBody,
    responses(
        (status = 200, description = "The token, once.", body = IssuedToken),
        (status = 400, description = "`invalid_grant`: an unknown, used or expired code, or a verifier that does not match.", body = ErrorBody),
    ))]
pub async fn cli_token(
    State(app): State<App>,
    Meta(http): Meta,
    body: Result<RawJson, Error>,
) -> Result<Json<IssuedToken>, Error> {
    let body: TokenBody = parse_body(body)?;
    let issued = app.vault.cli_token(&http, body.code.expose_secret(), body.code_verifier.expose_secret()).await?;
    let who = &issued.identity;
    Ok(Json(IssuedToken {
        token: issued.token.expose_secret().to_owned(),
        principal: who.principal.to_string(),
        roles: who.roles.iter().map(|r| r.as_str()).collect(),
        expires_at: crate::vault::rfc3339(issued.expires_at),
    }))
}

/// Who a token speaks for.
#[derive(Serialize, ToSchema)]
pub struct Whoami {
    #[schema(example = "acme/sam")]
    principal: String,
    roles: Vec<&'static str>,
    /// When the person last signed in, if the token says (RFC 3339).
    auth_time: Option<String>,
}

/// `GET /v1/auth/whoami`: who the token speaks for.
#[utoipa::path(get, path = "/v1/auth/whoami", operation_id = "whoami", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The caller.", body = Whoami)))]
pub async fn whoami(caller: Caller) -> Json<Whoami> {
    Json(Whoami {
        principal: caller.principal.to_string(),
        roles: caller.roles.iter().map(|r| r.as_str()).collect(),
        auth_time: caller.auth_time.map(crate::vault::rfc3339),
    })
}

/// The end of a session.
#[derive(Serialize, ToSchema)]
pub struct SignedOut {
    signed_out: bool,
}

/// `POST /v1/auth/logout`: end the session of a service token.
#[utoipa::path(post, path = "/v1/auth/logout", operation_id = "logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The session is over; the token no longer works.", body = SignedOut),
        (status = 409, description = "`not_a_session`: an identity provider's token cannot be signed out.", body = ErrorBody),
    ))]
pub async fn logout(
    State(app): State<App>,
    Meta(http): Meta,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Json<SignedOut>, Error> {
    let token = bearer_token(&headers).unwrap_or("");
    if !app.vault.is_service_token(token) {
        return Err(Error::conflict(
            "not_a_session",
            "this token comes from an identity provider, not from rootvault login: it cannot be signed out, it expires",
        ));
    }
    app.vault.sign_out_token(&caller, &http, token).await?;
    Ok(Json(SignedOut { signed_out: true }))
}
