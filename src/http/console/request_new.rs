//! `/requests/new` and `POST /requests`: ask for break-glass access. The
//! form's fields are the API's; the vault decides, and a refusal shows
//! the form again with its values and the vault's sentence.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::csrf_field;
use super::page::page;
use super::request_page::{refusal_box, request_href};
use super::signed::{CsrfForm, SignedIn};
use super::signed_in;
use super::signin::redirect;
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::domain::breakglass::{Ask, DEFAULT_WINDOW_MINUTES, MAX_WINDOW_MINUTES};
use crate::domain::ids::{AccountId, Principal};
use crate::error::Error;
use crate::http::error::status_of;
use crate::vault::AccountView;

/// What the form shows in its fields.
#[derive(Default)]
struct Values<'a> {
    account_id: Option<&'a str>,
    reason: Option<&'a str>,
    ticket: Option<&'a str>,
    password_to: Option<&'a str>,
    mfa_to: Option<&'a str>,
    window_minutes: Option<&'a str>,
}

fn text(id: &str, label: &str, value: Option<&str>, list: Option<&str>, hint: &str) -> Markup {
    html! {
        label for=(id) { (label) }
        input #(id) type="text" name=(id) value=(value.unwrap_or_default()) list=[list] aria-describedby=(format!("{id}-hint"));
        span.muted id=(format!("{id}-hint")) { (hint) }
    }
}

fn form_page(who: &SignedIn, accounts: &[AccountView], v: &Values, error: Option<&Error>) -> Markup {
    let custodians = |pick: fn(&AccountView) -> &Vec<Principal>| -> BTreeSet<String> {
        accounts.iter().flat_map(|a| pick(a).iter().map(ToString::to_string)).collect()
    };
    let (password_people, mfa_people) = (custodians(|a| &a.custodians.password), custodians(|a| &a.custodians.mfa));
    let window = v.window_minutes.map_or_else(|| DEFAULT_WINDOW_MINUTES.to_string(), str::to_owned);
    html! {
        h1 { "Ask for break-glass access" }
        @if let Some(e) = error { (refusal_box(e)) }
        @if accounts.is_empty() {
            p.box { "You can see no account. An administrator of your organisation registers accounts and names custodians." }
        } @else {
            form.stack method="post" action="/requests" {
                (csrf_field(&who.session))
                label for="account_id" { "Account" }
                select #account_id name="account_id" required {
                    @for a in accounts {
                        @let id = a.account.account_id.to_string();
                        option value=(id) selected[v.account_id == Some(id.as_str())] { (id) " · " (a.account.name) }
                    }
                }
                label for="reason" { "Reason" }
                textarea #reason name="reason" rows="3" required { (v.reason.unwrap_or_default()) }
                (text("ticket", "Ticket (optional)", v.ticket, None, "An incident or change reference."))
                (text("password_to", "Password to", v.password_to, Some("password-custodians"),
                    "A password custodian of the account, as org/name; leave empty for none."))
                (text("mfa_to", "MFA codes to", v.mfa_to, Some("mfa-custodians"),
                    "An MFA custodian of the account, someone else; leave empty for none."))
                datalist #password-custodians { @for p in &password_people { option value=(p) {} } }
                datalist #mfa-custodians { @for p in &mfa_people { option value=(p) {} } }
                label for="window_minutes" { "Window (minutes)" }
                input #window_minutes type="number" name="window_minutes" min="1" max=(MAX_WINDOW_MINUTES) value=(window);
                div.row { button type="submit" data-action="request-create" { "Ask for access" } }
            }
        }
    }
}

fn respond(who: &SignedIn, status: StatusCode, body: Markup) -> Response {
    (status, page("Ask for break-glass access", Some(signed_in(&who.session)), body)).into_response()
}

/// `GET /requests/new`
pub async fn new(State(app): State<App>, who: SignedIn) -> Response {
    match app.vault.accounts(who.caller(), &who.http).await {
        Ok(accounts) => respond(&who, StatusCode::OK, form_page(&who, &accounts, &Values::default(), None)),
        Err(e) => respond(&who, status_of(&e), html! { h1 { "Ask for break-glass access" } (refusal_box(&e)) }),
    }
}

/// The form's values as the vault's ask; a value that does not parse is
/// refused with the same sentence the API gives.
fn ask(form: &CsrfForm) -> Result<(AccountId, Ask), Error> {
    let account: AccountId =
        form.field("account_id").ok_or_else(|| Error::invalid("invalid_request", "choose an account"))?.parse()?;
    let principal = |name: &str| form.field(name).map(str::parse::<Principal>).transpose();
    let window_minutes = form.field("window_minutes").map(|w| w.parse::<u32>()).transpose().map_err(|_| {
        Error::invalid("invalid_request", format!("window_minutes must be between 1 and {MAX_WINDOW_MINUTES}"))
    })?;
    let ask = Ask {
        reason: form.field("reason").unwrap_or_default().to_owned(),
        ticket: form.field("ticket").map(str::to_owned),
        password_to: principal("password_to")?,
        mfa_to: principal("mfa_to")?,
        window_minutes,
    };
    Ok((account, ask))
}

/// `POST /requests`: 303 to the new request, or the form again.
pub async fn create(State(app): State<App>, form: CsrfForm) -> Response {
    let who = &form.who;
    let created = match ask(&form) {
        Ok((account, ask)) => app.vault.create_request(who.caller(), &who.http, account, ask).await,
        Err(e) => {
            let draft =
                EventDraft::new(Some(&who.caller().principal), Action::RequestCreate, Target::default(), &who.http);
            Err(app.vault.refuse(draft, e).await)
        }
    };
    let e = match created {
        Ok(view) => return redirect(&request_href(&view.id), &[]),
        Err(e) => e,
    };
    let values = Values {
        account_id: form.field("account_id"),
        reason: form.field("reason"),
        ticket: form.field("ticket"),
        password_to: form.field("password_to"),
        mfa_to: form.field("mfa_to"),
        window_minutes: form.field("window_minutes"),
    };
    let accounts = app.vault.accounts(who.caller(), &who.http).await.unwrap_or_default();
    respond(who, status_of(&e), form_page(who, &accounts, &values, Some(&e)))
}
