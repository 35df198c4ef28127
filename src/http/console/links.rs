//! `/links`: the one-time links I created with their read receipts, a
//! revoke button on each pending one, and the forms that create a collect
//! or a deliver link (DESIGN §8). A new link's URL is shown once, on the
//! answer page of its creation; a deliver link's key (after `#`) is never
//! stored and never put in a URL of ours.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use secrecy::SecretString;

use super::page::page;
use super::request_page::step_up;
use super::signin::redirect;
use super::{CsrfForm, SignedIn, csrf_field, signed_in};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::domain::ids::{AccountId, Half};
use crate::domain::links::Purpose;
use crate::error::Error;
use crate::http::error::status_of;
use crate::vault::{ConsoleSession, CreatedLink, LinkRef, MyLink, NewLink};

const HERE: &str = "/links";

pub fn routes() -> Router<App> {
    Router::new().route(HERE, get(links_page).post(create)).route("/links/{reference}/revoke", post(revoke))
}

/// What a refused form sent back, to fill the form again (never the passphrase).
#[derive(Debug, Default)]
struct Kept {
    purpose: Option<Purpose>,
    account_id: String,
    half: String,
    recipient_name: String,
    recipient_email: String,
    ttl_minutes: String,
    request_id: String,
}

impl Kept {
    fn of(form: &CsrfForm) -> Self {
        let field = |name| form.field(name).unwrap_or_default().to_owned();
        Self {
            purpose: match form.field("purpose") {
                Some("deliver") => Some(Purpose::Deliver),
                Some("collect") => Some(Purpose::Collect),
                _ => None,
            },
            account_id: field("account_id"),
            half: field("half"),
            recipient_name: field("recipient_name"),
            recipient_email: field("recipient_email"),
            ttl_minutes: field("ttl_minutes"),
            request_id: field("request_id"),
        }
    }

    /// The form's values for `purpose`: what was sent if it was this form.
    fn for_form(&self, purpose: Purpose) -> Option<&Self> {
        (self.purpose == Some(purpose)).then_some(self)
    }
}

/// The vault's request for a POSTed form.
fn new_link(form: &CsrfForm) -> Result<NewLink, Error> {
    let invalid = |message: &str| Error::invalid("invalid_link", message);
    let purpose = match form.field("purpose") {
        Some("collect") => Purpose::Collect,
        Some("deliver") => Purpose::Deliver,
        _ => return Err(invalid("choose whether the link collects or delivers a secret")),
    };
    let account_id =
        form.field("account_id").unwrap_or_default().parse::<AccountId>().map_err(|e| invalid(&e.to_string()))?;
    // A deliver link only ever carries the password half.
    let half = match (purpose, form.field("half")) {
        (Purpose::Deliver, None) => Half::Password,
        (_, half) => half.unwrap_or_default().parse::<Half>().map_err(|e| invalid(&e.to_string()))?,
    };
    let recipient_email = form
        .field("recipient_email")
        .unwrap_or_default()
        .parse()
        .map_err(|_| invalid("the recipient's e-mail address does not look like one"))?;
    let ttl_minutes = form
        .field("ttl_minutes")
        .map(|t| t.parse().map_err(|_| invalid("the lifetime is a whole number of minutes")))
        .transpose()?;
    Ok(NewLink {
        purpose,
        account_id,
        half,
        recipient_name: form.field("recipient_name").unwrap_or_default().to_owned(),
        recipient_email,
        ttl_minutes,
        // Taken as typed: spaces at either end are part of a passphrase.
        passphrase: form
            .fields
            .get("passphrase")
            .and_then(|v| v.first())
            .filter(|p| !p.is_empty())
            .map(|p| SecretString::from(p.clone())),
        request_id: form.field("request_id").map(str::to_owned),
    })
}

fn recipient_fields(prefix: &str, kept: Option<&Kept>) -> Markup {
    let id = |name: &str| format!("{prefix}-{name}");
    html! {
        div { label for=(id("recipient_name")) { "Recipient's name" }
              input id=(id("recipient_name")) name="recipient_name" required value=[kept.map(|k| &k.recipient_name)]; }
        div { label for=(id("recipient_email")) { "Recipient's e-mail" }
              input id=(id("recipient_email")) name="recipient_email" type="email" required value=[kept.map(|k| &k.recipient_email)]; }
        div { label for=(id("ttl_minutes")) { "Valid for (minutes)" }
              input id=(id("ttl_minutes")) name="ttl_minutes" inputmode="numeric" placeholder="1440 (24 hours)" value=[kept.map(|k| &k.ttl_minutes)]; }
        div { label for=(id("passphrase")) { "Passphrase (optional)" }
              input id=(id("passphrase")) name="passphrase" type="password" autocomplete="new-password"; }
    }
}

fn create_forms(session: &ConsoleSession, kept: &Kept) -> Markup {
    let collect = kept.for_form(Purpose::Collect);
    let deliver = kept.for_form(Purpose::Deliver);
    let half = collect.map(|k| k.half.as_str()).unwrap_or("password");
    html! {
        h2 { "Collect a secret" }
        p.muted { "Someone outside the vault types the password or MFA secret into the link's page once; it becomes the half's new version. For custodians of the half and admins of the org that holds it." }
        form.box.fields method="post" action=(HERE) {
            (csrf_field(session))
            input type="hidden" name="purpose" value="collect";
            div { label for="collect-account_id" { "Account" }
                  input #collect-account_id name="account_id" inputmode="numeric" placeholder="12 digits" required value=[collect.map(|k| &k.account_id)]; }
            div { label for="collect-half" { "Half" }
                  select #collect-half name="half" {
                      option value="password" selected[half == "password"] { "password" }
                      option value="mfa" selected[half == "mfa"] { "mfa" }
                  } }
            (recipient_fields("collect", collect))
            div { button type="submit" data-action="link-create" { "Create the collect link" } }
        }
        h2 { "Deliver a released password" }
        p.muted { "Send the password of an approved request you are the named recipient of to someone by a link they open once; it counts as one of the request's views." }
        form.box.fields method="post" action=(HERE) {
            (csrf_field(session))
            input type="hidden" name="purpose" value="deliver";
            input type="hidden" name="half" value="password";
            div { label for="deliver-request_id" { "Request" }
                  input #deliver-request_id name="request_id" required value=[deliver.map(|k| &k.request_id)]; }
            div { label for="deliver-account_id" { "Account" }
                  input #deliver-account_id name="account_id" inputmode="numeric" placeholder="12 digits" required value=[deliver.map(|k| &k.account_id)]; }
            (recipient_fields("deliver", deliver))
            div { button type="submit" data-action="link-create" { "Create the deliver link" } }
        }
    }
}

fn list(session: &ConsoleSession, links: &[MyLink]) -> Markup {
    html! {
        @if links.is_empty() {
            p.box { "You have created no links yet. Use a form below to collect a secret or deliver a released password." }
        } @else {
            div.scroll {
                table.links {
                    thead { tr { th { "Purpose" } th { "Account" } th { "Half" } th { "Recipient" } th { "State" } th { "Expires" } th { span.sr { "Action" } } } }
                    tbody {
                        @for link in links {
                            @let v = &link.view;
                            tr data-link=(link.reference.as_str()) {
                                td { (v.purpose.as_str()) }
                                td.mono { (v.account_id) }
                                td { (v.half) }
                                td { (v.recipient.name) br; span.muted { (v.recipient.email) } }
                                td data-field="link-state" { (v.state.as_str()) }
                                td { (v.expires_at) }
                                td {
                                    @if v.state == crate::domain::links::LinkState::Pending {
                                        form.inline method="post" action=(format!("/links/{}/revoke", link.reference.as_str())) {
                                            (csrf_field(session))
                                            button.secondary type="submit" data-action="link-revoke" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The whole page: my links, the forms, and a refusal if there is one.
async fn render(app: &App, who: &SignedIn, error: Option<&Error>, kept: &Kept) -> Response {
    let links = app.vault.my_links(who.caller(), &who.http).await;
    let status = error.map_or(StatusCode::OK, status_of);
    let body = html! {
        h1 { "My links" }
        @if let Some(e) = error { p.box.error data-field="error" role="alert" { (e.to_string()) } }
        p.muted { "One-time links you created, newest first. The state is the read receipt: pending, opened, expired or revoked." }
        @match &links {
            Ok(links) => (list(&who.session, links)),
            Err(e) => p.box.error role="alert" { (e.to_string()) },
        }
        (create_forms(&who.session, kept))
    };
    (status, page("My links", Some(signed_in(&who.session)), body)).into_response()
}

/// `GET /links`
pub async fn links_page(State(app): State<App>, who: SignedIn) -> Response {
    render(&app, &who, None, &Kept::default()).await
}

/// The page that shows a new link's URL, once. `no-store` is set here too,
/// not only by the API's headers: a deliver link's URL carries its key.
fn created_page(session: &ConsoleSession, purpose: Purpose, link: &CreatedLink) -> Response {
    let body = html! {
        h1 { "Link created" }
        p { "Copy the link now and send it to the recipient by a channel you trust: "
            strong { "it is shown only this once." } }
        p.box.mono data-field="link-url" { (link.url) }
        dl.box {
            dt { "Purpose" } dd { (purpose.as_str()) }
            dt { "Expires" } dd { (link.expires_at) }
        }
        @if purpose == Purpose::Deliver {
            p.muted { "The part after # is the key that decrypts the password. The vault did not keep it: if this page is lost, revoke the link and make another." }
        }
        p { a.button href=(HERE) { "Back to my links" } }
    };
    let mut response = page("Link created", Some(signed_in(session)), body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /links` (collect or deliver).
pub async fn create(State(app): State<App>, form: CsrfForm) -> Response {
    let who = &form.who;
    let created = match new_link(&form) {
        Ok(new) => {
            let purpose = new.purpose;
            app.vault.create_link(who.caller(), &who.http, new).await.map(|link| (purpose, link))
        }
        Err(e) => {
            let draft =
                EventDraft::new(Some(&who.caller().principal), Action::LinkCreate, Target::default(), &who.http);
            Err(app.vault.refuse(draft, e).await)
        }
    };
    match created {
        Ok((purpose, link)) => created_page(&who.session, purpose, &link),
        Err(Error::ReauthenticationRequired) => step_up(HERE),
        Err(e) => render(&app, who, Some(&e), &Kept::of(&form)).await,
    }
}

/// `POST /links/{reference}/revoke`
pub async fn revoke(State(app): State<App>, Path(reference): Path<String>, form: CsrfForm) -> Response {
    let who = &form.who;
    let revoked = match LinkRef::parse(&reference) {
        Some(link) => app.vault.revoke_my_link(who.caller(), &who.http, &link).await.map(|_| ()),
        None => Err(Error::NotFound("link")),
    };
    match revoked {
        Ok(()) => redirect(HERE, &[]),
        Err(Error::ReauthenticationRequired) => step_up(HERE),
        Err(e) => render(&app, who, Some(&e), &Kept::default()).await,
    }
}
