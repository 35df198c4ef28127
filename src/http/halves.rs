//! `/v1/accounts/{id}/halves`: deposits and half metadata.

use axum::Json;
use axum::extract::{Path, State};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts::account_id;
use super::extract::{Meta, RawJson, or_refuse, parse_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::crypto::totp::MfaSeed;
use crate::domain::ids::{AccountId, Half};
use crate::error::Error;
use crate::http::error::ErrorBody;
use crate::store::halves::{HalfStatus, VersionInfo};
use crate::vault::{Deposited, MfaInput, PasswordInput};

/// A password deposit: `{"password": …}` or `{"generate": true}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PasswordDeposit)]
struct PasswordBody {
    /// The root password: 12 or more characters of all four classes, none
    /// of the account's last 24.
    #[schema(value_type = Option<String>, min_length = 12)]
    password: Option<SecretString>,
    /// Generate a 32-character password instead (returned once).
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

/// An MFA deposit: `{"otpauth_uri": …}` or `{"secret_base32": …, "digits"?,
/// "period"?, "algorithm"?}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MfaDeposit)]
struct MfaBody {
    /// `otpauth://totp/…?secret=…` as the QR code of the virtual MFA device holds it.
    #[schema(value_type = Option<String>)]
    otpauth_uri: Option<SecretString>,
    /// The TOTP seed in base32.
    #[schema(value_type = Option<String>)]
    secret_base32: Option<SecretString>,
    #[schema(example = 6)]
    digits: Option<u8>,
    #[schema(example = 30)]
    period: Option<u64>,
    #[schema(example = "SHA1")]
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

/// Deposit a new version of the password half (its custodians).
#[utoipa::path(put, path = "/v1/accounts/{account_id}/halves/password", operation_id = "deposit_password", tag = "halves",
    security(("bearer" = [])), request_body = PasswordBody,
    responses(
        (status = 200, description = "The new version (and the generated password, once).", body = Deposited),
        (status = 403, description = "Not a custodian of the half.", body = ErrorBody),
        (status = 409, description = "`four_eyes_violation`, `nothing_in_custody`, or the account cannot take deposits now.", body = ErrorBody),
    ))]
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

/// Deposit a new version of the MFA half (its custodians).
#[utoipa::path(put, path = "/v1/accounts/{account_id}/halves/mfa", operation_id = "deposit_mfa", tag = "halves",
    security(("bearer" = [])), request_body = MfaBody,
    responses(
        (status = 200, description = "The new version.", body = Deposited),
        (status = 403, description = "Not a custodian of the half.", body = ErrorBody),
        (status = 409, description = "`four_eyes_violation`, `nothing_in_custody`, or the account cannot take deposits now.", body = ErrorBody),
    ))]
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

/// One stored version of a half: metadata, never the secret.
#[derive(Serialize, ToSchema)]
#[schema(as = HalfVersion)]
pub struct ApiVersion {
    version: u32,
    /// `current`, `superseded` or `shredded`.
    #[schema(example = "current")]
    state: String,
    /// `supplied`, `generated`, `rotated` or `link`.
    #[schema(example = "supplied")]
    source: String,
    /// The key that wraps this version's data key.
    key_id: String,
    created_at: String,
    created_by: String,
}

impl From<VersionInfo> for ApiVersion {
    fn from(v: VersionInfo) -> Self {
        let VersionInfo { version, state, source, key_id, created_at, created_by } = v;
        Self { version, state, source, key_id, created_at, created_by }
    }
}

/// What the API shows of one half.
#[derive(Serialize, ToSchema)]
#[schema(as = HalfStatus)]
pub struct ApiHalf {
    half: Half,
    current_version: Option<u32>,
    rotation_due: bool,
    updated_at: Option<String>,
    versions: Vec<ApiVersion>,
}

impl From<HalfStatus> for ApiHalf {
    fn from(h: HalfStatus) -> Self {
        Self {
            half: h.half,
            current_version: h.current_version,
            rotation_due: h.rotation_due,
            updated_at: h.updated_at,
            versions: h.versions.into_iter().map(ApiVersion::from).collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct HalvesView {
    account_id: AccountId,
    halves: Vec<ApiHalf>,
}

/// Both halves' versions, timestamps and `rotation_due` (the account's
/// parties); never a secret.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/halves", operation_id = "list_halves", tag = "halves", security(("bearer" = [])),
    responses((status = 200, description = "Both halves' metadata.", body = HalvesView)))]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<HalvesView>, Error> {
    let id = account_id(&app, &caller, &http, Action::HalfList, &raw).await?;
    let halves = app.vault.halves(&caller, &http, id.clone()).await?;
    Ok(Json(HalvesView { account_id: id, halves: halves.into_iter().map(ApiHalf::from).collect() }))
}

/// Generate a rotation candidate for the password half, returned once;
/// pending until confirmed (its custodians).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/halves/password/rotate", operation_id = "rotate_password", tag = "halves",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The candidate, shown once.", body = crate::vault::RotationCandidate),
        (status = 403, description = "Not a custodian of the password half.", body = ErrorBody),
        (status = 409, description = "Nothing to rotate, or the account cannot take deposits now.", body = ErrorBody),
    ))]
pub async fn rotate(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<crate::vault::RotationCandidate>, Error> {
    let id = account_id(&app, &caller, &http, Action::HalfRotate, &raw).await?;
    Ok(Json(app.vault.rotate_password(&caller, &http, id).await?))
}

/// Make the pending candidate the current password (the custodian who
/// asked for it).
#[utoipa::path(post, path = "/v1/accounts/{account_id}/halves/password/rotate/confirm", operation_id = "confirm_rotation", tag = "halves",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The candidate is now the current version.", body = Deposited),
        (status = 403, description = "Not the custodian who asked for the candidate.", body = ErrorBody),
        (status = 409, description = "`no_pending_rotation`.", body = ErrorBody),
    ))]
pub async fn confirm_rotation(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<Deposited>, Error> {
    let id = account_id(&app, &caller, &http, Action::HalfRotateConfirm, &raw).await?;
    Ok(Json(app.vault.confirm_rotation(&caller, &http, id).await?))
}
