//! `/v1/accounts/{id}/reverse-assumption` (with the consent to assignment),
//! `/close` and `/reopen`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::accounts::account_id;
use super::extract::{Meta, RawJson, or_refuse, parse_body, parse_optional_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::domain::account::Email;
use crate::domain::reverse::{ChecklistItem, HandoffKind, ItemStatus, Signatory};
use crate::error::Error;
use crate::vault::{ReverseStep, ReverseView};

pub fn date(field: &str, text: &str) -> Result<time::Date, Error> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, format)
        .map_err(|_| Error::invalid("invalid_body", format!("{field} must be a date like 2026-11-20")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestBody {
    new_root_email: Email,
    signatory: Signatory,
    requested_date: String,
}

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

pub async fn show(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<ReverseView>, Error> {
    let id = account_id(&app, &caller, &http, Action::ReverseRead, &raw).await?;
    Ok(Json(app.vault.reverse_view(&caller, &http, id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleBody {
    date: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecklistBody {
    status: ItemStatus,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HandoffBody {
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

pub async fn confirm_balance(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<ReverseView>, Error> {
    run(&app, &caller, &http, &raw, Action::ReverseConfirmBalance, || Ok(ReverseStep::ConfirmBalance)).await
}

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
pub async fn consent(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<ReverseView>, Error> {
    run(&app, &caller, &http, &raw, Action::ReverseConsent, || Ok(ReverseStep::Consent)).await
}

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

pub async fn reopen(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<crate::vault::AccountView>, Error> {
    let id = account_id(&app, &caller, &http, Action::AccountReopen, &raw).await?;
    Ok(Json(app.vault.reopen_account(&caller, &http, id).await?))
}
