//! `GET /v1/accounts/{account_id}/root-signins`: the root events the watch
//! recorded for an account, newest first (docs/root-signin-watch.md).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::accounts::account_id;
use super::extract::{Meta, or_refuse};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::error::Error;
use crate::vault::{RootSigninPage, RootSigninQuery};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size.
    #[param(minimum = 1)]
    limit: Option<u32>,
}

/// The root sign-ins and root password or e-mail changes the watch
/// recorded for the account, newest first, classified `expected`,
/// `unexplained` or `failed` (the account's parties).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/root-signins", operation_id = "list_root_signins", tag = "accounts",
    security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "One page of root events.", body = RootSigninPage)))]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    Path(raw): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<RootSigninPage>, Error> {
    let id = account_id(&app, &caller, &http, Action::RootSigninList, &raw).await?;
    let draft = || EventDraft::new(Some(&caller.principal), Action::RootSigninList, Target::account(&id), &http);
    let query = query.map_err(|_| Error::malformed("invalid_query", "query parameters: cursor, limit"));
    let Query(q) = or_refuse(&app, draft, query).await?;
    let page = app.vault.root_signins(&caller, &http, id, RootSigninQuery { cursor: q.cursor, limit: q.limit }).await?;
    Ok(Json(page))
}
