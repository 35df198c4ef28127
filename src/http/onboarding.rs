//! `/v1/accounts/{id}/onboarding`: start, follow, mark the checklist,
//! complete (docs/lifecycle.md).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::accounts::account_id;
use super::extract::{Meta, RawJson, object, or_refuse, parse_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::domain::onboarding::{OnboardingItem, Start};
use crate::domain::reverse::Signatory;
use crate::error::Error;
use crate::http::error::ErrorBody;
use crate::vault::{OnboardingStep, OnboardingView};

/// Who signs for the customer, and its legal details.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OnboardingStart)]
struct StartBody {
    #[serde(deserialize_with = "object")]
    signatory: Signatory,
    legal_name: String,
    legal_address: String,
}

/// Start onboarding an account into custody (provider admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/onboarding", operation_id = "start_onboarding", tag = "lifecycle",
    security(("bearer" = [])), request_body = StartBody,
    responses(
        (status = 201, description = "The onboarding, `in_progress`.", body = OnboardingView),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "`onboarding_rule`, `nothing_in_custody`.", body = ErrorBody),
    ))]
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

/// The onboarding's state and checklist (the parties' admins).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/onboarding", operation_id = "show_onboarding", tag = "lifecycle",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The onboarding.", body = OnboardingView),
        (status = 403, description = "Not an admin of a party org.", body = ErrorBody),
    ))]
pub async fn show(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<OnboardingView>, Error> {
    let id = account_id(&app, &caller, &http, Action::OnboardingRead, &raw).await?;
    Ok(Json(app.vault.onboarding(&caller, &http, id).await?))
}

/// Mark one item of the onboarding checklist (provider admins);
/// `reset_password` and `enable_mfa` are marked by the service itself.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/onboarding/checklist/{item}", operation_id = "mark_onboarding_item", tag = "lifecycle",
    security(("bearer" = [])), request_body = super::reverse::ChecklistBody,
    responses(
        (status = 200, description = "The onboarding with the item marked.", body = OnboardingView),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "`onboarding_rule`.", body = ErrorBody),
    ))]
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
        let b: super::reverse::ChecklistBody = parse_body(body)?;
        Ok(OnboardingStep::Mark(item, b.status))
    });
    let step = or_refuse(&app, draft, parsed).await?;
    Ok(Json(app.vault.onboarding_step(&caller, &http, id, step).await?))
}

/// Complete onboarding once every item is settled (provider admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/onboarding/complete", operation_id = "complete_onboarding", tag = "lifecycle",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The onboarding, `completed`.", body = OnboardingView),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "`onboarding_rule`: items are missing.", body = ErrorBody),
    ))]
pub async fn complete(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<OnboardingView>, Error> {
    let id = account_id(&app, &caller, &http, Action::OnboardingComplete, &raw).await?;
    Ok(Json(app.vault.onboarding_step(&caller, &http, id, OnboardingStep::Complete).await?))
}
