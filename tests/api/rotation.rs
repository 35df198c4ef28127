//! Rotation after use (invariant 7).

use reqwest::StatusCode;
use rootvault::domain::ids::Half;
use serde_json::json;

use crate::helpers::{PASSWORD, STAFF, spawn_app};

#[tokio::test]
async fn a_released_password_is_rotated_by_candidate_and_confirmation() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    app.step(&id, "password", "acme/alice", STAFF).await;
    let ada = app.token("acme/ada", &["admin"]);
    let halves = || app.get("/v1/accounts/123456789012/halves", &ada);
    assert_eq!(halves().await.body["halves"][0]["rotation_due"], true);

    let rotate = "/v1/accounts/123456789012/halves/password/rotate";
    let bob = app.post(rotate, &app.token("acme/bob", STAFF), json!({})).await;
    assert_eq!((bob.status, bob.code()), (StatusCode::FORBIDDEN, "not_custodian"));
    let admin = app.post(rotate, &ada, json!({})).await;
    assert_eq!(admin.status, StatusCode::FORBIDDEN, "admins do not read");

    let alice = app.token("acme/alice", STAFF);
    let candidate = app.post(rotate, &alice, json!({})).await;
    assert_eq!(candidate.status, StatusCode::OK, "{}", candidate.body);
    assert_eq!(candidate.body["version"], 2);
    let password = candidate.body["candidate_password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 32);
    let before = halves().await;
    assert_eq!(before.body["halves"][0]["current_version"], 1, "pending until confirmed");
    assert_eq!(before.body["halves"][0]["rotation_due"], true);

    let confirm = format!("{rotate}/confirm");
    let wrong = app.post(&confirm, &app.token("acme/bob", STAFF), json!({})).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let confirmed = app.post(&confirm, &alice, json!({})).await;
    assert_eq!(confirmed.body, json!({"version": 2}));
    let after = halves().await;
    assert_eq!(after.body["halves"][0]["current_version"], 2);
    assert_eq!(after.body["halves"][0]["rotation_due"], false);
    assert_eq!(after.body["halves"][0]["versions"][1]["source"], "rotated");
    let stored =
        app.app.vault.decrypt_current(&"123456789012".parse().unwrap(), Half::Password).await.unwrap().unwrap();
    assert_eq!(&*stored.1, password.as_bytes());
    let again = app.post(&confirm, &alice, json!({})).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "no_pending_rotation"));
    // The rotated password joined the history.
    let reuse = app.deposit_password("123456789012", "acme/alice", &password).await;
    assert_eq!(reuse.code(), "password_policy");
    let old = app.deposit_password("123456789012", "acme/alice", PASSWORD).await;
    assert_eq!(old.code(), "password_policy");
}

#[tokio::test]
async fn a_new_candidate_replaces_an_unconfirmed_one_and_a_deposit_supersedes_it() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let alice = app.token("acme/alice", STAFF);
    let rotate = "/v1/accounts/123456789012/halves/password/rotate";
    let first = app.post(rotate, &alice, json!({})).await;
    let second = app.post(rotate, &alice, json!({})).await;
    assert_eq!(first.body["version"], second.body["version"]);
    assert_ne!(first.body["candidate_password"], second.body["candidate_password"]);
    app.deposit_password("123456789012", "acme/alice", "Another-Passw0rd!").await;
    let late = app.post(&format!("{rotate}/confirm"), &alice, json!({})).await;
    assert_eq!((late.status, late.code()), (StatusCode::CONFLICT, "rotation_superseded"));
}
