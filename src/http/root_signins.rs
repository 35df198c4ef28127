//! `GET /v1/accounts/{account_id}/root-signins`: the root events the watch
//! recorded for an account, newest first (docs/root-signin-watch.md).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::accounts::account_id;
use super::extract::{Meta, or_refuse};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::error::Error;
use crate::vault::{RootSigninPage, RootSigninQuery};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    cursor: Option<String>,
    limit: Option<u32>,
}

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
