//! `/v1/requests`: break-glass requests, decisions and releases.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::extract::{Meta, RawJson, or_refuse, parse_body, parse_optional_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::domain::breakglass::{Ask, State as RequestState};
use crate::domain::ids::{AccountId, Principal};
use crate::error::Error;
use crate::vault::{
    CodeRelease, PasswordRelease, REQUEST_LIST_LIMIT, RequestFilter, RequestPage, RequestStep, RequestView,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    account_id: AccountId,
    reason: String,
    #[serde(default)]
    ticket: Option<String>,
    #[serde(default)]
    password_to: Option<Principal>,
    #[serde(default)]
    mfa_to: Option<Principal>,
    #[serde(default)]
    window_minutes: Option<u32>,
}

pub async fn create(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    body: Result<RawJson, Error>,
) -> Result<(StatusCode, Json<RequestView>), Error> {
    let draft = || EventDraft::new(Some(&caller.principal), Action::RequestCreate, Target::default(), &http);
    let b: CreateBody = or_refuse(&app, draft, parse_body(body)).await?;
    let ask = Ask {
        reason: b.reason,
        ticket: b.ticket,
        password_to: b.password_to,
        mfa_to: b.mfa_to,
        window_minutes: b.window_minutes,
    };
    let view = app.vault.create_request(&caller, &http, b.account_id, ask).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    account_id: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RequestPage>, Error> {
    let draft = || EventDraft::new(Some(&caller.principal), Action::RequestList, Target::default(), &http);
    let filter = or_refuse(&app, draft, parse_filter(query)).await?;
    Ok(Json(app.vault.requests(&caller, &http, filter).await?))
}

fn parse_filter(
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<RequestFilter, Error> {
    let Query(q) =
        query.map_err(|_| Error::malformed("invalid_query", "query parameters: state, account_id, cursor, limit"))?;
    let state = q
        .state
        .map(|s| RequestState::parse(&s).ok_or_else(|| Error::malformed("invalid_query", "unknown request state")))
        .transpose()?;
    let account_id = q.account_id.map(|a| a.parse::<AccountId>()).transpose()?;
    let cursor = q.cursor.map(|c| c.parse()).transpose()?;
    if q.limit.is_some_and(|l| l == 0 || l > REQUEST_LIST_LIMIT) {
        return Err(Error::malformed("invalid_query", "limit is 1 to 500"));
    }
    Ok(RequestFilter { account_id, state, cursor, limit: q.limit })
}

pub async fn show(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, Error> {
    Ok(Json(app.vault.request(&caller, &http, id).await?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    #[serde(default)]
    comment: Option<String>,
}

/// Approve, deny or cancel. The body is optional: none, or `{"comment": …}`.
async fn decide(
    app: App,
    caller: Caller,
    http: HttpInfo,
    id: String,
    body: Result<RawJson, Error>,
    step: RequestStep,
) -> Result<Json<RequestView>, Error> {
    let parsed = parse_optional_body::<CommentBody>(body);
    let draft = || {
        let target = Target { request_id: Some(id.chars().take(64).collect()), ..Target::default() };
        EventDraft::new(Some(&caller.principal), step.action(), target, &http)
    };
    let comment = or_refuse(&app, draft, parsed).await?.comment;
    Ok(Json(app.vault.decide(&caller, &http, id, step, comment).await?))
}

pub async fn approve(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<RequestView>, Error> {
    decide(app, caller, http, id, body, RequestStep::Approve).await
}

pub async fn deny(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<RequestView>, Error> {
    decide(app, caller, http, id, body, RequestStep::Deny).await
}

pub async fn cancel(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<RequestView>, Error> {
    decide(app, caller, http, id, body, RequestStep::Cancel).await
}

pub async fn password(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
) -> Result<Json<PasswordRelease>, Error> {
    Ok(Json(app.vault.release_password(&caller, &http, id).await?))
}

pub async fn mfa_code(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
) -> Result<Json<CodeRelease>, Error> {
    Ok(Json(app.vault.release_mfa_code(&caller, &http, id).await?))
}
