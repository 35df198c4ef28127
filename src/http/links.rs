//! `/v1/links` (creators), `/l/{id}` (the page) and `/v1/public/links`
//! (the page's one-time actions).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use rand::RngCore;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Meta, RawJson, object, or_refuse, parse_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::domain::account::Email;
use crate::domain::ids::{AccountId, Half};
use crate::domain::links::Purpose;
use crate::error::Error;
use crate::http::error::ErrorBody;
use crate::vault::{CreatedLink, LinkSecret, LinkView, NewLink, log_hash};

const PAGE: &str = include_str!("web/link.html");

/// Whom a link is for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LinkRecipient)]
struct Recipient {
    name: String,
    email: Email,
}

/// A one-time link to make (DESIGN §8).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LinkCreate)]
struct CreateBody {
    purpose: Purpose,
    account_id: AccountId,
    half: Half,
    #[serde(deserialize_with = "object")]
    recipient: Recipient,
    /// Default 24 h, at most 7 days.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10080, example = 1440)]
    ttl_minutes: Option<u32>,
    /// Asked for before the link opens (5 attempts).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    passphrase: Option<SecretString>,
    /// For a deliver link: the approved request whose release it is.
    #[serde(default)]
    #[schema(example = "req_0123456789abcdef0123456789abcdef")]
    request_id: Option<String>,
}

/// Make a one-time link: `deliver` (the recipient of an approved request's
/// half) or `collect` (a custodian or the admin of the org that holds the
/// half). A deliver link's `url` carries its key in the fragment, shown once.
#[utoipa::path(post, path = "/v1/links", operation_id = "create_link", tag = "links", security(("bearer" = [])),
    request_body = CreateBody,
    responses(
        (status = 201, description = "The link; `url` is shown this once.", body = CreatedLink),
        (status = 401, description = "No valid token, or `reauthentication_required` for a deliver link.", body = ErrorBody),
        (status = 403, description = "Not allowed to make this link.", body = ErrorBody),
        (status = 404, description = "Unknown or invisible account or request.", body = ErrorBody),
        (status = 409, description = "`four_eyes_violation`, `request_not_approved`, `nothing_in_custody`, a hand-off in progress.", body = ErrorBody),
        (status = 410, description = "The request's window closed or its views are used.", body = ErrorBody),
    ))]
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

/// A link's read receipt: `pending`, `opened`, `expired`, `revoked` or
/// `burned` (its creator).
#[utoipa::path(get, path = "/v1/links/{id}", operation_id = "show_link", tag = "links", security(("bearer" = [])),
    responses((status = 200, description = "The link's state; never its secret or key.", body = LinkView)))]
pub async fn show(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
) -> Result<Json<LinkView>, Error> {
    Ok(Json(app.vault.link(&caller, &http, id).await?))
}

/// Revoke a link (its creator).
#[utoipa::path(delete, path = "/v1/links/{id}", operation_id = "revoke_link", tag = "links", security(("bearer" = [])),
    responses(
        (status = 200, description = "The link, `revoked`.", body = LinkView),
        (status = 410, description = "Already used, expired or revoked.", body = ErrorBody),
    ))]
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

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LinkOpen)]
struct OpenBody {
    /// The link's passphrase, when it has one.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    passphrase: Option<SecretString>,
}

/// What opening a deliver link yields: the payload, sealed under the key
/// that only the link's URL fragment holds.
#[derive(Serialize, ToSchema)]
pub struct OpenedLink {
    /// base64url of nonce ‖ AES-256-GCM ciphertext; the page decrypts it.
    ciphertext: String,
}

/// Open a deliver link, once (the page's button; the link id in the path is
/// the capability). Atomic: two racing opens yield one ciphertext and one 410.
#[utoipa::path(post, path = "/v1/public/links/{id}/open", operation_id = "open_link", tag = "public links",
    request_body(content = Option<OpenBody>, description = "Optional: none, or `{\"passphrase\": …}`."),
    responses(
        (status = 200, description = "The sealed payload, once.", body = OpenedLink),
        (status = 403, description = "`wrong_passphrase` (the fifth burns the link).", body = ErrorBody),
        (status = 409, description = "`wrong_link_purpose`, `half_changed`, `link_void`.", body = ErrorBody),
        (status = 410, description = "`link_used`, `link_expired`, `link_revoked`, `link_burned`.", body = ErrorBody),
    ))]
pub async fn open(
    State(app): State<App>,
    Meta(http): Meta,
    Path(id): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<OpenedLink>, Error> {
    let draft = || {
        let target = Target { link_id_hash: Some(log_hash(&id)), ..Target::default() };
        EventDraft::new(None, Action::LinkOpen, target, &http)
    };
    let b: OpenBody = match body {
        Ok(raw) if raw.0.is_empty() => OpenBody::default(),
        other => or_refuse(&app, draft, parse_body(other)).await?,
    };
    let ciphertext = app.vault.open_link(&http, id, b.passphrase).await?;
    Ok(Json(OpenedLink { ciphertext }))
}

/// What a collect link's recipient submits: `{"password": …}` or
/// `{"otpauth_uri": …}`, and the passphrase when the link has one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LinkSubmit)]
struct SubmitBody {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    otpauth_uri: Option<SecretString>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    passphrase: Option<SecretString>,
}

/// A collect link's receipt.
#[derive(Serialize, ToSchema)]
pub struct SubmittedLink {
    received: bool,
    /// The half's new version.
    version: u32,
}

/// Submit a password or otpauth URI through a collect link, once; it
/// becomes a new version of the link's half.
#[utoipa::path(post, path = "/v1/public/links/{id}/submit", operation_id = "submit_link", tag = "public links",
    request_body = SubmitBody,
    responses(
        (status = 200, description = "Stored as a new version.", body = SubmittedLink),
        (status = 403, description = "`wrong_passphrase` (the fifth burns the link).", body = ErrorBody),
        (status = 409, description = "`wrong_link_purpose`, `half_changed`, `link_void`, `four_eyes_violation`.", body = ErrorBody),
        (status = 410, description = "`link_used`, `link_expired`, `link_revoked`, `link_burned`.", body = ErrorBody),
    ))]
pub async fn submit(
    State(app): State<App>,
    Meta(http): Meta,
    Path(id): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<SubmittedLink>, Error> {
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
    Ok(Json(SubmittedLink { received: true, version }))
}
