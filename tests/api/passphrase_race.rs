//! Concurrent passphrase guesses: each attempt is counted before it is
//! checked, so no more than the allowed five checks ever run.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{STAFF, spawn_app};

#[tokio::test]
async fn twenty_concurrent_wrong_guesses_run_at_most_five_checks_and_burn_the_link() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let request = app.approved_request("123456789012").await;
    let body = json!({"purpose": "deliver", "account_id": "123456789012", "half": "password",
        "recipient": {"name": "Jane Doe", "email": "jane@globex.example"}, "request_id": request,
        "passphrase": "correct horse battery"});
    let created = app.post("/v1/links", &app.token("acme/alice", STAFF), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();

    let url = format!("{}/v1/public/links/{id}/open", app.base);
    let guesses = (0..20).map(|i| {
        let request = app.client.post(&url).json(&json!({"passphrase": format!("wrong guess {i}")}));
        async move { request.send().await.unwrap().status() }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::FORBIDDEN || *s == StatusCode::GONE), "{statuses:?}");

    // The counter is taken before each argon2 check: it is the number of
    // checks that ran.
    let (attempts, state): (u32, String) =
        app.db().query_row("SELECT attempts, state FROM links", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((attempts, state.as_str()), (5, "burned"));
    let wrong = app.audit_events().into_iter().filter(|e| e["details"]["code"] == "wrong_passphrase").count();
    assert!(wrong <= 5, "{wrong} wrong-passphrase outcomes");
    let reply = app.client.post(&url).json(&json!({"passphrase": "correct horse battery"})).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::GONE, "the right passphrase comes too late");
}
