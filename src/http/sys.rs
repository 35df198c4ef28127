//! Health, readiness and the seal.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::extract::{Meta, RawJson, or_refuse, parse_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::crypto::SealStatus;
use crate::error::Error;
use crate::http::error::ErrorBody;

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when unsealed and the database answers, else 503.
pub async fn readyz(State(app): State<App>) -> (StatusCode, Json<Value>) {
    let log = app.vault.store().log();
    let sealed = app.vault.keys().seal_status().sealed || log.keys().is_none();
    let storage = app.vault.store().ping().await;
    let audit_log = if log.tampered().is_some() { "tampered" } else { "intact" };
    let draining = app.draining.load(std::sync::atomic::Ordering::Relaxed);
    let ready = !sealed && storage && audit_log == "intact" && !draining;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut body = json!({"ready": ready, "sealed": sealed, "storage": storage, "audit_log": audit_log});
    if draining {
        body["draining"] = json!(true);
    }
    (status, Json(body))
}

/// Whether the key provider is sealed, and the unseal progress.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SealStatus)]
pub struct ApiSealStatus {
    sealed: bool,
    /// Shares needed to unseal (0 for providers not sealed by shares).
    threshold: u8,
    /// Shares received so far.
    progress: u8,
}

impl From<SealStatus> for ApiSealStatus {
    fn from(s: SealStatus) -> Self {
        Self { sealed: s.sealed, threshold: s.threshold, progress: s.progress }
    }
}

/// Whether the vault is sealed (anyone).
#[utoipa::path(get, path = "/v1/sys/seal-status", operation_id = "seal_status", tag = "sys",
    responses((status = 200, description = "The seal's state.", body = ApiSealStatus)))]
pub async fn seal_status(State(app): State<App>) -> Json<ApiSealStatus> {
    Json(app.vault.keys().seal_status().into())
}

/// One unseal share.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UnsealRequest)]
struct UnsealBody {
    /// A share as `rootvault init` printed it.
    #[schema(value_type = String)]
    share: SecretString,
}

/// Submit one unseal share (anyone holding one; `local` keys only).
#[utoipa::path(post, path = "/v1/sys/unseal", operation_id = "unseal", tag = "sys", request_body = UnsealBody,
    responses(
        (status = 200, description = "The seal's state after the share.", body = ApiSealStatus),
        (status = 409, description = "`already_unsealed`, `duplicate_share`, `not_sealable`.", body = ErrorBody),
    ))]
pub async fn unseal(
    State(app): State<App>,
    Meta(http): Meta,
    body: Result<RawJson, Error>,
) -> Result<Json<ApiSealStatus>, Error> {
    let draft = || EventDraft::new(None, Action::SealUnseal, Target::default(), &http);
    let body: UnsealBody = or_refuse(&app, draft, parse_body(body)).await?;
    Ok(Json(app.vault.unseal(&http, body.share).await?.into()))
}

/// The header that carries a backup's signed manifest (base64).
pub const MANIFEST_HEADER: &str = "x-rootvault-backup-manifest";

/// `GET /v1/sys/backup`: the database file, with its signed manifest.
#[utoipa::path(get, path = "/v1/sys/backup", operation_id = "backup", tag = "sys", security(("bearer" = [])),
    description = "An online backup of the SQLite database (provider admins), its manifest, signed by the \
        audit log's key, in the `x-rootvault-backup-manifest` header (base64). `rootvault backup` saves both.",
    responses(
        (status = 200, description = "The database file.", content_type = "application/vnd.sqlite3", body = Vec<u8>,
            headers(("x-rootvault-backup-manifest" = String, description = "The signed manifest, base64."))),
        (status = 403, description = "Not a provider admin.", body = ErrorBody),
        (status = 409, description = "`backup_unsupported`: on PostgreSQL the database's own tools back up.", body = ErrorBody),
    ))]
pub async fn backup(
    State(app): State<App>,
    caller: crate::auth::Caller,
    Meta(http): Meta,
) -> Result<axum::response::Response, Error> {
    use axum::response::IntoResponse;
    use base64::Engine;
    let file = app.vault.backup(&caller, &http).await?;
    let manifest = base64::engine::general_purpose::STANDARD.encode(&file.manifest);
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/vnd.sqlite3".to_owned()),
            (axum::http::HeaderName::from_static(MANIFEST_HEADER), manifest),
        ],
        file.bytes,
    )
        .into_response())
}
