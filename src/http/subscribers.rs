//! `/v1/accounts/{id}/subscribers`: webhook subscribers per account and org.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::accounts::account_id;
use super::extract::{Meta, RawJson, or_refuse, parse_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::error::Error;
use crate::store::outbox::Subscriber;
use crate::vault::NewSubscriber;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    url: String,
    /// Event names to receive; empty or absent means all.
    #[serde(default)]
    events: Vec<String>,
}

pub async fn create(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<(StatusCode, Json<NewSubscriber>), Error> {
    let id = account_id(&app, &caller, &http, Action::SubscriberCreate, &raw).await?;
    let draft = || EventDraft::new(Some(&caller.principal), Action::SubscriberCreate, Target::account(&id), &http);
    let b: CreateBody = or_refuse(&app, draft, parse_body(body)).await?;
    let created = app.vault.add_subscriber(&caller, &http, id, b.url, b.events).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Serialize)]
pub struct SubscriberList {
    subscribers: Vec<Subscriber>,
}

pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<SubscriberList>, Error> {
    let id = account_id(&app, &caller, &http, Action::SubscriberList, &raw).await?;
    Ok(Json(SubscriberList { subscribers: app.vault.subscribers(&caller, &http, id).await? }))
}

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
