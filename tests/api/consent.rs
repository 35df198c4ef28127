//! Consent to assignment (seed 000): a public-sector or AWS India account is
//! handed back only once the provider's and the customer's admins have each
//! marked the consent signed, once.

use reqwest::StatusCode;
use serde_json::json;
use time::OffsetDateTime;

use crate::helpers::{Reply, TestApp, spawn_app};
use crate::reverse::{ITEMS, next_handback_day, payer, request_body};

const ACCOUNT: &str = "/v1/accounts/123456789012";
const BASE: &str = "/v1/accounts/123456789012/reverse-assumption";

async fn patch(app: &TestApp, who: &str, body: serde_json::Value) -> Reply {
    app.send(reqwest::Method::PATCH, ACCOUNT, Some(&app.token(who, &["admin"])), Some(body)).await
}

/// Bring the hand-back to the point where only the consent is missing.
async fn ready_for_hand_off(app: &TestApp) {
    let (ada, gina) = (app.token("acme/ada", &["admin"]), app.token("globex/gina", &["admin"]));
    let day = next_handback_day();
    assert_eq!(app.post(BASE, &gina, request_body(day)).await.status, StatusCode::CREATED);
    app.post(&format!("{BASE}/schedule"), &ada, json!({"date": day.to_string()})).await;
    app.app.vault.danger_shift_clock((day - OffsetDateTime::now_utc().date()).whole_seconds());
    app.post(&format!("{BASE}/confirm-balance"), &ada, json!({})).await;
    for item in ITEMS {
        app.post(&format!("{BASE}/checklist/{item}"), &ada, json!({"status": "done"})).await;
    }
}

async fn consent(app: &TestApp, who: &str) -> Reply {
    app.post(&format!("{BASE}/consent"), &app.token(who, &["admin"]), json!({})).await
}

async fn hand_off(app: &TestApp) -> Reply {
    app.post(&format!("{BASE}/handoff"), &app.token("acme/ada", &["admin"]), json!({"kind": "collect"})).await
}

#[tokio::test]
async fn a_public_sector_account_is_handed_off_only_once_both_sides_marked_the_consent() {
    let app = spawn_app().await;
    let mut body = crate::helpers::account_body("123456789012", "shared_payer", Some("globex"));
    body["public_sector"] = json!(true);
    let created = app.post("/v1/accounts", &app.token("acme/ada", &["admin"]), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        (created.body["public_sector"].as_bool(), created.body["aws_india"].as_bool()),
        (Some(true), Some(false))
    );
    app.assign("123456789012", "password", "acme/ada", &["acme/alice"]).await;
    app.deposit_password("123456789012", "acme/alice", crate::helpers::PASSWORD).await;
    ready_for_hand_off(&app).await;

    let refused = hand_off(&app).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "consent_required"), "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("the provider and the customer have not"));
    let marked = consent(&app, "globex/gina").await;
    assert_eq!(marked.status, StatusCode::OK, "{}", marked.body);
    assert_eq!(marked.body["consent"]["customer"]["by"], "globex/gina");
    assert_eq!(marked.body["consent"]["missing"], json!(["provider"]));
    let twice = consent(&app, "globex/gina").await;
    assert_eq!((twice.status, twice.code()), (StatusCode::CONFLICT, "consent_already_marked"));
    let by_staff = app.post(&format!("{BASE}/consent"), &app.token("acme/sam", &["staff"]), json!({})).await;
    assert_eq!(by_staff.status, StatusCode::FORBIDDEN);
    let half = hand_off(&app).await;
    assert_eq!((half.status, half.code()), (StatusCode::CONFLICT, "consent_required"));
    assert!(half.body["error"]["message"].as_str().unwrap().contains("the provider has not"));
    assert_eq!(consent(&app, "acme/ada").await.body["consent"]["missing"], json!([]));
    let handed = hand_off(&app).await;
    assert_eq!(handed.body["state"], "handed_off", "{}", handed.body);
    let event = app.last_event("reverse.consent");
    assert_eq!((event["outcome"].as_str(), event["details"]["side"].as_str()), (Some("ok"), Some("provider")));
    let hooks: i64 =
        app.db().query_row("SELECT COUNT(*) FROM outbox WHERE event = 'consent.marked'", [], |r| r.get(0)).unwrap();
    assert_eq!(hooks, 0, "no subscriber asked; the event itself is in the audit log");
}

#[tokio::test]
async fn the_aws_india_flag_is_set_by_a_provider_admin_and_then_needs_the_consent_too() {
    let app = spawn_app().await;
    payer(&app).await;
    let by_customer = patch(&app, "globex/gina", json!({"aws_india": true})).await;
    assert_eq!(by_customer.status, StatusCode::FORBIDDEN);
    let ready = patch(
        &app,
        "acme/ada",
        json!({"aws_india": true, "contacts": {"billing": "billing@acme.example", "security": "soc@globex.example"}}),
    )
    .await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body["aws_india"], true);
    assert_eq!(app.last_event("account.update")["details"]["changed"], json!(["contacts", "aws_india"]));
    let unknown = patch(&app, "acme/ada", json!({"custody": "co_owned"})).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "custody is not changed this way");
    ready_for_hand_off(&app).await;
    assert_eq!(hand_off(&app).await.code(), "consent_required");
    consent(&app, "acme/ada").await;
    consent(&app, "globex/gina").await;
    assert_eq!(hand_off(&app).await.body["state"], "handed_off");
}

#[tokio::test]
async fn an_account_that_needs_no_consent_refuses_one_and_hands_off_without_it() {
    let app = spawn_app().await;
    payer(&app).await;
    ready_for_hand_off(&app).await;
    let view = app.get(BASE, &app.token("acme/ada", &["admin"])).await;
    assert_eq!(view.body["consent"]["required"], false);
    let refused = consent(&app, "acme/ada").await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "consent_not_required"));
    assert_eq!(hand_off(&app).await.body["state"], "handed_off");
}
