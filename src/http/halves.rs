//! `/v1/accounts/{id}/halves`: deposits and half metadata.

use axum::Json;
use axum::extract::{Path, State};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::accounts::account_id;
use super::extract::{Meta, RawJson, or_refuse, parse_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::crypto::totp::MfaSeed;
use crate::domain::ids::{AccountId, Half};
use crate::error::Error;
use crate::store::halves::HalfStatus;
use crate::vault::{Deposited, MfaInput, PasswordInput};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    password: Option<SecretString>,
    #[serde(default)]
    generate: bool,
}

impl PasswordBody {
    fn into_input(self) -> Result<PasswordInput, Error> {
        match (self.password, self.generate) {
            (Some(pw), false) => Ok(PasswordInput::Supplied(pw)),
            (None, true) => Ok(PasswordInput::Generate),
            _ => Err(Error::invalid("invalid_body", "send either {\"password\": …} or {\"generate\": true}")),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MfaBody {
    otpauth_uri: Option<SecretString>,
    secret_base32: Option<SecretString>,
    digits: Option<u8>,
    period: Option<u64>,
    algorithm: Option<String>,
}

impl MfaBody {
    fn into_input(self) -> Result<MfaInput, Error> {
        use secrecy::ExposeSecret;
        let seed = match (self.otpauth_uri, self.secret_base32) {
            (Some(uri), None) if self.digits.is_none() && self.period.is_none() && self.algorithm.is_none() => {
                MfaSeed::from_otpauth_uri(uri.expose_secret())?
            }
            (None, Some(secret)) => {
                MfaSeed::from_base32(secret.expose_secret(), self.digits, self.period, self.algorithm.as_deref())?
            }
            _ => {
                return Err(Error::invalid(
                    "invalid_body",
                    "send either {\"otpauth_uri\": …} or {\"secret_base32\": …, \"digits\"?, \"period\"?, \"algorithm\"?}",
                ));
            }
        };
        Ok(MfaInput::Seed(seed))
    }
}

async fn deposit_target(
    app: &App,
    caller: &Caller,
    http: &crate::audit::HttpInfo,
    raw: &str,
    half: Half,
) -> Result<(AccountId, impl Fn() -> EventDraft), Error> {
    let id = account_id(app, caller, http, Action::HalfDeposit, raw).await?;
    let (principal, http, target) = (caller.principal.clone(), http.clone(), Target::half(&id, half));
    Ok((id, move || EventDraft::new(Some(&principal), Action::HalfDeposit, target.clone(), &http)))
}

pub async fn deposit_password(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<Deposited>, Error> {
    let (id, draft) = deposit_target(&app, &caller, &http, &raw, Half::Password).await?;
    let input = or_refuse(&app, draft, parse_body::<PasswordBody>(body).and_then(PasswordBody::into_input)).await?;
    Ok(Json(app.vault.deposit_password(&caller, &http, id, input).await?))
}

pub async fn deposit_mfa(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<Deposited>, Error> {
    let (id, draft) = deposit_target(&app, &caller, &http, &raw, Half::Mfa).await?;
    let input = or_refuse(&app, draft, parse_body::<MfaBody>(body).and_then(MfaBody::into_input)).await?;
    Ok(Json(app.vault.deposit_mfa(&caller, &http, id, input).await?))
}

#[derive(Serialize)]
pub struct HalvesView {
    account_id: AccountId,
    halves: Vec<HalfStatus>,
}

pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<HalvesView>, Error> {
    let id = account_id(&app, &caller, &http, Action::HalfList, &raw).await?;
    let halves = app.vault.halves(&caller, &http, id.clone()).await?;
    Ok(Json(HalvesView { account_id: id, halves }))
}

pub async fn rotate(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<crate::vault::RotationCandidate>, Error> {
    let id = account_id(&app, &caller, &http, Action::HalfRotate, &raw).await?;
    Ok(Json(app.vault.rotate_password(&caller, &http, id).await?))
}

pub async fn confirm_rotation(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<Deposited>, Error> {
    let id = account_id(&app, &caller, &http, Action::HalfRotateConfirm, &raw).await?;
    Ok(Json(app.vault.confirm_rotation(&caller, &http, id).await?))
}
