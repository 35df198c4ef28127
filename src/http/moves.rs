//! `/v1/accounts/{id}/moves`: DDI moves between customers
//! (docs/lifecycle.md).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::accounts::account_id;
use super::extract::{Meta, RawJson, or_refuse, parse_body};
use super::reverse::date;
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::domain::ids::OrgName;
use crate::domain::moves::MoveAsk;
use crate::error::Error;
use crate::vault::{MoveStep, MoveView};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestBody {
    to_customer_org: OrgName,
    move_date: String,
    #[serde(default)]
    fee_acknowledged: bool,
}

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

#[derive(Serialize)]
pub struct MoveList {
    moves: Vec<MoveView>,
}

pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<MoveList>, Error> {
    let id = account_id(&app, &caller, &http, Action::MoveRead, &raw).await?;
    Ok(Json(MoveList { moves: app.vault.moves(&caller, &http, id).await? }))
}

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

pub async fn confirm(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path((raw, move_id)): Path<(String, String)>,
) -> Result<Json<MoveView>, Error> {
    step(&app, &caller, &http, &raw, move_id, MoveStep::Confirm).await
}

pub async fn complete(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path((raw, move_id)): Path<(String, String)>,
) -> Result<Json<MoveView>, Error> {
    step(&app, &caller, &http, &raw, move_id, MoveStep::Complete).await
}

pub async fn cancel(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path((raw, move_id)): Path<(String, String)>,
) -> Result<Json<MoveView>, Error> {
    step(&app, &caller, &http, &raw, move_id, MoveStep::Cancel).await
}
