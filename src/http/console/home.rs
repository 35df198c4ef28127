//! `/`: the signed-in start page. It says who you are as the service sees
//! you (principal, roles, when you signed in), how recent a sign-in a
//! release needs, and how to sign in the command line.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::page::page;
use super::signin::{redirect, secure, signin_path};
use super::visitor::Visitor;
use super::{cookies, signed_in};
use crate::app::App;

fn minutes(d: std::time::Duration) -> String {
    match d.as_secs() {
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s => format!("{} min", s / 60),
    }
}

pub async fn home(State(app): State<App>, visitor: Visitor) -> Response {
    let Some(session) = visitor.session else {
        let clear = if visitor.stale_cookie { vec![cookies::clear(cookies::SESSION, secure(&app))] } else { vec![] };
        return redirect(&signin_path("/"), &clear);
    };
    let caller = &session.caller;
    let roles: Vec<&str> = caller.roles.iter().map(|r| r.as_str()).collect();
    let settings = app.vault.auth_settings();
    let signed_in_at = caller.auth_time.map(crate::vault::rfc3339).unwrap_or_else(|| "unknown".into());
    let login = format!("rootvault login --addr {} --org {}", app.vault.public_url(), caller.principal.org);
    let body = html! {
        h1 { "Signed in" }
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
    };
    page("Signed in", Some(signed_in(&session)), body).into_response()
}
