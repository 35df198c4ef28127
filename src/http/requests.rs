//! `/v1/requests`: break-glass requests, decisions and releases.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::extract::{Meta, RawJson, or_refuse, parse_body, parse_optional_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::domain::breakglass::{Ask, State as RequestState};
use crate::domain::ids::{AccountId, Principal};
use crate::error::Error;
use crate::http::error::ErrorBody;
use crate::vault::{
    CodeRelease, PasswordRelease, REQUEST_LIST_LIMIT, RequestFilter, RequestPage, RequestStep, RequestView,
};

/// A break-glass request: why, and who receives which half.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RequestCreate)]
struct CreateBody {
    account_id: AccountId,
    #[schema(example = "billing lockout")]
    reason: String,
    #[serde(default)]
    #[schema(example = "INC-1")]
    ticket: Option<String>,
    /// Who receives the password (a custodian of the password half).
    #[serde(default)]
    password_to: Option<Principal>,
    /// Who receives MFA codes (a custodian of the MFA half).
    #[serde(default)]
    mfa_to: Option<Principal>,
    /// How long the releases stay open once approved.
    #[serde(default)]
    #[schema(example = 60)]
    window_minutes: Option<u32>,
}

/// Ask for break-glass access (`staff`).
#[utoipa::path(post, path = "/v1/requests", operation_id = "create_request", tag = "requests", security(("bearer" = [])),
    request_body = CreateBody,
    responses(
        (status = 201, description = "The request, `pending`.", body = RequestView),
        (status = 403, description = "Not `staff`.", body = ErrorBody),
        (status = 404, description = "Unknown or invisible account.", body = ErrorBody),
        (status = 409, description = "`four_eyes_violation` (a recipient is walled from the half), `nothing_in_custody`.", body = ErrorBody),
    ))]
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

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only requests in this state.
    #[param(value_type = Option<RequestState>)]
    state: Option<String>,
    /// Only requests of this account.
    #[param(value_type = Option<AccountId>)]
    account_id: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size (default and most: 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// The requests of accounts the caller is a party of, newest first, a page
/// at a time.
#[utoipa::path(get, path = "/v1/requests", operation_id = "list_requests", tag = "requests", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "One page of requests.", body = RequestPage)))]
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

/// One request: state, approvals, window (its account's parties).
#[utoipa::path(get, path = "/v1/requests/{id}", operation_id = "show_request", tag = "requests", security(("bearer" = [])),
    responses((status = 200, description = "The request.", body = RequestView)))]
pub async fn show(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
) -> Result<Json<RequestView>, Error> {
    Ok(Json(app.vault.request(&caller, &http, id).await?))
}

/// An optional comment on a decision.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DecisionBody)]
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

/// Approve (an `approver` who is neither the requester nor a recipient).
#[utoipa::path(post, path = "/v1/requests/{id}/approve", operation_id = "approve_request", tag = "requests", security(("bearer" = [])),
    request_body(content = Option<CommentBody>, description = "Optional: none, or `{\"comment\": …}`."),
    responses(
        (status = 200, description = "The request after the approval.", body = RequestView),
        (status = 403, description = "Not an approver, or not of a side that decides.", body = ErrorBody),
        (status = 409, description = "`self_approval`, `recipient_approval`, `already_decided`, `other_party_approval_required`, `request_not_pending`.", body = ErrorBody),
    ))]
pub async fn approve(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<RequestView>, Error> {
    decide(app, caller, http, id, body, RequestStep::Approve).await
}

/// Deny: one denial ends the request (an `approver`).
#[utoipa::path(post, path = "/v1/requests/{id}/deny", operation_id = "deny_request", tag = "requests", security(("bearer" = [])),
    request_body(content = Option<CommentBody>, description = "Optional: none, or `{\"comment\": …}`."),
    responses(
        (status = 200, description = "The request, `denied`.", body = RequestView),
        (status = 403, description = "Not an approver.", body = ErrorBody),
        (status = 409, description = "`self_approval`, `recipient_approval`, `already_decided`, `request_not_pending`.", body = ErrorBody),
    ))]
pub async fn deny(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<RequestView>, Error> {
    decide(app, caller, http, id, body, RequestStep::Deny).await
}

/// Cancel (the requester).
#[utoipa::path(post, path = "/v1/requests/{id}/cancel", operation_id = "cancel_request", tag = "requests", security(("bearer" = [])),
    request_body(content = Option<CommentBody>, description = "Optional: none, or `{\"comment\": …}`."),
    responses(
        (status = 200, description = "The request, `cancelled`.", body = RequestView),
        (status = 403, description = "`not_requester`.", body = ErrorBody),
        (status = 409, description = "`request_not_pending`.", body = ErrorBody),
    ))]
pub async fn cancel(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<RequestView>, Error> {
    decide(app, caller, http, id, body, RequestStep::Cancel).await
}

/// Release the password to the named `password_to`, within the window
/// (1-3 views; the half becomes `rotation_due`). Needs a recent sign-in.
#[utoipa::path(post, path = "/v1/requests/{id}/password", operation_id = "release_password", tag = "requests", security(("bearer" = [])),
    responses(
        (status = 200, description = "The password, once per view.", body = PasswordRelease),
        (status = 401, description = "`reauthentication_required`: sign in again (step-up).", body = ErrorBody),
        (status = 403, description = "`not_recipient`.", body = ErrorBody),
        (status = 409, description = "`request_not_approved`, `four_eyes_violation`.", body = ErrorBody),
        (status = 410, description = "`window_closed`, `no_views_left`.", body = ErrorBody),
    ))]
pub async fn password(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
) -> Result<Json<PasswordRelease>, Error> {
    Ok(Json(app.vault.release_password(&caller, &http, id).await?))
}

/// A current TOTP code for the named `mfa_to`, within the window (never the
/// seed). Needs a recent sign-in.
#[utoipa::path(post, path = "/v1/requests/{id}/mfa-code", operation_id = "release_mfa_code", tag = "requests", security(("bearer" = [])),
    responses(
        (status = 200, description = "The current code.", body = CodeRelease),
        (status = 401, description = "`reauthentication_required`: sign in again (step-up).", body = ErrorBody),
        (status = 403, description = "`not_recipient`.", body = ErrorBody),
        (status = 409, description = "`request_not_approved`, `four_eyes_violation`.", body = ErrorBody),
        (status = 410, description = "`window_closed`.", body = ErrorBody),
    ))]
pub async fn mfa_code(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(id): Path<String>,
) -> Result<Json<CodeRelease>, Error> {
    Ok(Json(app.vault.release_mfa_code(&caller, &http, id).await?))
}
