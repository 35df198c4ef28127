//! `/v1/accounts/{id}/subscribers`: webhook subscribers per account and org.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts::account_id;
use super::extract::{Meta, RawJson, or_refuse, parse_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::error::Error;
use crate::http::error::ErrorBody;
use crate::store::outbox::Subscriber;
use crate::vault::NewSubscriber;

/// A webhook subscriber to add.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SubscriberCreate)]
struct CreateBody {
    /// An https URL with a public address (any URL in dev mode).
    #[schema(example = "https://hooks.example.com/rootvault")]
    url: String,
    /// Event names to receive; empty or absent means all.
    #[serde(default)]
    events: Vec<String>,
}

/// A webhook subscriber as its org's admins see it (never its secret).
#[derive(Serialize, ToSchema)]
#[schema(as = Subscriber)]
pub struct ApiSubscriber {
    id: String,
    account_id: String,
    org: String,
    url: String,
    events: Vec<String>,
    created_at: String,
    created_by: String,
}

impl From<Subscriber> for ApiSubscriber {
    fn from(s: Subscriber) -> Self {
        let Subscriber { id, account_id, org, url, events, created_at, created_by } = s;
        Self { id, account_id, org, url, events, created_at, created_by }
    }
}

/// A new subscriber, with the secret that signs its deliveries, shown once.
#[derive(Serialize, ToSchema)]
pub struct NewSubscriberView {
    id: String,
    account_id: String,
    org: String,
    url: String,
    events: Vec<String>,
    created_at: String,
    created_by: String,
    /// The HMAC-SHA256 signing secret; shown this once.
    secret: String,
}

impl NewSubscriberView {
    fn new(subscriber: Subscriber, secret: String) -> Self {
        let Subscriber { id, account_id, org, url, events, created_at, created_by } = subscriber;
        Self { id, account_id, org, url, events, created_at, created_by, secret }
    }
}

/// Subscribe a URL to the account's events (admins of a party org).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/subscribers", operation_id = "create_subscriber", tag = "webhooks",
    security(("bearer" = [])), request_body = CreateBody,
    responses(
        (status = 201, description = "The subscriber and its secret, once.", body = NewSubscriberView),
        (status = 403, description = "Not an admin of a party org.", body = ErrorBody),
        (status = 409, description = "`too_many_subscribers`: at most 10 per org and account.", body = ErrorBody),
    ))]
pub async fn create(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<(StatusCode, Json<NewSubscriberView>), Error> {
    let id = account_id(&app, &caller, &http, Action::SubscriberCreate, &raw).await?;
    let draft = || EventDraft::new(Some(&caller.principal), Action::SubscriberCreate, Target::account(&id), &http);
    let b: CreateBody = or_refuse(&app, draft, parse_body(body)).await?;
    let NewSubscriber { subscriber, secret } = app.vault.add_subscriber(&caller, &http, id, b.url, b.events).await?;
    let secret = secrecy::ExposeSecret::expose_secret(&secret).to_owned();
    Ok((StatusCode::CREATED, Json(NewSubscriberView::new(subscriber, secret))))
}

#[derive(Serialize, ToSchema)]
pub struct SubscriberList {
    subscribers: Vec<ApiSubscriber>,
}

/// The caller's org's subscribers to the account (its admins).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/subscribers", operation_id = "list_subscribers", tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscribers.", body = SubscriberList),
        (status = 403, description = "Not an admin of a party org.", body = ErrorBody),
    ))]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<SubscriberList>, Error> {
    let id = account_id(&app, &caller, &http, Action::SubscriberList, &raw).await?;
    let subscribers = app.vault.subscribers(&caller, &http, id).await?;
    Ok(Json(SubscriberList { subscribers: subscribers.into_iter().map(ApiSubscriber::from).collect() }))
}

/// Remove a subscriber (its org's admins).
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/subscribers/{subscriber_id}", operation_id = "remove_subscriber", tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed."),
        (status = 403, description = "Not an admin of the subscriber's org.", body = ErrorBody),
    ))]
pub async fn remove(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path((raw, sub_id)): Path<(String, String)>,
) -> Result<StatusCode, Error> {
    let id = account_id(&app, &caller, &http, Action::SubscriberDelete, &raw).await?;
    app.vault.remove_subscriber(&caller, &http, id, sub_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
