//! `/v1/accounts/{id}/reverse-assumption` (with the consent to assignment),
//! `/close` and `/reopen`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::accounts::account_id;
use super::extract::{Meta, RawJson, object, or_refuse, parse_body, parse_optional_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::domain::account::Email;
use crate::domain::reverse::{ChecklistItem, HandoffKind, ItemStatus, Signatory};
use crate::error::Error;
use crate::http::error::ErrorBody;
use crate::vault::{ReverseStep, ReverseView};

pub fn date(field: &str, text: &str) -> Result<time::Date, Error> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, format)
        .map_err(|_| Error::invalid("invalid_body", format!("{field} must be a date like 2026-11-20")))
}

/// The customer's request to take the account back.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReverseRequest)]
struct RequestBody {
    new_root_email: Email,
    #[serde(deserialize_with = "object")]
    signatory: Signatory,
    /// The date the customer asks for (`YYYY-MM-DD`).
    #[schema(format = Date, example = "2026-12-15")]
    requested_date: String,
}

/// Ask to take the account back (the customer's admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/reverse-assumption", operation_id = "request_reverse_assumption", tag = "lifecycle",
    security(("bearer" = [])), request_body = RequestBody,
    responses(
        (status = 201, description = "The reverse assumption, `requested`.", body = ReverseView),
        (status = 403, description = "Not an admin of the account's customer.", body = ErrorBody),
        (status = 409, description = "`reverse_assumption_exists`, `reverse_assumption_rule`, `nothing_in_custody`.", body = ErrorBody),
    ))]
pub async fn request(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<(StatusCode, Json<ReverseView>), Error> {
    let id = account_id(&app, &caller, &http, Action::ReverseRequest, &raw).await?;
    let draft = || EventDraft::new(Some(&caller.principal), Action::ReverseRequest, Target::account(&id), &http);
    let parsed = parse_body::<RequestBody>(body).and_then(|b| Ok((date("requested_date", &b.requested_date)?, b)));
    let (requested, b) = or_refuse(&app, draft, parsed).await?;
    let view = app.vault.request_reverse(&caller, &http, id, b.new_root_email, b.signatory, requested).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// State, dates, checklist, consent and the link's state; to the
/// customer's admins also the hand-off URL (provider and customer admins).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/reverse-assumption", operation_id = "show_reverse_assumption", tag = "lifecycle",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The reverse assumption.", body = ReverseView),
        (status = 403, description = "Not an admin of a party org.", body = ErrorBody),
    ))]
pub async fn show(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<ReverseView>, Error> {
    let id = account_id(&app, &caller, &http, Action::ReverseRead, &raw).await?;
    Ok(Json(app.vault.reverse_view(&caller, &http, id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReverseSchedule)]
struct ScheduleBody {
    /// The hand-off date (`YYYY-MM-DD`): a weekday; after the 15th for a
    /// dedicated payer.
    #[schema(format = Date, example = "2026-12-16")]
    date: String,
}

/// How a checklist item was settled.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChecklistMark)]
pub struct ChecklistBody {
    pub(super) status: ItemStatus,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReverseHandoff)]
struct HandoffBody {
    /// `deliver` (default) or `collect`.
    #[serde(default)]
    kind: Option<HandoffKind>,
}

/// Run one provider step; the body (if any) is parsed by `step`.
async fn run(
    app: &App,
    caller: &Caller,
    http: &crate::audit::HttpInfo,
    raw: &str,
    action: Action,
    step: impl FnOnce() -> Result<ReverseStep, Error>,
) -> Result<Json<ReverseView>, Error> {
    let id = account_id(app, caller, http, action, raw).await?;
    let draft = || EventDraft::new(Some(&caller.principal), action, Target::account(&id), http);
    let step = or_refuse(app, draft, step()).await?;
    Ok(Json(app.vault.reverse_step(caller, http, id.clone(), step).await?))
}

/// Schedule the hand-off (provider admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/reverse-assumption/schedule", operation_id = "schedule_reverse_assumption", tag = "lifecycle",
    security(("bearer" = [])), request_body = ScheduleBody,
    responses(
        (status = 200, description = "The reverse assumption, `scheduled`.", body = ReverseView),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "`reverse_assumption_rule`: a weekend, too early in the month, or the wrong state.", body = ErrorBody),
    ))]
pub async fn schedule(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<ReverseView>, Error> {
    run(&app, &caller, &http, &raw, Action::ReverseSchedule, || {
        let b: ScheduleBody = parse_body(body)?;
        Ok(ReverseStep::Schedule(date("date", &b.date)?))
    })
    .await
}

/// Confirm the account's balance is settled (provider admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/reverse-assumption/confirm-balance", operation_id = "confirm_balance", tag = "lifecycle",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The reverse assumption, `balance_confirmed`.", body = ReverseView),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "`reverse_assumption_rule`.", body = ErrorBody),
    ))]
pub async fn confirm_balance(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<ReverseView>, Error> {
    run(&app, &caller, &http, &raw, Action::ReverseConfirmBalance, || Ok(ReverseStep::ConfirmBalance)).await
}

/// Mark one item of the hand-back checklist (provider admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/reverse-assumption/checklist/{item}", operation_id = "mark_reverse_assumption_item", tag = "lifecycle",
    security(("bearer" = [])), request_body = ChecklistBody,
    responses(
        (status = 200, description = "The reverse assumption with the item marked.", body = ReverseView),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "`reverse_assumption_rule`.", body = ErrorBody),
    ))]
pub async fn checklist(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path((raw, item)): Path<(String, String)>,
    body: Result<RawJson, Error>,
) -> Result<Json<ReverseView>, Error> {
    run(&app, &caller, &http, &raw, Action::ReverseChecklist, || {
        let item: ChecklistItem = item.parse().map_err(|_| {
            let known: Vec<_> = ChecklistItem::ALL.iter().map(|i| i.as_str()).collect();
            Error::invalid("invalid_checklist_item", format!("unknown checklist item; known: {}", known.join(", ")))
        })?;
        let b: ChecklistBody = parse_body(body)?;
        Ok(ReverseStep::Checklist(item, b.status))
    })
    .await
}

/// Hand off through a one-time link to the signatory; both halves freeze
/// while it is out (provider admins). Needs the balance, the checklist and,
/// where required, the consent.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/reverse-assumption/handoff", operation_id = "hand_off", tag = "lifecycle",
    security(("bearer" = [])),
    request_body(content = Option<HandoffBody>, description = "Optional: none, or `{\"kind\": \"deliver\" | \"collect\"}`."),
    responses(
        (status = 200, description = "The reverse assumption, `handed_off`.", body = ReverseView),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "`reverse_assumption_rule`, `consent_required`.", body = ErrorBody),
    ))]
pub async fn handoff(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<ReverseView>, Error> {
    run(&app, &caller, &http, &raw, Action::ReverseHandoff, || {
        let b: HandoffBody = parse_optional_body(body)?;
        Ok(ReverseStep::Handoff(b.kind.unwrap_or(HandoffKind::Deliver)))
    })
    .await
}

/// Cancel the reverse assumption (provider admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/reverse-assumption/cancel", operation_id = "cancel_reverse_assumption", tag = "lifecycle",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The reverse assumption, `cancelled`.", body = ReverseView),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "`reverse_assumption_rule`.", body = ErrorBody),
    ))]
pub async fn cancel(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<ReverseView>, Error> {
    run(&app, &caller, &http, &raw, Action::ReverseCancel, || Ok(ReverseStep::Cancel)).await
}

/// `POST …/reverse-assumption/consent`: the caller's side marks the consent
/// to assignment signed.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/reverse-assumption/consent", operation_id = "mark_consent", tag = "lifecycle",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The reverse assumption with the caller's side marked.", body = ReverseView),
        (status = 403, description = "Not an admin of a party org.", body = ErrorBody),
        (status = 409, description = "`consent_already_marked`, `consent_not_required`.", body = ErrorBody),
    ))]
pub async fn consent(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<ReverseView>, Error> {
    run(&app, &caller, &http, &raw, Action::ReverseConsent, || Ok(ReverseStep::Consent)).await
}

/// Close the account: the halves stay encrypted, nothing is released;
/// reopening is possible for 90 days (provider admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/close", operation_id = "close_account", tag = "lifecycle", security(("bearer" = [])),
    responses(
        (status = 204, description = "Closed."),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "Already closed or handed back.", body = ErrorBody),
    ))]
pub async fn close(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<StatusCode, Error> {
    let id = account_id(&app, &caller, &http, Action::AccountClose, &raw).await?;
    app.vault.close_account(&caller, &http, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reopen a closed account within 90 days (provider admins).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/reopen", operation_id = "reopen_account", tag = "lifecycle", security(("bearer" = [])),
    responses(
        (status = 200, description = "The account, active again.", body = super::accounts::ApiAccount),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "`account_not_closed`, `reopen_window_passed`.", body = ErrorBody),
    ))]
pub async fn reopen(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<super::accounts::ApiAccount>, Error> {
    let id = account_id(&app, &caller, &http, Action::AccountReopen, &raw).await?;
    Ok(Json(app.vault.reopen_account(&caller, &http, id).await?.into()))
}
