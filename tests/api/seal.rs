//! The local key provider's seal: shares, progress, and what a sealed
//! service refuses.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_sealed_app};

#[tokio::test]
async fn a_sealed_service_refuses_work_until_threshold_shares_arrive() {
    let (app, shares) = spawn_sealed_app(5, 3).await;
    let status = app.send(reqwest::Method::GET, "/v1/sys/seal-status", None, None).await;
    assert_eq!(status.body, json!({"sealed": true, "threshold": 3, "progress": 0}));
    assert_eq!(app.send(reqwest::Method::GET, "/readyz", None, None).await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.send(reqwest::Method::GET, "/healthz", None, None).await.status, StatusCode::OK);

    let ada = app.token("acme/ada", &["admin"]);
    let refused = app.register("123456789012", "provider_split", None).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::SERVICE_UNAVAILABLE, "sealed"));
    assert_eq!(app.get("/v1/accounts", &ada).await.code(), "sealed");
    let auditor = app.get("/v1/audit/export", &app.token("acme/audrey", &["auditor"])).await;
    assert_eq!((auditor.status, auditor.code()), (StatusCode::SERVICE_UNAVAILABLE, "sealed"));

    let unseal = |share: &str| app.send(reqwest::Method::POST, "/v1/sys/unseal", None, Some(json!({"share": share})));
    assert_eq!(unseal(&shares[3]).await.body, json!({"sealed": true, "threshold": 3, "progress": 1}));
    let again = unseal(&shares[3]).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "duplicate_share"));
    let junk = unseal("definitely-not-a-share").await;
    assert_eq!((junk.status, junk.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_share"));
    assert_eq!(unseal(&shares[0]).await.body["progress"], 2);
    assert_eq!(unseal(&shares[4]).await.body, json!({"sealed": false, "threshold": 3, "progress": 0}));
    let late = unseal(&shares[1]).await;
    assert_eq!((late.status, late.code()), (StatusCode::CONFLICT, "already_unsealed"));

    let ready = app.send(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (ready.status, ready.body["audit_log"].as_str()),
        (StatusCode::OK, Some("intact")),
        "rows written while sealed are accepted"
    );
    assert_eq!(app.register("123456789012", "provider_split", None).await.status, StatusCode::CREATED);
    let events = app.audit_events();
    let unseals: Vec<_> = events.iter().filter(|e| e["action"] == "seal.unseal").collect();
    assert_eq!(unseals.len(), 6);
    assert!(events.iter().any(|e| e["action"] == "audit.export" && e["details"]["code"] == "sealed"));
    assert_eq!(unseals[4]["details"], json!({"sealed": false, "progress": 0}));
    let all = serde_json::to_string(&events).unwrap();
    assert!(shares.iter().all(|s| !all.contains(s.as_str())), "no share in the audit log");
}

#[tokio::test]
async fn shares_that_do_not_reconstruct_the_key_reset_progress() {
    let (app, _) = spawn_sealed_app(3, 2).await;
    let (_, foreign) = spawn_sealed_app(3, 2).await;
    let unseal = |share: &str| app.send(reqwest::Method::POST, "/v1/sys/unseal", None, Some(json!({"share": share})));
    assert_eq!(unseal(&foreign[0]).await.body["progress"], 1);
    let wrong = unseal(&foreign[1]).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNPROCESSABLE_ENTITY, "unseal_failed"));
    let status = app.send(reqwest::Method::GET, "/v1/sys/seal-status", None, None).await;
    assert_eq!(status.body, json!({"sealed": true, "threshold": 2, "progress": 0}));
}

#[tokio::test]
async fn an_unsealed_service_is_ready() {
    let app = spawn_app().await;
    let ready = app.send(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body, json!({"ready": true, "sealed": false, "storage": true, "audit_log": "intact"}));
}
