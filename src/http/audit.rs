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
use utoipa::IntoParams;

use super::extract::{Meta, or_refuse};
use crate::app::App;
use crate::audit::bundle::Bundle;
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::error::Error;
use crate::http::error::ErrorBody;
use crate::vault::{AuditQuery, CheckpointView, ConsistencyProof, EventFormat, InclusionProof};

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

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckpointQuery {
    /// The tree size of an earlier checkpoint.
    size: Option<u64>,
}

/// The latest checkpoint, or with `?size=N` the one issued at that size
/// (auditors).
#[utoipa::path(get, path = "/v1/audit/checkpoint", operation_id = "audit_checkpoint", tag = "audit", security(("bearer" = [])),
    params(CheckpointQuery),
    responses(
        (status = 200, description = "The signed note and the log's key.", body = CheckpointView),
        (status = 403, description = "Not an `auditor`.", body = ErrorBody),
        (status = 404, description = "No checkpoint was issued at that size.", body = ErrorBody),
    ))]
pub async fn checkpoint(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    q: Result<Query<CheckpointQuery>, QueryRejection>,
) -> Result<Json<CheckpointView>, Error> {
    let q = query(&app, &caller, &http, q).await?;
    Ok(Json(app.vault.checkpoint_view(&caller, &http, q.size).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The event's sequence number (one of the caller's events).
    seq: u64,
    /// The tree size the proof is for.
    size: u64,
}

/// The inclusion proof of one of the caller's events (auditors).
#[utoipa::path(get, path = "/v1/audit/proofs/inclusion", operation_id = "inclusion_proof", tag = "audit", security(("bearer" = [])),
    params(InclusionQuery),
    responses(
        (status = 200, description = "The proof.", body = InclusionProof),
        (status = 403, description = "Not an `auditor`.", body = ErrorBody),
        (status = 404, description = "No such event among the caller's.", body = ErrorBody),
        (status = 422, description = "`invalid_proof_request`: `seq` is not below `size`, or `size` is beyond the log.", body = ErrorBody),
    ))]
pub async fn inclusion(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Result<Json<InclusionProof>, Error> {
    let q = query(&app, &caller, &http, q).await?;
    Ok(Json(app.vault.inclusion_proof(&caller, &http, q.seq, q.size).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The smaller tree size (a checkpoint the auditor trusts).
    from: u64,
    /// The larger tree size.
    to: u64,
}

/// The consistency proof between two tree sizes: hashes only (auditors).
#[utoipa::path(get, path = "/v1/audit/proofs/consistency", operation_id = "consistency_proof", tag = "audit", security(("bearer" = [])),
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof.", body = ConsistencyProof),
        (status = 403, description = "Not an `auditor`.", body = ErrorBody),
        (status = 422, description = "`invalid_proof_request`: `from` is above `to`, or `to` is beyond the log.", body = ErrorBody),
    ))]
pub async fn consistency(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Result<Json<ConsistencyProof>, Error> {
    let q = query(&app, &caller, &http, q).await?;
    Ok(Json(app.vault.consistency_proof(&caller, &http, q.from, q.to).await?))
}

/// The caller's org's events, JSON Lines (default; each line an event of
/// `audit-schema/event.schema.json`) or CSV, streamed page by page
/// (auditors).
#[utoipa::path(get, path = "/v1/audit/events", operation_id = "audit_events", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "The events, one per line.",
            content((String = "application/x-ndjson"), (String = "text/csv"))),
        (status = 403, description = "Not an `auditor`.", body = ErrorBody),
    ))]
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

/// A verifiable bundle of the caller's org's events: each with its
/// inclusion proof, the checkpoint, a consistency proof from a trusted size
/// and the signed completeness statements (auditors; see
/// `audit-schema/bundle.schema.json` and `rootvault audit verify`).
#[utoipa::path(get, path = "/v1/audit/export", operation_id = "audit_export", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "The bundle.", body = Bundle),
        (status = 403, description = "Not an `auditor`.", body = ErrorBody),
        (status = 422, description = "`invalid_proof_request`: `trusted_size` is beyond the log.", body = ErrorBody),
    ))]
pub async fn export(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Bundle>, Error> {
    let q = query(&app, &caller, &http, q).await?;
    Ok(Json(app.vault.export(&caller, &http, q).await?))
}
