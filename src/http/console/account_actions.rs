//! The forms of an account's page: custodians, deposits and the rotation
//! of the password half. Each calls the vault use case the API calls and
//! answers with the account's page, showing what happened or why not.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;
use secrecy::{ExposeSecret, SecretString};

use super::accounts::{Outcome, account_href, after_form, bad_account, reveal_box};
use super::csrf_field;
use super::signed::CsrfForm;
use crate::app::App;
use crate::crypto::totp::MfaSeed;
use crate::domain::ids::{AccountId, Half, Principal};
use crate::error::Error;
use crate::vault::{MfaInput, PasswordInput};

fn refused(form: &'static str, e: Error) -> Outcome {
    Outcome { form: Some(form), error: Some(e), ..Outcome::default() }
}

async fn answer(app: &App, form: &CsrfForm, id: AccountId, outcome: Outcome) -> Response {
    after_form(app, &form.who, id, outcome).await
}

/// `POST /accounts/{id}/custodians/{half}` with `principals`, one per line.
pub async fn custodians(State(app): State<App>, Path((raw, half)): Path<(String, String)>, form: CsrfForm) -> Response {
    let Ok(id) = raw.parse::<AccountId>() else { return bad_account() };
    let Ok(half) = half.parse::<Half>() else {
        return super::page::problem(axum::http::StatusCode::NOT_FOUND, "Unknown half", "a half is password or mfa");
    };
    let name = if half == Half::Password { "custodians-password" } else { "custodians-mfa" };
    let text = form.field("principals").unwrap_or_default().to_owned();
    let parsed: Result<Vec<Principal>, Error> = text
        .split(['\n', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.parse().map_err(Error::from))
        .collect();
    let result = match parsed {
        Ok(principals) => {
            app.vault.set_custodians(form.who.caller(), &form.who.http, id.clone(), half, principals).await
        }
        Err(e) => Err(e),
    };
    let outcome = match result {
        Ok(_) => Outcome { notice: Some(format!("Custodians of the {half} half saved.")), ..Outcome::default() },
        Err(e) => Outcome { kept_principals: Some(text), ..refused(name, e) },
    };
    answer(&app, &form, id, outcome).await
}

/// `POST /accounts/{id}/halves/password`: `password`, or `generate=true`.
pub async fn deposit_password(State(app): State<App>, Path(raw): Path<String>, form: CsrfForm) -> Response {
    let Ok(id) = raw.parse::<AccountId>() else { return bad_account() };
    let input = match (form.field("generate"), form.field("password")) {
        (Some(_), _) => PasswordInput::Generate,
        (None, Some(pw)) => PasswordInput::Supplied(SecretString::from(pw.to_owned())),
        (None, None) => {
            let e = Error::invalid("invalid_body", "type a password, or choose to generate one");
            return answer(&app, &form, id, refused("deposit-password", e)).await;
        }
    };
    let outcome = match app.vault.deposit_password(form.who.caller(), &form.who.http, id.clone(), input).await {
        Ok(done) => match &done.generated_password {
            Some(pw) => Outcome {
                reveal: Some(reveal_box(
                    &format!("Generated password, version {}", done.version),
                    pw.expose_secret(),
                    html! { p { "Set it as the root password in AWS now." } },
                )),
                ..Outcome::default()
            },
            None => {
                Outcome { notice: Some(format!("Password stored as version {}.", done.version)), ..Outcome::default() }
            }
        },
        Err(e) => refused("deposit-password", e),
    };
    answer(&app, &form, id, outcome).await
}

/// `POST /accounts/{id}/halves/mfa`: `otpauth_uri` or `secret_base32`.
pub async fn deposit_mfa(State(app): State<App>, Path(raw): Path<String>, form: CsrfForm) -> Response {
    let Ok(id) = raw.parse::<AccountId>() else { return bad_account() };
    let seed = match (form.field("otpauth_uri"), form.field("secret_base32")) {
        (Some(uri), None) => MfaSeed::from_otpauth_uri(uri).map_err(Error::from),
        (None, Some(secret)) => MfaSeed::from_base32(secret, None, None, None).map_err(Error::from),
        _ => Err(Error::invalid("invalid_body", "give either the otpauth:// URI or the base32 secret, not both")),
    };
    let result = match seed {
        Ok(seed) => app.vault.deposit_mfa(form.who.caller(), &form.who.http, id.clone(), MfaInput::Seed(seed)).await,
        Err(e) => Err(e),
    };
    let outcome = match result {
        Ok(done) => {
            Outcome { notice: Some(format!("MFA seed stored as version {}.", done.version)), ..Outcome::default() }
        }
        Err(e) => refused("deposit-mfa", e),
    };
    answer(&app, &form, id, outcome).await
}

/// `POST /accounts/{id}/halves/password/rotate`: a candidate, shown once.
pub async fn rotate(State(app): State<App>, Path(raw): Path<String>, form: CsrfForm) -> Response {
    let Ok(id) = raw.parse::<AccountId>() else { return bad_account() };
    let outcome = match app.vault.rotate_password(form.who.caller(), &form.who.http, id.clone()).await {
        Ok(c) => {
            let confirm = html! {
                form.stack method="post" action=(format!("{}/halves/password/rotate/confirm", account_href(&id))) {
                    (csrf_field(&form.who.session))
                    p { "Set it as the root password in AWS, then confirm: it becomes version " (c.version) "." }
                    button type="submit" data-action="rotate" { "Confirm the rotation" }
                }
            };
            Outcome {
                reveal: Some(reveal_box("Rotation candidate", c.candidate_password.expose_secret(), confirm)),
                ..Outcome::default()
            }
        }
        Err(e) => refused("rotate", e),
    };
    answer(&app, &form, id, outcome).await
}

/// `POST /accounts/{id}/halves/password/rotate/confirm`
pub async fn confirm_rotation(State(app): State<App>, Path(raw): Path<String>, form: CsrfForm) -> Response {
    let Ok(id) = raw.parse::<AccountId>() else { return bad_account() };
    let outcome = match app.vault.confirm_rotation(form.who.caller(), &form.who.http, id.clone()).await {
        Ok(done) => Outcome {
            notice: Some(format!("Rotation confirmed: version {} is current.", done.version)),
            ..Outcome::default()
        },
        Err(e) => refused("rotate", e),
    };
    answer(&app, &form, id, outcome).await
}
