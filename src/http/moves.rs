//! `/v1/accounts/{id}/moves`: DDI moves between customers
//! (docs/lifecycle.md).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts::account_id;
use super::extract::{Meta, RawJson, or_refuse, parse_body};
use super::reverse::date;
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::domain::ids::OrgName;
use crate::domain::moves::MoveAsk;
use crate::error::Error;
use crate::http::error::ErrorBody;
use crate::vault::{MoveStep, MoveView};

/// A DDI move to another customer.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MoveRequest)]
struct RequestBody {
    to_customer_org: OrgName,
    /// At least 14 business days ahead, inside a move window unless the
    /// fee is acknowledged (`YYYY-MM-DD`).
    #[schema(format = Date, example = "2026-12-15")]
    move_date: String,
    #[serde(default)]
    fee_acknowledged: bool,
}

/// Ask to move the account to another customer (the current customer's
/// admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/moves", operation_id = "request_move", tag = "lifecycle",
    security(("bearer" = [])), request_body = RequestBody,
    responses(
        (status = 201, description = "The move, `requested`.", body = MoveView),
        (status = 403, description = "Not an admin of the account's customer.", body = ErrorBody),
        (status = 409, description = "`move_rule`, `move_exists`.", body = ErrorBody),
    ))]
pub async fn request(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<(StatusCode, Json<MoveView>), Error> {
    let id = account_id(&app, &caller, &http, Action::MoveRequest, &raw).await?;
    let draft = || EventDraft::new(Some(&caller.principal), Action::MoveRequest, Target::account(&id), &http);
    let parsed = parse_body::<RequestBody>(body).and_then(|b| {
        let move_date = date("move_date", &b.move_date)?;
        Ok(MoveAsk { to_customer_org: b.to_customer_org, move_date, fee_acknowledged: b.fee_acknowledged })
    });
    let ask = or_refuse(&app, draft, parsed).await?;
    let view = app.vault.request_move(&caller, &http, id, ask).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Serialize, ToSchema)]
pub struct MoveList {
    moves: Vec<MoveView>,
}

/// The account's moves (the parties' admins).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/moves", operation_id = "list_moves", tag = "lifecycle", security(("bearer" = [])),
    responses(
        (status = 200, description = "The moves.", body = MoveList),
        (status = 403, description = "Not an admin of a party org.", body = ErrorBody),
    ))]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<MoveList>, Error> {
    let id = account_id(&app, &caller, &http, Action::MoveRead, &raw).await?;
    Ok(Json(MoveList { moves: app.vault.moves(&caller, &http, id).await? }))
}

/// One move (the parties' admins).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/moves/{move_id}", operation_id = "show_move", tag = "lifecycle",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The move.", body = MoveView),
        (status = 403, description = "Not an admin of a party org.", body = ErrorBody),
    ))]
pub async fn show(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path((raw, move_id)): Path<(String, String)>,
) -> Result<Json<MoveView>, Error> {
    let id = account_id(&app, &caller, &http, Action::MoveRead, &raw).await?;
    Ok(Json(app.vault.move_view(&caller, &http, id, move_id).await?))
}

async fn step(
    app: &App,
    caller: &Caller,
    http: &crate::audit::HttpInfo,
    raw: &str,
    move_id: String,
    step: MoveStep,
) -> Result<Json<MoveView>, Error> {
    let id = account_id(app, caller, http, step.action(), raw).await?;
    Ok(Json(app.vault.move_step(caller, http, id, move_id, step).await?))
}

/// Confirm a move (provider admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/moves/{move_id}/confirm", operation_id = "confirm_move", tag = "lifecycle",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The move, `confirmed`.", body = MoveView),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "`move_rule`.", body = ErrorBody),
    ))]
pub async fn confirm(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path((raw, move_id)): Path<(String, String)>,
) -> Result<Json<MoveView>, Error> {
    step(&app, &caller, &http, &raw, move_id, MoveStep::Confirm).await
}

/// Complete a confirmed move on its date: the customer changes, the old
/// customer's custodians and halves are retired (provider admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/moves/{move_id}/complete", operation_id = "complete_move", tag = "lifecycle",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The move, `completed`.", body = MoveView),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "`move_rule`: not confirmed, or before its date.", body = ErrorBody),
    ))]
pub async fn complete(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path((raw, move_id)): Path<(String, String)>,
) -> Result<Json<MoveView>, Error> {
    step(&app, &caller, &http, &raw, move_id, MoveStep::Complete).await
}

/// Cancel a move (the parties' admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/moves/{move_id}/cancel", operation_id = "cancel_move", tag = "lifecycle",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The move, `cancelled`.", body = MoveView),
        (status = 403, description = "Not an admin of a party org.", body = ErrorBody),
        (status = 409, description = "`move_rule`.", body = ErrorBody),
    ))]
pub async fn cancel(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path((raw, move_id)): Path<(String, String)>,
) -> Result<Json<MoveView>, Error> {
    step(&app, &caller, &http, &raw, move_id, MoveStep::Cancel).await
}
