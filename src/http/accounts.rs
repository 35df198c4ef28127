//! `/v1/accounts`: registering, reading and changing accounts, naming
//! custodians.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::extract::{Meta, RawJson, or_refuse, parse_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::domain::account::{
    AccountKind, AccountModel, AssignmentTerms, Contacts, CustodyMode, Email, KeyOverrides, NewAccount,
};
use crate::domain::ids::{AccountId, Half, OrgName, Principal};
use crate::error::Error;
use crate::vault::{AccountChanges, AccountView, CustodiansView};

/// The body of `POST /v1/accounts`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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
    #[serde(default)]
    contacts: Contacts,
    #[serde(default)]
    kms_keys: KeyOverrides,
    #[serde(default)]
    public_sector: bool,
    #[serde(default)]
    aws_india: bool,
}

pub async fn create(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    body: Result<RawJson, Error>,
) -> Result<(StatusCode, Json<AccountView>), Error> {
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
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Serialize)]
pub struct AccountList {
    accounts: Vec<AccountView>,
}

pub async fn list(State(app): State<App>, caller: Caller, Meta(http): Meta) -> Result<Json<AccountList>, Error> {
    Ok(Json(AccountList { accounts: app.vault.accounts(&caller, &http).await? }))
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

pub async fn show(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
) -> Result<Json<AccountView>, Error> {
    let id = account_id(&app, &caller, &http, Action::AccountRead, &raw).await?;
    Ok(Json(app.vault.account(&caller, &http, id).await?))
}

/// The body of `PATCH /v1/accounts/{id}`: the fields to change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    root_email: Option<Email>,
    contacts: Option<Contacts>,
    public_sector: Option<bool>,
    aws_india: Option<bool>,
}

pub async fn update(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
    body: Result<RawJson, Error>,
) -> Result<Json<AccountView>, Error> {
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
    Ok(Json(app.vault.update_account(&caller, &http, id, changes).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustodiansBody {
    principals: Vec<Principal>,
}

#[derive(Serialize)]
pub struct CustodiansSet {
    account_id: AccountId,
    half: Half,
    principals: Vec<Principal>,
    custodians: CustodiansView,
}

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
