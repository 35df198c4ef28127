//! `/accounts` and `/accounts/{id}`: the accounts a person may see, and one
//! account's status and custody (mode, custodians, halves and their
//! versions, rotation, onboarding, root sign-ins, reverse assumption) with the forms of what this person may
//! do there.
//! The forms post to `account_actions`; every rule is the vault's.

use std::collections::HashMap;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

use super::csrf_field;
use super::page::page;
use super::request_page::{refusal_box, step_up};
use super::signed::SignedIn;
use super::signed_in;
use super::{account_actions, account_lifecycle, account_reverse, account_signins, qr_upload};
use crate::app::App;
use crate::domain::ids::{AccountId, Half, Role};
use crate::error::Error;
use crate::http::error::status_of;
use crate::store::halves::HalfStatus;
use crate::vault::{AccountView, RootSigninQuery};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/accounts", get(list))
        .route("/accounts/{account_id}", get(show))
        .route("/accounts/{account_id}/custodians/{half}", post(account_actions::custodians))
        .route("/accounts/{account_id}/halves/password", post(account_actions::deposit_password))
        .route("/accounts/{account_id}/halves/mfa", post(account_actions::deposit_mfa))
        .route(
            "/accounts/{account_id}/halves/mfa/qr",
            post(qr_upload::deposit).layer(DefaultBodyLimit::max(qr_upload::MAX_UPLOAD_BYTES)),
        )
        .route("/accounts/{account_id}/halves/password/rotate", post(account_actions::rotate))
        .route("/accounts/{account_id}/halves/password/rotate/confirm", post(account_actions::confirm_rotation))
        .route("/accounts/{account_id}/reverse-assumption", post(account_reverse::request))
        .route("/accounts/{account_id}/reverse-assumption/{step}", post(account_reverse::step))
        .route("/accounts/{account_id}/reverse-assumption/checklist/{item}", post(account_reverse::checklist))
}

pub fn account_href(id: &AccountId) -> String {
    format!("/accounts/{id}")
}

/// The list's filters, as the query names them.
#[derive(Debug, Default)]
struct Filters {
    customer_org: Option<String>,
    custody: Option<String>,
    rotation_due: bool,
}

impl Filters {
    fn from_query(q: &HashMap<String, String>) -> Self {
        let get = |k: &str| q.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Self { customer_org: get("customer_org"), custody: get("custody"), rotation_due: get("rotation_due").is_some() }
    }

    fn keeps(&self, a: &AccountView) -> bool {
        let customer = a.account.customer_org.as_ref().map(|o| o.as_str());
        self.customer_org.as_deref().is_none_or(|c| customer == Some(c))
            && self.custody.as_deref().is_none_or(|m| a.account.custody.as_str() == m)
            && (!self.rotation_due || a.rotation_due)
    }
}

const MODES: [&str; 4] = ["provider_split", "co_owned", "shared_payer", "customer_owned"];

/// `GET /accounts?customer_org=&custody=&rotation_due=on`
pub async fn list(State(app): State<App>, who: SignedIn, Query(q): Query<HashMap<String, String>>) -> Response {
    let accounts = match app.vault.accounts(who.caller(), &who.http).await {
        Ok(a) => a,
        Err(e) => return problem_page(&who, &e),
    };
    let filters = Filters::from_query(&q);
    let mut customers: Vec<&str> =
        accounts.iter().filter_map(|a| a.account.customer_org.as_ref()).map(|o| o.as_str()).collect();
    customers.sort_unstable();
    customers.dedup();
    let shown: Vec<&AccountView> = accounts.iter().filter(|a| filters.keeps(a)).collect();
    let body = html! {
        h1 { "Accounts" }
        form.fields method="get" action="/accounts" {
            div {
                label for="customer_org" { "Customer" }
                select #customer_org name="customer_org" {
                    option value="" { "any" }
                    @for c in &customers { option value=(c) selected[filters.customer_org.as_deref() == Some(*c)] { (c) } }
                }
            }
            div {
                label for="custody" { "Custody mode" }
                select #custody name="custody" {
                    option value="" { "any" }
                    @for m in MODES { option value=(m) selected[filters.custody.as_deref() == Some(m)] { (m) } }
                }
            }
            div {
                input #rotation_due type="checkbox" name="rotation_due" value="on" checked[filters.rotation_due];
                label for="rotation_due" { "Only accounts whose password is due for rotation" }
            }
            div { button type="submit" { "Filter" } }
        }
        @if accounts.is_empty() {
            p.box { "You can see no account yet: the provider registers accounts, and your org sees those it is a party to." }
        } @else if shown.is_empty() {
            p.box { "No account matches these filters. " a href="/accounts" { "Show all" } }
        } @else {
            div.scroll { table {
                thead { tr { th { "Account" } th { "Name" } th { "Customer" } th { "Custody" } th { "Rotation" } } }
                tbody { @for a in &shown { tr data-account=(a.account.account_id) {
                    td { a.mono href=(account_href(&a.account.account_id)) { (a.account.account_id) } }
                    td { (a.account.name) }
                    td { (a.account.customer_org.as_ref().map_or("none", |o| o.as_str())) }
                    td { (a.account.custody.as_str()) }
                    td { @if a.rotation_due { strong { "due" } } @else { "—" } }
                } } }
            } }
        }
    };
    page("Accounts", Some(signed_in(&who.session)), body).into_response()
}

fn problem_page(who: &SignedIn, e: &Error) -> Response {
    let body = html! { h1 { "Not shown" } (refusal_box(e)) p { a href="/accounts" { "Back to the accounts" } } };
    (status_of(e), page("Not shown", Some(signed_in(&who.session)), body)).into_response()
}

/// What one answer on the account page adds: a refusal for a form, or a
/// confirmation, or a secret the person just asked for on purpose.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Which form the refusal belongs to (`custodians-password`, …).
    pub form: Option<&'static str>,
    pub error: Option<Error>,
    pub notice: Option<String>,
    /// Kept values of a refused custodians form.
    pub kept_principals: Option<String>,
    /// Extra markup shown first (a generated password or a candidate).
    pub reveal: Option<Markup>,
}

fn error_for(outcome: &Outcome, form: &str) -> Markup {
    html! { @if outcome.form == Some(form) { @if let Some(e) = &outcome.error { (refusal_box(e)) } } }
}

fn custodians_section(who: &SignedIn, view: &AccountView, half: Half, outcome: &Outcome) -> Markup {
    let list = match half {
        Half::Password => &view.custodians.password,
        Half::Mfa => &view.custodians.mfa,
    };
    let form = match half {
        Half::Password => "custodians-password",
        Half::Mfa => "custodians-mfa",
    };
    let current: Vec<String> = list.iter().map(ToString::to_string).collect();
    let text =
        outcome.kept_principals.clone().filter(|_| outcome.form == Some(form)).unwrap_or_else(|| current.join("\n"));
    let id = view.account.account_id.clone();
    let field = format!("principals-{half}");
    html! {
        h3 { (half) " half" }
        @if current.is_empty() { p.muted { "No custodian named." } }
        @else { ul.items { @for p in &current { li.mono { (p) } } } }
        @if who.caller().has_role(Role::Admin) {
            (error_for(outcome, form))
            form.stack method="post" action=(format!("{}/custodians/{half}", account_href(&id))) {
                (csrf_field(&who.session))
                label for=(field) { "Custodians of the " (half) " half, one org/sub per line" }
                textarea id=(field) name="principals" rows="3" { (text) }
                div.row { button type="submit" data-action="custodians-save" { "Save custodians" } }
            }
        }
    }
}

fn half_section(
    who: &SignedIn,
    view: &AccountView,
    status: Option<&HalfStatus>,
    half: Half,
    outcome: &Outcome,
) -> Markup {
    let me = &who.caller().principal;
    let custodian = match half {
        Half::Password => view.custodians.password.contains(me),
        Half::Mfa => view.custodians.mfa.contains(me),
    };
    let base = account_href(&view.account.account_id);
    html! {
        h3 { (half) " half" }
        @match status.and_then(|s| s.current_version) {
            None => p.muted { "Nothing deposited yet." },
            Some(v) => p { "Current version " strong { (v) } @if let Some(at) = status.and_then(|s| s.updated_at.as_ref()) { ", since " (at) } "."
                @if status.is_some_and(|s| s.rotation_due) { " " strong { "Due for rotation." } } },
        }
        @if let Some(s) = status { @if !s.versions.is_empty() {
            div.scroll { table {
                thead { tr { th { "Version" } th { "State" } th { "Source" } th { "By" } th { "At" } } }
                tbody { @for v in &s.versions { tr { td { (v.version) } td { (v.state) } td { (v.source) } td.mono { (v.created_by) } td { (v.created_at) } } } }
            } }
        } }
        @if custodian {
            @match half {
                Half::Password => {
                    (error_for(outcome, "deposit-password"))
                    form.stack method="post" action=(format!("{base}/halves/password")) {
                        (csrf_field(&who.session))
                        label for="password" { "New password (12+ characters, upper, lower, digit, symbol)" }
                        input #password type="password" name="password" autocomplete="new-password";
                        div.row {
                            button type="submit" data-action="deposit" { "Deposit this password" }
                            button.secondary type="submit" name="generate" value="true" data-action="deposit" { "Generate one instead" }
                        }
                    }
                    (error_for(outcome, "rotate"))
                    form.stack method="post" action=(format!("{base}/halves/password/rotate")) {
                        (csrf_field(&who.session))
                        p { "Rotate: get a generated candidate, set it as the root password in AWS, then confirm it here." }
                        div.row { button.secondary type="submit" data-action="rotate" { "Start a rotation" } }
                    }
                }
                Half::Mfa => {
                    (error_for(outcome, "deposit-mfa"))
                    form.stack method="post" action=(format!("{base}/halves/mfa")) {
                        (csrf_field(&who.session))
                        label for="otpauth_uri" { "otpauth:// URI of the virtual MFA device" }
                        input #otpauth_uri type="password" name="otpauth_uri" autocomplete="off";
                        label for="secret_base32" { "or its secret in base32" }
                        input #secret_base32 type="password" name="secret_base32" autocomplete="off";
                        div.row { button type="submit" data-action="deposit" { "Deposit this seed" } }
                    }
                    form.stack method="post" action=(format!("{base}/halves/mfa/qr")) enctype="multipart/form-data" {
                        (csrf_field(&who.session))
                        label for="qr" { "or a picture of its QR code (PNG or JPEG)" }
                        input #qr type="file" name="qr" accept="image/png,image/jpeg";
                        div.row { button type="submit" data-action="deposit" { "Deposit from the QR code" } }
                    }
                }
            }
        }
    }
}

/// Render the account page for `who`, with what the last form produced.
pub async fn render(app: &App, who: &SignedIn, id: AccountId, outcome: Outcome) -> Response {
    let view = match app.vault.account(who.caller(), &who.http, id.clone()).await {
        Ok(v) => v,
        Err(e) => return problem_page(who, &e),
    };
    let halves = app.vault.halves(who.caller(), &who.http, id.clone()).await.unwrap_or_default();
    let reverse = app.vault.reverse_view(who.caller(), &who.http, id.clone()).await.ok();
    let onboarding = if who.caller().has_role(Role::Admin) {
        app.vault.onboarding(who.caller(), &who.http, id.clone()).await.ok()
    } else {
        None
    };
    let latest = RootSigninQuery { cursor: None, limit: Some(account_signins::SHOWN) };
    let signins = app.vault.root_signins(who.caller(), &who.http, id.clone(), latest).await.ok();
    let status = |h: Half| halves.iter().find(|s| s.half == h);
    let a = &view.account;
    let code = match (&outcome.error, outcome.form) {
        (Some(e), Some(_)) => status_of(e),
        _ => StatusCode::OK,
    };
    let body = html! {
        h1 { (a.name) " " span.mono.muted { (a.account_id) } }
        @if let Some(reveal) = &outcome.reveal { (reveal) }
        @if let Some(n) = &outcome.notice { p.box role="status" { (n) } }
        dl.box {
            dt { "Status" } dd data-field="account-status" { (view.status)
                @if let Some(until) = &view.reopen_until { ", may be reopened until " (until) } }
            dt { "Custody" } dd { (a.custody.as_str()) }
            dt { "Customer" } dd { (a.customer_org.as_ref().map_or("none", |o| o.as_str())) }
            dt { "Kind" } dd { (a.kind.as_str()) ", " (a.model.as_str()) @if a.dedicated_payer { ", dedicated payer" } }
            dt { "Root e-mail" } dd.mono { (a.root_email) }
            dt { "Rotation" } dd { @if view.rotation_due { strong { "password due for rotation" } } @else { "nothing due" } }
        }
        h2 { "Custodians" }
        p.muted { "No one may hold both halves: a change that would let anyone do so is refused." }
        (custodians_section(who, &view, Half::Password, &outcome))
        (custodians_section(who, &view, Half::Mfa, &outcome))
        h2 { "Halves" }
        p.muted { "Versions and who made them; never the secrets." }
        (half_section(who, &view, status(Half::Password), Half::Password, &outcome))
        (half_section(who, &view, status(Half::Mfa), Half::Mfa, &outcome))
        (account_lifecycle::section(onboarding.as_ref()))
        (account_signins::section(signins.as_ref()))
        (super::account_reverse::section(who, app, &view.account.account_id, reverse.as_ref(), &outcome))
    };
    (code, page(&format!("Account {}", a.account_id), Some(signed_in(&who.session)), body)).into_response()
}

/// The account page after one of its forms; a form the vault refused for
/// want of a recent sign-in goes through step-up first.
pub async fn after_form(app: &App, who: &SignedIn, id: AccountId, outcome: Outcome) -> Response {
    if matches!(outcome.error, Some(Error::ReauthenticationRequired)) {
        return step_up(&account_href(&id));
    }
    render(app, who, id, outcome).await
}

/// The answer to a path whose account id is not one.
pub fn bad_account() -> Response {
    super::page::problem(StatusCode::BAD_REQUEST, "Unknown account", "an account id is 12 digits")
}

/// `GET /accounts/{account_id}`
pub async fn show(State(app): State<App>, who: SignedIn, Path(raw): Path<String>) -> Response {
    match raw.parse::<AccountId>() {
        Ok(id) => render(&app, &who, id, Outcome::default()).await,
        Err(e) => problem_page(&who, &Error::from(e)),
    }
}

/// A page that shows a secret the person asked for with a deliberate POST.
pub fn reveal_box(title: &str, secret: &str, after: Markup) -> Markup {
    html! {
        section.box {
            h2 { (title) }
            p.secret.mono data-field="password" { (secret) }
            p.muted { "Shown once, in this answer only: store it now." }
            (after)
        }
    }
}
