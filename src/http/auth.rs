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
use serde::Deserialize;
use serde_json::{Value, json};

use super::console::{page, problem, refusal_page, to_provider};
use super::extract::{Meta, RawJson, bearer_token, parse_body};
use crate::app::App;
use crate::auth::Caller;
use crate::error::Error;
use crate::vault::CliStart;

const START_PARAMS: [&str; 5] = ["org", "port", "code_challenge", "state", "redirect_uri"];

/// `GET /v1/auth/cli/start?org&port&code_challenge&state[&redirect_uri]`.
/// Without `org`, the person first chooses one.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    code: SecretString,
    code_verifier: SecretString,
}

/// `POST /v1/auth/cli/token` `{code, code_verifier}`.
pub async fn cli_token(
    State(app): State<App>,
    Meta(http): Meta,
    body: Result<RawJson, Error>,
) -> Result<Json<Value>, Error> {
    let body: TokenBody = parse_body(body)?;
    let issued = app.vault.cli_token(&http, body.code.expose_secret(), body.code_verifier.expose_secret()).await?;
    let who = &issued.identity;
    Ok(Json(json!({
        "token": issued.token.expose_secret(),
        "principal": who.principal.to_string(),
        "roles": who.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "expires_at": crate::vault::rfc3339(issued.expires_at),
    })))
}

/// `GET /v1/auth/whoami`: who the token speaks for.
pub async fn whoami(caller: Caller) -> Json<Value> {
    Json(json!({
        "principal": caller.principal.to_string(),
        "roles": caller.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "auth_time": caller.auth_time.map(crate::vault::rfc3339),
    }))
}

/// `POST /v1/auth/logout`: end the session of a service token.
pub async fn logout(
    State(app): State<App>,
    Meta(http): Meta,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Json<Value>, Error> {
    let token = bearer_token(&headers).unwrap_or("");
    if !app.vault.is_service_token(token) {
        return Err(Error::conflict(
            "not_a_session",
            "this token comes from an identity provider, not from rootvault login: it cannot be signed out, it expires",
        ));
    }
    app.vault.sign_out_token(&caller, &http, token).await?;
    Ok(Json(json!({"signed_out": true})))
}
