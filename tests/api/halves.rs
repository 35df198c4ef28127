//! Depositing halves and reading their metadata.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, SEED, spawn_app};

#[tokio::test]
async fn a_custodian_deposits_a_supplied_password_and_metadata_shows_no_secret() {
    let app = spawn_app().await;
    app.provider_split_account("123456789012").await;
    let reply = app.deposit_password("123456789012", "acme/alice", PASSWORD).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, json!({"version": 1}));

    let gina = app.token("globex/gina", &["admin"]);
    let halves = app.get("/v1/accounts/123456789012/halves", &gina).await;
    assert_eq!(halves.status, StatusCode::OK);
    let password = &halves.body["halves"][0];
    assert_eq!(password["half"], "password");
    assert_eq!(password["current_version"], 1);
    assert_eq!(password["rotation_due"], false);
    assert_eq!(password["versions"][0]["created_by"], "acme/alice");
    assert_eq!(password["versions"][0]["source"], "supplied");
    assert_eq!(password["versions"][0]["key_id"], app.password_key_id().as_str());
    assert_eq!(halves.body["halves"][1]["current_version"], json!(null));
    assert!(!halves.body.to_string().contains(PASSWORD));
}

#[tokio::test]
async fn a_generated_password_meets_the_policy_and_is_returned_once_to_its_depositor() {
    let app = spawn_app().await;
    app.provider_split_account("123456789012").await;
    let alice = app.token("acme/alice", &["staff"]);
    let reply = app.put("/v1/accounts/123456789012/halves/password", &alice, json!({"generate": true})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["version"], 1);
    let password = reply.body["password"].as_str().unwrap();
    assert_eq!(password.len(), 32);
    assert!(password.chars().any(|c| c.is_ascii_uppercase()));
    assert!(password.chars().any(|c| c.is_ascii_lowercase()));
    assert!(password.chars().any(|c| c.is_ascii_digit()));
    assert!(password.chars().any(|c| c.is_ascii_punctuation()));
    let stored = app
        .app
        .vault
        .decrypt_current(&"123456789012".parse().unwrap(), rootvault::domain::ids::Half::Password)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.0, 1);
    assert_eq!(&*stored.1, password.as_bytes());
}

#[tokio::test]
async fn supplied_passwords_must_meet_the_policy() {
    let app = spawn_app().await;
    app.provider_split_account("123456789012").await;
    for bad in [
        "Short-9a",
        "correct-horse-9-battery",
        "CORRECT-HORSE-9-BATTERY",
        "Correct-Horse-X-Battery",
        "CorrectHorse9Battery",
        "Correct Horse 9 Battery",
    ] {
        let reply = app.deposit_password("123456789012", "acme/alice", bad).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, "password_policy"), "{bad}");
        assert!(!reply.body.to_string().contains(bad));
    }
    let alice = app.token("acme/alice", &["staff"]);
    for body in [json!({}), json!({"password": PASSWORD, "generate": true}), json!({"generate": false})] {
        let reply = app.put("/v1/accounts/123456789012/halves/password", &alice, body.clone()).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"), "{body}");
    }
    let halves = app.get("/v1/accounts/123456789012/halves", &alice).await;
    assert_eq!(halves.body["halves"][0]["versions"], json!([]), "no refused deposit was stored");
}

#[tokio::test]
async fn none_of_the_last_24_passwords_may_come_back() {
    let app = spawn_app().await;
    app.provider_split_account("123456789012").await;
    let first = "Password-number-0";
    assert_eq!(app.deposit_password("123456789012", "acme/alice", first).await.status, StatusCode::OK);
    for n in 1..24 {
        let reply = app.deposit_password("123456789012", "acme/alice", &format!("Password-number-{n}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{n}: {}", reply.body);
    }
    let reused = app.deposit_password("123456789012", "acme/alice", first).await;
    assert_eq!((reused.status, reused.code()), (StatusCode::UNPROCESSABLE_ENTITY, "password_policy"));
    assert!(reused.body["error"]["message"].as_str().unwrap().contains("last 24"));
    let recent = app.deposit_password("123456789012", "acme/alice", "Password-number-23").await;
    assert_eq!(recent.code(), "password_policy");
    // A 25th password pushes the first out of the window.
    assert_eq!(app.deposit_password("123456789012", "acme/alice", "Password-number-24").await.status, StatusCode::OK);
    assert_eq!(app.deposit_password("123456789012", "acme/alice", first).await.body["version"], 26);
    let stored: Vec<String> = app
        .db()
        .prepare("SELECT hash FROM password_history")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(stored.len(), 24);
    assert!(stored.iter().all(|h| h.starts_with("$argon2id$") && !h.contains("Password-number")));
}

#[tokio::test]
async fn only_custodians_deposit_and_admins_cannot() {
    let app = spawn_app().await;
    app.provider_split_account("123456789012").await;
    for (who, half, code) in [
        ("acme/ada", "password", "not_custodian"),
        ("acme/bob", "password", "not_custodian"),
        ("acme/alice", "mfa", "not_custodian"),
        ("acme/carol", "mfa", "not_custodian"),
    ] {
        let token = app.token(who, &["admin", "staff", "approver", "auditor"]);
        let body = if half == "password" { json!({"password": PASSWORD}) } else { json!({"secret_base32": SEED}) };
        let reply = app.put(&format!("/v1/accounts/123456789012/halves/{half}"), &token, body).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::FORBIDDEN, code), "{who} {half}");
    }
    let ian = app.token("initech/ian", &["staff"]);
    let reply = app.put("/v1/accounts/123456789012/halves/password", &ian, json!({"password": PASSWORD})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn mfa_seeds_are_accepted_as_otpauth_uris_or_base32_and_validated() {
    let app = spawn_app().await;
    app.provider_split_account("123456789012").await;
    let bob = app.token("acme/bob", &["staff"]);
    let path = "/v1/accounts/123456789012/halves/mfa";
    let uri = format!("otpauth://totp/AWS:root@acme.example?secret={SEED}&issuer=AWS&digits=6&period=30");
    assert_eq!(app.put(path, &bob, json!({"otpauth_uri": uri})).await.body, json!({"version": 1}));
    let with_params = json!({"secret_base32": SEED, "digits": 8, "period": 60, "algorithm": "SHA256"});
    assert_eq!(app.put(path, &bob, with_params).await.body, json!({"version": 2}));

    for (body, code) in [
        (json!({"secret_base32": "not base32!"}), "invalid_mfa"),
        (json!({"secret_base32": "GEZDGNBV"}), "invalid_mfa"),
        (json!({"secret_base32": SEED, "digits": 5}), "invalid_mfa"),
        (json!({"secret_base32": SEED, "algorithm": "MD5"}), "invalid_mfa"),
        (json!({"otpauth_uri": "https://example.com/totp"}), "invalid_mfa"),
        (json!({"otpauth_uri": uri, "secret_base32": SEED}), "invalid_body"),
        (json!({"seed": SEED}), "invalid_body"),
    ] {
        let reply = app.put(path, &bob, body.clone()).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, code), "{body}");
        assert!(!reply.body.to_string().contains(SEED));
    }
    let halves = app.get("/v1/accounts/123456789012/halves", &bob).await;
    let versions = &halves.body["halves"][1]["versions"];
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[0]["state"], "superseded");
    assert_eq!(versions[1]["state"], "current");
    assert!(!halves.body.to_string().contains(SEED));
}
