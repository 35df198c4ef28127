//! The audit log from day one: every change and refusal recorded in the
//! same transaction, the table append-only, and fail-closed when it cannot
//! be written (invariant 4).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, SEED, TestApp, spawn_app, spawn_sealed_app};

fn break_audit_log(app: &TestApp) {
    app.db().break_audit_log();
}

fn repair_audit_log(app: &TestApp) {
    app.db().repair_audit_log();
}

#[tokio::test]
async fn changes_and_refusals_are_recorded_with_the_documented_fields() {
    let app = spawn_app().await;
    app.provider_split_account("123456789012").await;
    let alice = app.token("acme/alice", &["staff"]);
    app.send(
        reqwest::Method::PUT,
        "/v1/accounts/123456789012/halves/password",
        Some(&alice),
        Some(json!({"password": PASSWORD})),
    )
    .await;
    app.deposit_password("123456789012", "acme/bob", PASSWORD).await;

    let events = app.audit_events();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i as u64, "sequence numbers are dense from 0");
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["action", "actor", "details", "http", "outcome", "reason", "scope", "seq", "target", "time"]);
        let time = e["time"].as_str().unwrap();
        assert!(time.ends_with('Z') && time.len() == 24, "RFC 3339 UTC with milliseconds: {time}");
        if e["http"]["user_agent"] != "rootvault dev" {
            assert!(e["http"]["request_id"].as_str().is_some_and(|id| id.len() == 36), "{e}");
        }
        let target: Vec<&str> = e["target"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(target, ["account_id", "half", "link_id_hash", "request_id"]);
    }
    let create = events.iter().find(|e| e["action"] == "account.create").unwrap();
    assert_eq!(create["action"], "account.create");
    assert_eq!(create["actor"], "acme/ada");
    assert_eq!(create["outcome"], "ok");
    assert_eq!(create["target"]["account_id"], "123456789012");

    let deposit = app.last_event("half.deposit");
    assert_eq!(deposit["outcome"], "denied");
    assert_eq!(deposit["actor"], "acme/bob");
    assert_eq!(deposit["details"]["code"], "not_custodian");
    assert_eq!(deposit["target"]["half"], "password");
    let ok = events.iter().find(|e| e["action"] == "half.deposit" && e["outcome"] == "ok").unwrap();
    assert_eq!(ok["details"], json!({"version": 1, "source": "supplied", "key_id": app.password_key_id()}));
    assert!(!serde_json::to_string(&events).unwrap().contains(PASSWORD));
}

#[tokio::test]
async fn the_audit_table_refuses_updates_and_deletes() {
    let app = spawn_app().await;
    app.register("123456789012", "provider_split", None).await;
    let db = app.db();
    let update = db.execute("UPDATE audit_events SET actor = 'acme/nobody'", []).unwrap_err();
    assert!(update.to_string().contains("append-only"));
    let delete = db.execute("DELETE FROM audit_events WHERE seq = 0", []).unwrap_err();
    assert!(delete.to_string().contains("append-only"));
    assert_eq!(app.last_event("account.create")["actor"], "acme/ada");
}

#[tokio::test]
async fn when_the_audit_log_cannot_be_written_nothing_changes() {
    let app = spawn_app().await;
    app.provider_split_account("123456789012").await;
    let before: Vec<Value> = app.audit_events();
    break_audit_log(&app);

    let create = app.register("210987654321", "provider_split", None).await;
    assert_eq!((create.status, create.code()), (StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable"));
    let deposit = app.deposit_password("123456789012", "acme/alice", PASSWORD).await;
    assert_eq!((deposit.status, deposit.code()), (StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable"));
    let mfa = app.deposit_seed("123456789012", "acme/bob", SEED).await;
    assert_eq!(mfa.code(), "audit_unavailable");
    let ada = app.token("acme/ada", &["admin"]);
    let assign =
        app.put("/v1/accounts/123456789012/custodians/password", &ada, json!({"principals": ["acme/zoe"]})).await;
    assert_eq!(assign.code(), "audit_unavailable");
    let refused = app.deposit_password("123456789012", "acme/bob", PASSWORD).await;
    assert_eq!(refused.code(), "audit_unavailable", "a refusal that cannot be recorded is not answered either");
    let read = app.get("/v1/accounts/123456789012", &ada).await;
    assert_eq!(read.code(), "audit_unavailable");
    let unauthenticated = app.send(reqwest::Method::GET, "/v1/accounts", None, None).await;
    assert_eq!(unauthenticated.code(), "audit_unavailable");

    repair_audit_log(&app);
    assert_eq!(app.audit_events(), before, "no event was half-written");
    let db = app.db();
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<i64>(0)).unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM accounts"), 1);
    assert_eq!(count("SELECT COUNT(*) FROM half_versions"), 0);
    assert_eq!(count("SELECT COUNT(*) FROM password_history"), 0);
    assert_eq!(count("SELECT COUNT(*) FROM exposures"), 0);
    let custodians = app.get("/v1/accounts/123456789012", &ada).await;
    assert_eq!(custodians.body["custodians"]["password"], json!(["acme/alice"]));
}

#[tokio::test]
async fn an_unseal_that_cannot_be_recorded_leaves_the_service_sealed() {
    let (app, shares) = spawn_sealed_app(1, 1).await;
    break_audit_log(&app);
    let reply = app.send(reqwest::Method::POST, "/v1/sys/unseal", None, Some(json!({"share": shares[0]}))).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable"));
    let status = app.send(reqwest::Method::GET, "/v1/sys/seal-status", None, None).await;
    assert_eq!(status.body["sealed"], true);
    repair_audit_log(&app);
    let reply = app.send(reqwest::Method::POST, "/v1/sys/unseal", None, Some(json!({"share": shares[0]}))).await;
    assert_eq!(reply.body["sealed"], false);
}
