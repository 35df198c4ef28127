//! Reverse assumption on an account's page (DESIGN §9): the state, the
//! hand-off link for the customer's admins, and the forms of the side that
//! may act (the customer's admin asks and may cancel; the provider's admin
//! schedules, confirms the balance, ticks the checklist and hands off).
//! Which forms show is presentation; whether a step is allowed is the
//! vault's to say.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};

use super::accounts::{Outcome, account_href, after_form, bad_account};
use super::csrf_field;
use super::request_page::refusal_box;
use super::signed::{CsrfForm, SignedIn};
use crate::app::App;
use crate::domain::account::Email;
use crate::domain::ids::{AccountId, Role};
use crate::domain::reverse::{ChecklistItem, HandoffKind, ItemStatus, RaState, Signatory};
use crate::error::Error;
use crate::http::reverse::date;
use crate::vault::{ReverseStep, ReverseView};

/// The reverse-assumption part of the account page.
pub fn section(who: &SignedIn, app: &App, id: &AccountId, reverse: Option<&ReverseView>, outcome: &Outcome) -> Markup {
    let admin = who.caller().has_role(Role::Admin);
    let provider = app.vault.orgs().is_provider(&who.caller().principal.org);
    let base = format!("{}/reverse-assumption", account_href(id));
    let open = reverse.filter(|r| !matches!(r.state, RaState::Completed | RaState::Cancelled));
    html! {
        h2 { "Reverse assumption" }
        @if outcome.form == Some("reverse") { @if let Some(e) = &outcome.error { (refusal_box(e)) } }
        @match reverse {
            None => p.muted { "The customer has not asked for this account back." },
            Some(r) => {
                dl.box {
                    dt { "State" } dd { strong data-field="reverse-state" { (r.state.as_str()) } }
                    dt { "Asked by" } dd.mono { (r.requested_by) }
                    dt { "Date asked for" } dd { (r.requested_date) }
                    @if let Some(d) = &r.scheduled_date { dt { "Scheduled for" } dd { (d) } }
                    @if let Some(d) = &r.balance_confirmed_at { dt { "Balance confirmed" } dd { (d) } }
                    @if !r.missing_items.is_empty() {
                        dt { "Checklist left" } dd { (r.missing_items.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(", ")) }
                    }
                    @if let Some(d) = &r.handed_off_at { dt { "Handed off" } dd { (d) } }
                }
                @if let Some(url) = &r.link_url {
                    p { "The hand-off link for your signatory (only your org's admins see it):" }
                    p.box.mono data-field="handoff-link" { (url) }
                }
            }
        }
        @if admin && !provider && open.is_none() {
            form.stack method="post" action=(base) {
                (csrf_field(&who.session))
                h3 { "Ask for the account back" }
                label for="new_root_email" { "New root e-mail" }
                input #new_root_email type="email" name="new_root_email" required;
                label for="signatory_name" { "Signatory's name" }
                input #signatory_name name="signatory_name" required;
                label for="signatory_email" { "Signatory's e-mail" }
                input #signatory_email type="email" name="signatory_email" required;
                label for="requested_date" { "Hand-off date" }
                input #requested_date type="date" name="requested_date" required;
                div.row { button type="submit" data-action="reverse-request" { "Ask for the account back" } }
            }
        }
        @if let Some(r) = open { @if admin {
            @if provider {
                @if r.state == RaState::Requested {
                    form.stack method="post" action=(format!("{base}/schedule")) {
                        (csrf_field(&who.session))
                        label for="date" { "Schedule the hand-off on (a weekday)" }
                        input #date type="date" name="date" required;
                        div.row { button type="submit" data-action="reverse-schedule" { "Schedule" } }
                    }
                }
                @if r.state == RaState::Scheduled {
                    form.inline method="post" action=(format!("{base}/confirm-balance")) {
                        (csrf_field(&who.session)) button type="submit" data-action="reverse-confirm-balance" { "Confirm the balance is settled" }
                    }
                }
                @if !r.missing_items.is_empty() {
                    h3 { "Checklist" }
                    ul.items { @for item in &r.missing_items { li {
                        (item.as_str()) " "
                        form.inline method="post" action=(format!("{base}/checklist/{}", item.as_str())) {
                            (csrf_field(&who.session))
                            button.secondary type="submit" name="status" value="done" data-action="reverse-checklist" { "Done" }
                            " "
                            button.secondary type="submit" name="status" value="not_applicable" data-action="reverse-checklist" { "Not applicable" }
                        }
                    } } }
                }
                @if r.state == RaState::BalanceConfirmed && r.missing_items.is_empty() {
                    form.stack method="post" action=(format!("{base}/handoff")) {
                        (csrf_field(&who.session))
                        label for="kind" { "Hand-off" }
                        select #kind name="kind" {
                            option value="deliver" { "deliver the credentials to the signatory" }
                            option value="collect" { "the signatory sets a new password" }
                        }
                        div.row { button type="submit" data-action="reverse-handoff" { "Hand off" } }
                    }
                }
            }
            form.inline method="post" action=(format!("{base}/cancel")) {
                (csrf_field(&who.session)) button.secondary type="submit" data-action="reverse-cancel" { "Cancel the reverse assumption" }
            }
        } }
    }
}

async fn answer(app: &App, form: &CsrfForm, id: AccountId, result: Result<ReverseView, Error>) -> Response {
    let outcome = match result {
        Ok(view) => {
            Outcome { notice: Some(format!("Reverse assumption: {}.", view.state.as_str())), ..Outcome::default() }
        }
        Err(e) => Outcome { form: Some("reverse"), error: Some(e), ..Outcome::default() },
    };
    after_form(app, &form.who, id, outcome).await
}

/// `POST /accounts/{id}/reverse-assumption`: the customer's admin asks.
pub async fn request(State(app): State<App>, Path(raw): Path<String>, form: CsrfForm) -> Response {
    let Ok(id) = raw.parse::<AccountId>() else { return bad_account() };
    let field = |name: &str| form.field(name).unwrap_or_default();
    let parsed = (|| {
        let email: Email = field("new_root_email").parse().map_err(Error::from)?;
        let signatory = Signatory {
            name: field("signatory_name").to_owned(),
            email: field("signatory_email").parse().map_err(Error::from)?,
        };
        Ok::<_, Error>((email, signatory, date("requested_date", field("requested_date"))?))
    })();
    let result = match parsed {
        Ok((email, signatory, day)) => {
            app.vault.request_reverse(form.who.caller(), &form.who.http, id.clone(), email, signatory, day).await
        }
        Err(e) => Err(e),
    };
    answer(&app, &form, id, result).await
}

/// `POST /accounts/{id}/reverse-assumption/{step}` (and `checklist/{item}`).
pub async fn step(State(app): State<App>, Path((raw, step)): Path<(String, String)>, form: CsrfForm) -> Response {
    let Ok(id) = raw.parse::<AccountId>() else { return bad_account() };
    let parsed = match step.as_str() {
        "schedule" => date("date", form.field("date").unwrap_or_default()).map(ReverseStep::Schedule),
        "confirm-balance" => Ok(ReverseStep::ConfirmBalance),
        "handoff" => Ok(ReverseStep::Handoff(match form.field("kind") {
            Some("collect") => HandoffKind::Collect,
            _ => HandoffKind::Deliver,
        })),
        "cancel" => Ok(ReverseStep::Cancel),
        _ => Err(Error::NotFound("reverse-assumption step")),
    };
    let result = match parsed {
        Ok(s) => app.vault.reverse_step(form.who.caller(), &form.who.http, id.clone(), s).await,
        Err(e) => Err(e),
    };
    answer(&app, &form, id, result).await
}

/// `POST /accounts/{id}/reverse-assumption/checklist/{item}` with `status`.
pub async fn checklist(State(app): State<App>, Path((raw, item)): Path<(String, String)>, form: CsrfForm) -> Response {
    let Ok(id) = raw.parse::<AccountId>() else { return bad_account() };
    let status = match form.field("status") {
        Some("not_applicable") => ItemStatus::NotApplicable,
        _ => ItemStatus::Done,
    };
    let result = match item.parse::<ChecklistItem>() {
        Ok(item) => {
            app.vault
                .reverse_step(form.who.caller(), &form.who.http, id.clone(), ReverseStep::Checklist(item, status))
                .await
        }
        Err(_) => Err(Error::NotFound("checklist item")),
    };
    answer(&app, &form, id, result).await
}
