//! `/v1/accounts/{id}/onboarding`: start, follow, mark the checklist,
//! complete (docs/lifecycle.md).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::accounts::account_id;
use super::extract::{Meta, RawJson, or_refuse, parse_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::domain::onboarding::{OnboardingItem, Start};
use crate::domain::reverse::{ItemStatus, Signatory};
use crate::error::Error;
use crate::vault::{OnboardingStep, OnboardingView};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    signatory: Signatory,
    legal_name: String,
    legal_address: String,
}

pub async fn start(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<(StatusCode, Json<OnboardingView>), Error> {
    let id = account_id(&app, &caller, &http, Action::OnboardingStart, &raw).await?;
    let draft = || EventDraft::new(Some(&caller.principal), Action::OnboardingStart, Target::account(&id), &http);
    let b: StartBody = or_refuse(&app, draft, parse_body(body)).await?;
    let start = Start { signatory: b.signatory, legal_name: b.legal_name, legal_address: b.legal_address };
    let view = app.vault.start_onboarding(&caller, &http, id, start).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn show(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<OnboardingView>, Error> {
    let id = account_id(&app, &caller, &http, Action::OnboardingRead, &raw).await?;
    Ok(Json(app.vault.onboarding(&caller, &http, id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecklistBody {
    status: ItemStatus,
}

pub async fn checklist(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path((raw, item)): Path<(String, String)>,
    body: Result<RawJson, Error>,
) -> Result<Json<OnboardingView>, Error> {
    let id = account_id(&app, &caller, &http, Action::OnboardingChecklist, &raw).await?;
    let draft = || EventDraft::new(Some(&caller.principal), Action::OnboardingChecklist, Target::account(&id), &http);
    let parsed = item.parse::<OnboardingItem>().map_err(Error::from).and_then(|item| {
        let b: ChecklistBody = parse_body(body)?;
        Ok(OnboardingStep::Mark(item, b.status))
    });
    let step = or_refuse(&app, draft, parsed).await?;
    Ok(Json(app.vault.onboarding_step(&caller, &http, id, step).await?))
}

pub async fn complete(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<OnboardingView>, Error> {
    let id = account_id(&app, &caller, &http, Action::OnboardingComplete, &raw).await?;
    Ok(Json(app.vault.onboarding_step(&caller, &http, id, OnboardingStep::Complete).await?))
}
