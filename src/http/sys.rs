//! Health, readiness and the seal.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Meta, RawJson, or_refuse, parse_body};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::crypto::SealStatus;
use crate::error::Error;

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

pub async fn seal_status(State(app): State<App>) -> Json<SealStatus> {
    Json(app.vault.keys().seal_status())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnsealBody {
    share: SecretString,
}

pub async fn unseal(
    State(app): State<App>,
    Meta(http): Meta,
    body: Result<RawJson, Error>,
) -> Result<Json<SealStatus>, Error> {
    let draft = || EventDraft::new(None, Action::SealUnseal, Target::default(), &http);
    let body: UnsealBody = or_refuse(&app, draft, parse_body(body)).await?;
    Ok(Json(app.vault.unseal(&http, body.share).await?))
}

/// The header that carries a backup's signed manifest (base64).
pub const MANIFEST_HEADER: &str = "x-rootvault-backup-manifest";

/// `GET /v1/sys/backup`: the database file, with its signed manifest.
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
