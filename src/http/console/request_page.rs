//! `/requests/{id}`: one break-glass request, its timeline, and exactly
//! the actions this person may take (approve, deny, cancel, releases).
//! Decisions POST back here; a refusal is shown on the page in the
//! vault's words, with the comment kept.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};

use super::csrf_field;
use super::page::page;
use super::signed::{CsrfForm, SignedIn};
use super::signed_in;
use super::signin::redirect;
use crate::app::App;
use crate::auth::Caller;
use crate::domain::account::Account;
use crate::domain::breakglass::{Parties, PartyName, State as RequestState};
use crate::domain::ids::Principal;
use crate::error::Error;
use crate::http::error::status_of;
use crate::vault::{DecisionView, RequestStep, RequestView};

/// Where a request's page is. Ids are the vault's (`req_` and hex).
pub fn request_href(id: &str) -> String {
    format!("/requests/{id}")
}

/// Whether `caller` may approve or deny `view` now, by the same rule the
/// vault applies (invariant 3).
pub fn may_decide(app: &App, caller: &Caller, view: &RequestView, account: &Account) -> bool {
    let Some(party) = app.vault.orgs().party_of(account, &caller.principal.org) else {
        return false;
    };
    let decided: Vec<&Principal> =
        view.approvals.iter().chain(view.denial.as_ref()).map(|d: &DecisionView| &d.approver).collect();
    let parties = Parties {
        requester: &view.requester,
        password_to: view.password_to.as_ref(),
        mfa_to: view.mfa_to.as_ref(),
        decided: &decided,
    };
    let roles: Vec<_> = caller.roles.iter().copied().collect();
    view.state == RequestState::Pending
        && parties.check_decider(&caller.principal, &roles, party, account.custody.is_shared_with_customer()).is_ok()
}

/// A 303 to step-up, coming back to `here`.
pub fn step_up(here: &str) -> Response {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("return_to", here);
    redirect(&format!("/auth/reauth?{}", q.finish()), &[])
}

/// A refusal's sentence, in the box every page shows refusals in.
pub fn refusal_box(e: &Error) -> Markup {
    html! { p.box.error data-field="error" role="alert" { (e) } }
}

fn party(p: PartyName) -> &'static str {
    match p {
        PartyName::Provider => "provider",
        PartyName::Customer => "customer",
    }
}

fn decision_line(d: &DecisionView, verb: &str) -> Markup {
    html! {
        li {
            time datetime=(d.at) { (d.at) } " · " span.mono { (d.approver) } " (" (party(d.party)) ") " (verb)
            @if let Some(c) = &d.comment { ": " q { (c) } }
        }
    }
}

fn timeline(v: &RequestView) -> Markup {
    html! {
        h2 { "Timeline" }
        ol.timeline {
            li { time datetime=(v.created_at) { (v.created_at) } " · " span.mono { (v.requester) } " asked" }
            @for a in &v.approvals { (decision_line(a, "approved")) }
            @if let Some(d) = &v.denial { (decision_line(d, "denied")) }
            @if let (Some(at), Some(end)) = (&v.approved_at, &v.window_ends) {
                li { time datetime=(at) { (at) } " · approved; releases open until " time datetime=(end) { (end) } }
            }
            @if v.password_to.is_some() && v.approved_at.is_some() {
                li { "Password views left: " span data-field="views-left" { (v.password_views_left) } }
            }
            @if let Some(end) = &v.ended_at { li { time datetime=(end) { (end) } " · " (v.state.as_str()) } }
            @if v.state == RequestState::Pending {
                li.muted { "Waiting for approvals (" (v.approvals.len()) " of " (v.approvals_required) ") until "
                    time datetime=(v.pending_until) { (v.pending_until) } }
            }
        }
    }
}

fn actions(who: &SignedIn, v: &RequestView, decide: bool, comment: Option<&str>) -> Markup {
    let me = &who.caller().principal;
    let approved = v.state == RequestState::Approved;
    let href = request_href(&v.id);
    html! {
        @if decide {
            h2 { "Your decision" }
            form.stack method="post" action=(format!("{href}/approve")) {
                (csrf_field(&who.session))
                label for="comment" { "Comment (optional)" }
                textarea #comment name="comment" rows="3" { (comment.unwrap_or_default()) }
                div.row {
                    button type="submit" data-action="approve" { "Approve" }
                    button.secondary type="submit" formaction=(format!("{href}/deny")) data-action="deny" { "Deny" }
                }
            }
        }
        @if approved && v.password_to.as_ref() == Some(me) && v.password_views_left > 0 {
            form.stack method="post" action=(format!("{href}/password")) {
                (csrf_field(&who.session))
                p { "The password is shown once per reveal; "
                    span data-field="views-left" { (v.password_views_left) } " view(s) left. Revealing it marks it for rotation." }
                button type="submit" data-action="reveal-password" { "Reveal password" }
            }
        }
        @if approved && v.mfa_to.as_ref() == Some(me) {
            form.stack method="post" action=(format!("{href}/mfa-code")) {
                (csrf_field(&who.session))
                p { "Each code you get is a release, recorded in the audit log." }
                button type="submit" data-action="mfa-code" { "MFA code" }
            }
        }
        @if v.state == RequestState::Pending && v.requester == *me {
            form.stack method="post" action=(format!("{href}/cancel")) {
                (csrf_field(&who.session))
                button.secondary type="submit" data-action="cancel" { "Cancel this request" }
            }
        }
    }
}

/// The page of `v` for `who`, with an optional refusal and kept comment.
fn render(who: &SignedIn, v: &RequestView, decide: bool, error: Option<&Error>, comment: Option<&str>) -> Html<String> {
    let opt = |o: &Option<Principal>| o.as_ref().map_or_else(|| "nobody".to_owned(), ToString::to_string);
    let body = html! {
        h1 { "Request for account " (v.account_id) }
        @if let Some(e) = error { (refusal_box(e)) }
        dl.box {
            dt { "State" } dd { strong data-field="request-state" { (v.state.as_str()) } }
            dt { "Account" } dd.mono { (v.account_id) }
            dt { "Reason" } dd { (v.reason) }
            dt { "Ticket" } dd { (v.ticket.as_deref().unwrap_or("none")) }
            dt { "Asked by" } dd.mono { (v.requester) }
            dt { "Password to" } dd.mono { (opt(&v.password_to)) }
            dt { "MFA codes to" } dd.mono { (opt(&v.mfa_to)) }
            dt { "Window" } dd { (v.window_minutes) " minutes after approval" }
        }
        (actions(who, v, decide, comment))
        (timeline(v))
    };
    page(&format!("Request for account {}", v.account_id), Some(signed_in(&who.session)), body)
}

/// A page saying the request cannot be shown.
fn unknown(who: &SignedIn, e: &Error) -> Response {
    super::page::refused(signed_in(&who.session), status_of(e), "Request not shown", &e.to_string())
}

/// Load request `id` and render it for `who`, with a refusal if any.
async fn show_with(app: &App, who: &SignedIn, id: String, refusal: Option<(Error, Option<&str>)>) -> Response {
    let view = match app.vault.request(who.caller(), &who.http, id).await {
        Ok(v) => v,
        Err(e) => return unknown(who, refusal.map(|r| r.0).as_ref().unwrap_or(&e)),
    };
    let decide = view.state == RequestState::Pending
        && who.caller().has_role(crate::domain::ids::Role::Approver)
        && match app.vault.account(who.caller(), &who.http, view.account_id.clone()).await {
            Ok(a) => may_decide(app, who.caller(), &view, &a.account),
            Err(_) => false,
        };
    let (status, error, comment) = match &refusal {
        Some((e, comment)) => (status_of(e), Some(e), *comment),
        None => (StatusCode::OK, None, None),
    };
    (status, render(who, &view, decide, error, comment)).into_response()
}

/// After a refused step on request `id`: step-up goes to the provider,
/// anything else is shown on the request's page.
pub async fn refused(app: &App, who: &SignedIn, id: String, e: Error, comment: Option<&str>) -> Response {
    if matches!(e, Error::ReauthenticationRequired) {
        return step_up(&request_href(&id));
    }
    show_with(app, who, id, Some((e, comment))).await
}

/// `GET /requests/{id}`
pub async fn show(State(app): State<App>, who: SignedIn, Path(id): Path<String>) -> Response {
    show_with(&app, &who, id, None).await
}

async fn decide(app: App, form: CsrfForm, id: String, step: RequestStep) -> Response {
    let comment = form.field("comment").map(str::to_owned);
    let who = &form.who;
    match app.vault.decide(who.caller(), &who.http, id.clone(), step, comment.clone()).await {
        Ok(v) => redirect(&request_href(&v.id), &[]),
        Err(e) => refused(&app, who, id, e, comment.as_deref()).await,
    }
}

/// `POST /requests/{id}/approve`
pub async fn approve(State(app): State<App>, Path(id): Path<String>, form: CsrfForm) -> Response {
    decide(app, form, id, RequestStep::Approve).await
}

/// `POST /requests/{id}/deny`
pub async fn deny(State(app): State<App>, Path(id): Path<String>, form: CsrfForm) -> Response {
    decide(app, form, id, RequestStep::Deny).await
}

/// `POST /requests/{id}/cancel`
pub async fn cancel(State(app): State<App>, Path(id): Path<String>, form: CsrfForm) -> Response {
    decide(app, form, id, RequestStep::Cancel).await
}
