//! The version-aware wall (invariant 2) across requests, reassignments and
//! deposits, and fail-closed releases (invariant 4).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, STAFF, spawn_app};

#[tokio::test]
async fn someone_who_received_the_password_gets_no_mfa_until_the_password_rotates() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let first = app.approved_request("123456789012").await;
    assert_eq!(app.step(&first, "password", "acme/alice", STAFF).await.status, StatusCode::OK);

    // Path 1: reassignment. Alice leaves the password half; carl takes it.
    app.assign("123456789012", "password", "acme/ada", &["acme/carl"]).await;
    let ada = app.token("acme/ada", &["admin"]);
    let onto_mfa = app
        .put("/v1/accounts/123456789012/custodians/mfa", &ada, json!({"principals": ["acme/bob", "acme/alice"]}))
        .await;
    assert_eq!((onto_mfa.status, onto_mfa.code()), (StatusCode::CONFLICT, "four_eyes_violation"));

    // Path 2: storage edited behind the rules' back; requests still refuse.
    app.db().execute("INSERT INTO custodians VALUES ('123456789012', 'mfa', 'acme/alice', 'x', 'x')", []).unwrap();
    let second =
        app.ask("acme/sam", json!({"account_id": "123456789012", "reason": "again", "mfa_to": "acme/alice"})).await;
    assert_eq!((second.status, second.code()), (StatusCode::CONFLICT, "four_eyes_violation"));

    // Rotation of the seen half lifts the wall.
    let carl = app.token("acme/carl", STAFF);
    let candidate = app.post("/v1/accounts/123456789012/halves/password/rotate", &carl, json!({})).await;
    assert_eq!(candidate.status, StatusCode::OK, "{}", candidate.body);
    app.post("/v1/accounts/123456789012/halves/password/rotate/confirm", &carl, json!({})).await;
    let third = app
        .ask("acme/sam", json!({"account_id": "123456789012", "reason": "after rotation", "mfa_to": "acme/alice"}))
        .await;
    assert_eq!(third.status, StatusCode::CREATED, "{}", third.body);
}

#[tokio::test]
async fn the_wall_is_checked_again_at_release_time() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    // Bob learns the current password some other way the service recorded
    // (as a depositor would); his approved MFA release must now be refused.
    app.db()
        .execute("INSERT INTO exposures VALUES ('123456789012', 'acme/bob', 'password', 1, 'received', 'x')", [])
        .unwrap();
    let code = app.step(&id, "mfa-code", "acme/bob", STAFF).await;
    assert_eq!((code.status, code.code()), (StatusCode::CONFLICT, "four_eyes_violation"));
    assert!(code.body.get("code").is_none(), "no code leaves with the refusal");
    let password = app.step(&id, "password", "acme/alice", STAFF).await;
    assert_eq!(password.status, StatusCode::OK, "alice is not walled");
}

#[tokio::test]
async fn every_code_of_one_seed_version_is_one_exposure_of_it() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    for _ in 0..3 {
        assert_eq!(app.step(&id, "mfa-code", "acme/bob", STAFF).await.status, StatusCode::OK);
    }
    let rows: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM exposures WHERE principal = 'acme/bob' AND half = 'mfa'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
    let released: i64 = app
        .db()
        .query_row(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'half.release' AND outcome = 'ok' AND actor = 'acme/bob'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(released, 3, "each code is still audited");
}

#[tokio::test]
async fn a_depositor_cannot_ask_for_the_other_half() {
    let app = spawn_app().await;
    app.register("123456789012", "co_owned", Some("initech")).await;
    app.assign("123456789012", "password", "acme/ada", &["acme/alice"]).await;
    app.assign("123456789012", "mfa", "initech/ian", &["initech/ivy"]).await;
    app.deposit_seed("123456789012", "initech/ivy", crate::helpers::SEED).await;
    app.deposit_password("123456789012", "acme/alice", PASSWORD).await;
    // ivy deposited the current seed; moving her to the password half is refused ...
    app.assign("123456789012", "mfa", "initech/ian", &["initech/iris"]).await;
    let ian = app.token("initech/ian", &["admin"]);
    let moved =
        app.put("/v1/accounts/123456789012/custodians/password", &ian, json!({"principals": ["initech/ivy"]})).await;
    assert_eq!(moved.code(), "four_eyes_violation");
}

#[tokio::test]
async fn a_release_whose_audit_event_cannot_be_written_releases_nothing() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    app.db().break_audit_log();
    for (step, who) in [("password", "acme/alice"), ("mfa-code", "acme/bob")] {
        let reply = app.step(&id, step, who, STAFF).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable"), "{step}");
        assert!(!reply.body.to_string().contains(PASSWORD));
        assert!(reply.body.get("code").is_none());
    }
    app.db().repair_audit_log();
    let exposures: i64 =
        app.db().query_row("SELECT COUNT(*) FROM exposures WHERE kind = 'received'", [], |r| r.get(0)).unwrap();
    assert_eq!(exposures, 0);
    let shown = app.get(&format!("/v1/requests/{id}"), &app.token("acme/sam", STAFF)).await;
    assert_eq!(shown.body["password_views_left"], 1, "the view was not spent");
    let halves = app.get("/v1/accounts/123456789012/halves", &app.token("acme/ada", &["admin"])).await;
    assert_eq!(halves.body["halves"][0]["rotation_due"], false);
    assert_eq!(
        app.step(&id, "password", "acme/alice", STAFF).await.status,
        StatusCode::OK,
        "it works once the log does"
    );
}
