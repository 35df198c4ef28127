//! `/v1/accounts`: registering, reading and changing accounts, naming
//! custodians.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Meta, RawJson, object, optional_object, or_refuse, parse_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::domain::account::{
    AccountKind, AccountModel, AssignmentTerms, Contacts, CustodyMode, Email, KeyOverrides, NewAccount,
};
use crate::domain::ids::{AccountId, Half, OrgName, Principal};
use crate::domain::onboarding::OnboardingState;
use crate::error::Error;
use crate::http::error::ErrorBody;
use crate::vault::{AccountChanges, AccountView, CustodiansView};

/// An account as the API shows it: metadata and custodians, never a secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Account)]
pub struct ApiAccount {
    account_id: AccountId,
    name: String,
    kind: AccountKind,
    model: AccountModel,
    dedicated_payer: bool,
    custody: CustodyMode,
    /// The customer org (`null` for the provider's own accounts).
    customer_org: Option<OrgName>,
    root_email: Email,
    contacts: Contacts,
    /// Present only when the account names its own KMS keys.
    #[serde(skip_serializing_if = "KeyOverrides::is_empty")]
    kms_keys: KeyOverrides,
    public_sector: bool,
    aws_india: bool,
    custodians: CustodiansView,
    /// Whether a released password waits for its rotation (invariant 7).
    rotation_due: bool,
    /// `onboarding` (until onboarded), `active`, `closed`,
    /// `closed_permanently` or `returned`.
    #[schema(example = "active")]
    status: &'static str,
    onboarding: OnboardingState,
    /// When a closed account was closed (RFC 3339).
    closed_at: Option<String>,
    /// Until when a closed account may be reopened (RFC 3339).
    reopen_until: Option<String>,
}

impl From<AccountView> for ApiAccount {
    fn from(v: AccountView) -> Self {
        let a = v.account;
        Self {
            account_id: a.account_id,
            name: a.name,
            kind: a.kind,
            model: a.model,
            dedicated_payer: a.dedicated_payer,
            custody: a.custody,
            customer_org: a.customer_org,
            root_email: a.root_email,
            contacts: a.contacts,
            kms_keys: a.kms_keys,
            public_sector: a.assignment.public_sector,
            aws_india: a.assignment.aws_india,
            custodians: v.custodians,
            rotation_due: v.rotation_due,
            status: v.status,
            onboarding: v.onboarding,
            closed_at: v.closed_at,
            reopen_until: v.reopen_until,
        }
    }
}

/// The body of `POST /v1/accounts`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AccountCreate)]
struct CreateBody {
    account_id: AccountId,
    name: String,
    kind: AccountKind,
    model: AccountModel,
    #[serde(default)]
    dedicated_payer: bool,
    custody: CustodyMode,
    #[serde(default)]
    customer_org: Option<OrgName>,
    root_email: Email,
    #[serde(default, deserialize_with = "object")]
    contacts: Contacts,
    #[serde(default, deserialize_with = "object")]
    kms_keys: KeyOverrides,
    #[serde(default)]
    public_sector: bool,
    #[serde(default)]
    aws_india: bool,
}

/// Register an account (provider admins).
#[utoipa::path(post, path = "/v1/accounts", operation_id = "create_account", tag = "accounts", security(("bearer" = [])),
    request_body = CreateBody,
    responses(
        (status = 201, description = "The account, registered.", body = ApiAccount),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "`account_exists`.", body = ErrorBody),
    ))]
pub async fn create(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    body: Result<RawJson, Error>,
) -> Result<(StatusCode, Json<ApiAccount>), Error> {
    let draft = || EventDraft::new(Some(&caller.principal), Action::AccountCreate, Target::default(), &http);
    let b: CreateBody = or_refuse(&app, draft, parse_body(body)).await?;
    let new = NewAccount {
        account_id: b.account_id,
        name: b.name,
        kind: b.kind,
        model: b.model,
        dedicated_payer: b.dedicated_payer,
        custody: b.custody,
        customer_org: b.customer_org,
        root_email: b.root_email,
        contacts: b.contacts,
        kms_keys: b.kms_keys,
        assignment: AssignmentTerms { public_sector: b.public_sector, aws_india: b.aws_india },
    };
    let view = app.vault.create_account(&caller, &http, new).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    accounts: Vec<ApiAccount>,
}

/// The accounts the caller's org may see: all of them for the provider, its
/// own for a customer.
#[utoipa::path(get, path = "/v1/accounts", operation_id = "list_accounts", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "The visible accounts.", body = AccountList)))]
pub async fn list(State(app): State<App>, caller: Caller, Meta(http): Meta) -> Result<Json<AccountList>, Error> {
    let accounts = app.vault.accounts(&caller, &http).await?;
    Ok(Json(AccountList { accounts: accounts.into_iter().map(ApiAccount::from).collect() }))
}

/// Parse an account id from the path; a malformed one is audited and 400.
pub async fn account_id(
    app: &App,
    caller: &Caller,
    http: &crate::audit::HttpInfo,
    action: Action,
    raw: &str,
) -> Result<AccountId, Error> {
    let draft = || EventDraft::new(Some(&caller.principal), action, Target::default(), http);
    or_refuse(app, draft, raw.parse::<AccountId>().map_err(Error::from)).await
}

/// One account's metadata (404 to orgs that are not its parties).
#[utoipa::path(get, path = "/v1/accounts/{account_id}", operation_id = "show_account", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "The account.", body = ApiAccount)))]
pub async fn show(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<ApiAccount>, Error> {
    let id = account_id(&app, &caller, &http, Action::AccountRead, &raw).await?;
    Ok(Json(app.vault.account(&caller, &http, id).await?.into()))
}

/// The body of `PATCH /v1/accounts/{id}`: the fields to change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AccountUpdate)]
struct UpdateBody {
    name: Option<String>,
    root_email: Option<Email>,
    #[serde(default, deserialize_with = "optional_object")]
    contacts: Option<Contacts>,
    public_sector: Option<bool>,
    aws_india: Option<bool>,
}

/// Change an account's name, root e-mail, contacts or assignment flags
/// (provider admins); absent fields stay as they are.
#[utoipa::path(patch, path = "/v1/accounts/{account_id}", operation_id = "update_account", tag = "accounts", security(("bearer" = [])),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The account as changed.", body = ApiAccount),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "The account is closed or handed back.", body = ErrorBody),
    ))]
pub async fn update(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<ApiAccount>, Error> {
    let id = account_id(&app, &caller, &http, Action::AccountUpdate, &raw).await?;
    let draft = || EventDraft::new(Some(&caller.principal), Action::AccountUpdate, Target::account(&id), &http);
    let b: UpdateBody = or_refuse(&app, draft, parse_body(body)).await?;
    let changes = AccountChanges {
        name: b.name,
        root_email: b.root_email,
        contacts: b.contacts,
        public_sector: b.public_sector,
        aws_india: b.aws_india,
    };
    Ok(Json(app.vault.update_account(&caller, &http, id, changes).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CustodiansBody)]
struct CustodiansBody {
    /// The half's custodians, replacing the current set.
    principals: Vec<Principal>,
}

#[derive(Serialize, ToSchema)]
pub struct CustodiansSet {
    account_id: AccountId,
    half: Half,
    principals: Vec<Principal>,
    custodians: CustodiansView,
}

/// Name the custodians of one half (admins of the org that holds it).
#[utoipa::path(put, path = "/v1/accounts/{account_id}/custodians/{half}", operation_id = "set_custodians", tag = "accounts",
    security(("bearer" = [])), request_body = CustodiansBody,
    responses(
        (status = 200, description = "The half's custodians, and both sets.", body = CustodiansSet),
        (status = 403, description = "Not an admin of the org that holds the half (`not_half_holder`, `forbidden`, `self_assignment`).", body = ErrorBody),
        (status = 409, description = "`four_eyes_violation`: someone could hold both halves; `nothing_in_custody`.", body = ErrorBody),
    ))]
pub async fn set_custodians(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path((raw_id, raw_half)): Path<(String, String)>,
    body: Result<RawJson, Error>,
) -> Result<Json<CustodiansSet>, Error> {
    let id = account_id(&app, &caller, &http, Action::CustodiansSet, &raw_id).await?;
    let draft = || EventDraft::new(Some(&caller.principal), Action::CustodiansSet, Target::account(&id), &http);
    let half = or_refuse(&app, draft, raw_half.parse::<Half>().map_err(Error::from)).await?;
    let draft = || EventDraft::new(Some(&caller.principal), Action::CustodiansSet, Target::half(&id, half), &http);
    let body: CustodiansBody = or_refuse(&app, draft, parse_body(body)).await?;
    let custodians = app.vault.set_custodians(&caller, &http, id.clone(), half, body.principals).await?;
    let principals = match half {
        Half::Password => custodians.password.clone(),
        Half::Mfa => custodians.mfa.clone(),
    };
    Ok(Json(CustodiansSet { account_id: id, half, principals, custodians }))
}
