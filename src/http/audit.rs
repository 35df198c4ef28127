//! `/v1/audit`: checkpoints, proofs, scoped events and export bundles
//! (auditors only).

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde::Deserialize;

use super::extract::{Meta, or_refuse};
use crate::app::App;
use crate::audit::bundle::Bundle;
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::error::Error;
use crate::vault::{AuditQuery, CheckpointView, EventFormat};

async fn query<T>(
    app: &App,
    caller: &Caller,
    http: &HttpInfo,
    q: Result<Query<T>, QueryRejection>,
) -> Result<T, Error> {
    let draft = || EventDraft::new(Some(&caller.principal), Action::AuditRead, Target::default(), http);
    let parsed = q.map(|Query(q)| q).map_err(|e| Error::malformed("invalid_query", e.body_text()));
    or_refuse(app, draft, parsed).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointQuery {
    size: Option<u64>,
}

/// The latest checkpoint, or with `?size=N` the one issued at that size.
pub async fn checkpoint(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    q: Result<Query<CheckpointQuery>, QueryRejection>,
) -> Result<Json<CheckpointView>, Error> {
    let q = query(&app, &caller, &http, q).await?;
    Ok(Json(app.vault.checkpoint_view(&caller, &http, q.size).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    seq: u64,
    size: u64,
}

pub async fn inclusion(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, Error> {
    let q = query(&app, &caller, &http, q).await?;
    Ok(Json(app.vault.inclusion_proof(&caller, &http, q.seq, q.size).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    from: u64,
    to: u64,
}

pub async fn consistency(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, Error> {
    let q = query(&app, &caller, &http, q).await?;
    Ok(Json(app.vault.consistency_proof(&caller, &http, q.from, q.to).await?))
}

/// JSON Lines (default) or CSV, streamed page by page.
pub async fn events(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, Error> {
    let q = query(&app, &caller, &http, q).await?;
    let content_type = match q.format.unwrap_or_default() {
        EventFormat::Jsonl => "application/x-ndjson; charset=utf-8",
        EventFormat::Csv => "text/csv; charset=utf-8",
    };
    let chunks = app.vault.event_stream(&caller, &http, q).await?;
    let body = Body::from_stream(stream::unfold(chunks, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) }));
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

pub async fn export(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Bundle>, Error> {
    let q = query(&app, &caller, &http, q).await?;
    Ok(Json(app.vault.export(&caller, &http, q).await?))
}
