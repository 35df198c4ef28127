//! `/`: my work. Requests awaiting my decision, my own requests, releases
//! waiting for me, then who I am as the service sees me (principal,
//! roles, sign-in time), how recent a sign-in a release needs, and how to
//! sign in the command line.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::page::page;
use super::request_page::{may_decide, request_href};
use super::signed::SignedIn;
use super::signed_in;
use crate::app::App;
use crate::domain::breakglass::State as RequestState;
use crate::domain::ids::{AccountId, Role};
use crate::error::Error;
use crate::vault::{AccountView, ConsoleSession, RequestFilter, RequestView};

fn minutes(d: std::time::Duration) -> String {
    match d.as_secs() {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s => format!("{} min", s / 60),
    }
}

/// The three lists of the page, each newest first.
struct Work {
    to_decide: Vec<RequestView>,
    mine: Vec<RequestView>,
    releases: Vec<RequestView>,
}

async fn work(app: &App, who: &SignedIn) -> Result<Work, Error> {
    let caller = who.caller();
    let me = &caller.principal;
    let listed = app.vault.requests(caller, &who.http, RequestFilter::default()).await?.requests;
    // Only approvers need the accounts (for the side rule of decisions).
    let accounts: HashMap<AccountId, AccountView> = if caller.has_role(Role::Approver) {
        app.vault.accounts(caller, &who.http).await?.into_iter().map(|a| (a.account.account_id.clone(), a)).collect()
    } else {
        HashMap::new()
    };
    let mut work = Work { to_decide: Vec::new(), mine: Vec::new(), releases: Vec::new() };
    for view in listed {
        let decidable = view.state == RequestState::Pending
            && accounts.get(&view.account_id).is_some_and(|a| may_decide(app, caller, &view, &a.account));
        let for_me = view.state == RequestState::Approved
            && ((view.password_to.as_ref() == Some(me) && view.password_views_left > 0)
                || view.mfa_to.as_ref() == Some(me));
        if decidable {
            work.to_decide.push(view.clone());
        }
        if for_me {
            work.releases.push(view.clone());
        }
        if view.requester == *me {
            work.mine.push(view);
        }
    }
    Ok(work)
}

fn to_decide_list(views: &[RequestView]) -> Markup {
    html! {
        h2 { "Awaiting your decision" }
        @if views.is_empty() {
            p.muted data-list="to-decide" { "Nothing to decide. Requests you may approve or deny appear here." }
        } @else {
            ul.items data-list="to-decide" {
                @for v in views {
                    li {
                        a href=(request_href(&v.id)) { "Account " (v.account_id) }
                        " asked by " span.mono { (v.requester) } ": " (v.reason)
                        @if let Some(t) = &v.ticket { " (ticket " (t) ")" }
                        br; span.muted { "asked at " time datetime=(v.created_at) { (v.created_at) } }
                    }
                }
            }
        }
    }
}

fn mine_list(views: &[RequestView], staff: bool) -> Markup {
    html! {
        h2 { "Your requests" }
        @if views.is_empty() {
            p.muted data-list="mine" {
                @if staff { "You have asked for nothing. " a href="/requests/new" { "Ask for break-glass access" } " when you need it." }
                @else { "Break-glass requests are asked by staff; you have none." }
            }
        } @else {
            ul.items data-list="mine" {
                @for v in views {
                    li {
                        a href=(request_href(&v.id)) { "Account " (v.account_id) }
                        ": " (v.reason) " " span.state { (v.state.as_str()) }
                    }
                }
            }
        }
    }
}

fn releases_list(views: &[RequestView], me: &crate::domain::ids::Principal) -> Markup {
    html! {
        h2 { "Waiting for you" }
        @if views.is_empty() {
            p.muted data-list="releases" { "No release is waiting for you. Approved requests that name you appear here." }
        } @else {
            ul.items data-list="releases" {
                @for v in views {
                    li {
                        a href=(request_href(&v.id)) { "Account " (v.account_id) }
                        @if v.password_to.as_ref() == Some(me) { ": the password" }
                        @if v.mfa_to.as_ref() == Some(me) { ": MFA codes" }
                        @if let Some(end) = &v.window_ends { br; span.muted { "until " time datetime=(end) { (end) } } }
                    }
                }
            }
        }
    }
}

fn identity(app: &App, session: &ConsoleSession) -> Markup {
    let caller = &session.caller;
    let roles: Vec<&str> = caller.roles.iter().map(|r| r.as_str()).collect();
    let settings = app.vault.auth_settings();
    let signed_in_at = caller.auth_time.map(crate::vault::rfc3339).unwrap_or_else(|| "unknown".into());
    let login = format!("rootvault login --addr {} --org {}", app.vault.public_url(), caller.principal.org);
    html! {
        h2 { "Signed in" }
        dl.box {
            dt { "You are" } dd.mono { (caller.principal) }
            @if let Some(display) = &session.display { dt { "Known as" } dd { (display) } }
            dt { "Organisation" } dd { (caller.principal.org) }
            dt { "Roles" }
            dd data-field="roles" {
                @if roles.is_empty() { "none: your identity provider grants you no rootvault role" }
                @else { (roles.join(", ")) }
            }
            dt { "Signed in at" } dd { time datetime=(signed_in_at) { (signed_in_at) } }
        }
        p {
            "Releasing a password or an MFA code needs a sign-in from the last "
            (minutes(settings.release_max_auth_age)) ". "
            a href="/auth/reauth?return_to=%2F" { "Sign in again now" }
            " if yours is older."
        }
        p { "This session ends after " (minutes(settings.session_idle_timeout)) " without use, and "
            (minutes(settings.session_absolute_timeout)) " after you signed in." }
        h2 { "The command line" }
        p { "Sign in the " code { "rootvault" } " command the same way:" }
        p.box.mono { (login) }
    }
}

pub async fn home(State(app): State<App>, who: SignedIn) -> Response {
    let me = &who.caller().principal;
    let listed = work(&app, &who).await;
    let body = html! {
        h1 { "My work" }
        @match listed {
            Ok(w) => {
                (releases_list(&w.releases, me))
                @if who.caller().has_role(Role::Approver) { (to_decide_list(&w.to_decide)) }
                (mine_list(&w.mine, who.caller().has_role(Role::Staff)))
            }
            Err(e) => p.box.error data-field="error" role="alert" { "Your work could not be listed: " (e) }
        }
        (identity(&app, &who.session))
    };
    page("My work", Some(signed_in(&who.session)), body).into_response()
}
