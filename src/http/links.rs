//! `/v1/links` (creators), `/l/{id}` (the page) and `/v1/public/links`
//! (the page's one-time actions).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use rand::RngCore;
use secrecy::SecretString;
use serde::Deserialize;

use super::extract::{Meta, RawJson, or_refuse, parse_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::domain::account::Email;
use crate::domain::ids::{AccountId, Half};
use crate::domain::links::Purpose;
use crate::error::Error;
use crate::vault::{CreatedLink, LinkSecret, LinkView, NewLink, log_hash};

const PAGE: &str = include_str!("web/link.html");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Recipient {
    name: String,
    email: Email,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    purpose: Purpose,
    account_id: AccountId,
    half: Half,
    recipient: Recipient,
    #[serde(default)]
    ttl_minutes: Option<u32>,
    #[serde(default)]
    passphrase: Option<SecretString>,
    #[serde(default)]
    request_id: Option<String>,
}

pub async fn create(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    body: Result<RawJson, Error>,
) -> Result<(StatusCode, Json<CreatedLink>), Error> {
    let draft = || EventDraft::new(Some(&caller.principal), Action::LinkCreate, Target::default(), &http);
    let b: CreateBody = or_refuse(&app, draft, parse_body(body)).await?;
    let new = NewLink {
        purpose: b.purpose,
        account_id: b.account_id,
        half: b.half,
        recipient_name: b.recipient.name,
        recipient_email: b.recipient.email,
        ttl_minutes: b.ttl_minutes,
        passphrase: b.passphrase,
        request_id: b.request_id,
    };
    Ok((StatusCode::CREATED, Json(app.vault.create_link(&caller, &http, new).await?)))
}

pub async fn show(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
) -> Result<Json<LinkView>, Error> {
    Ok(Json(app.vault.link(&caller, &http, id).await?))
}

pub async fn revoke(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
) -> Result<Json<LinkView>, Error> {
    Ok(Json(app.vault.revoke_link(&caller, &http, id).await?))
}

/// The page a recipient opens. Serving it consumes nothing, so link
/// previews and prefetching bots cannot burn a link.
pub async fn page(State(app): State<App>, Path(id): Path<String>) -> Response {
    let info = match app.vault.link_page(id).await {
        Ok(info) => info,
        Err(e) => {
            let status = super::error::status_of(&e);
            return (status, Html("<!doctype html><title>rootvault</title><p>This link does not exist.</p>"))
                .into_response();
        }
    };
    let mut nonce = [0u8; 18];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let nonce = base64::engine::general_purpose::STANDARD.encode(nonce);
    // JSON inside <script>: escape `<` so no value can close the element.
    let meta = serde_json::to_string(&info).unwrap_or_else(|_| "{}".into()).replace('<', "\\u003c");
    let html = PAGE.replace("{{NONCE}}", &nonce).replace("{{META}}", &meta);
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    let mut response = Html(html).into_response();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    #[serde(default)]
    passphrase: Option<SecretString>,
}

pub async fn open(
    State(app): State<App>,
    Meta(http): Meta,
    Path(id): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<serde_json::Value>, Error> {
    let draft = || {
        let target = Target { link_id_hash: Some(log_hash(&id)), ..Target::default() };
        EventDraft::new(None, Action::LinkOpen, target, &http)
    };
    let b: OpenBody = match body {
        Ok(raw) if raw.0.is_empty() => OpenBody::default(),
        other => or_refuse(&app, draft, parse_body(other)).await?,
    };
    let ciphertext = app.vault.open_link(&http, id, b.passphrase).await?;
    Ok(Json(serde_json::json!({ "ciphertext": ciphertext })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    #[serde(default)]
    password: Option<SecretString>,
    #[serde(default)]
    otpauth_uri: Option<SecretString>,
    #[serde(default)]
    passphrase: Option<SecretString>,
}

pub async fn submit(
    State(app): State<App>,
    Meta(http): Meta,
    Path(id): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<serde_json::Value>, Error> {
    let draft = || {
        let target = Target { link_id_hash: Some(log_hash(&id)), ..Target::default() };
        EventDraft::new(None, Action::LinkSubmit, target, &http)
    };
    let parsed = parse_body::<SubmitBody>(body).and_then(|b| {
        let secret = match (b.password, b.otpauth_uri) {
            (Some(p), None) => LinkSecret::Password(p),
            (None, Some(u)) => LinkSecret::OtpauthUri(u),
            _ => return Err(Error::invalid("invalid_body", "send either {\"password\": …} or {\"otpauth_uri\": …}")),
        };
        Ok((secret, b.passphrase))
    });
    let (secret, passphrase) = or_refuse(&app, draft, parsed).await?;
    let version = app.vault.submit_link(&http, id, secret, passphrase).await?;
    Ok(Json(serde_json::json!({ "received": true, "version": version })))
}
