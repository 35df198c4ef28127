//! Naming custodians: four-eyes (invariant 1) and mode-aware ownership.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, SEED, spawn_app};

#[tokio::test]
async fn naming_someone_to_both_halves_is_a_four_eyes_violation() {
    let app = spawn_app().await;
    app.provider_split_account("123456789012").await;
    let ada = app.token("acme/ada", &["admin"]);
    let reply = app
        .put("/v1/accounts/123456789012/custodians/mfa", &ada, json!({"principals": ["acme/bob", "acme/alice"]}))
        .await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "four_eyes_violation"));
    assert!(reply.body["error"]["message"].as_str().unwrap().contains("acme/alice"));
    let account = app.get("/v1/accounts/123456789012", &ada).await;
    assert_eq!(account.body["custodians"], json!({"password": ["acme/alice"], "mfa": ["acme/bob"]}));
}

#[tokio::test]
async fn shared_payer_password_is_the_providers_and_mfa_the_customers() {
    let app = spawn_app().await;
    app.register("123456789012", "shared_payer", Some("globex")).await;
    let ada = app.token("acme/ada", &["admin"]);
    let gina = app.token("globex/gina", &["admin"]);
    let path = |half: &str| format!("/v1/accounts/123456789012/custodians/{half}");

    let provider_on_mfa = app.put(&path("mfa"), &ada, json!({"principals": ["acme/bob"]})).await;
    assert_eq!((provider_on_mfa.status, provider_on_mfa.code()), (StatusCode::FORBIDDEN, "not_half_holder"));
    let customer_on_password = app.put(&path("password"), &gina, json!({"principals": ["globex/gus"]})).await;
    assert_eq!((customer_on_password.status, customer_on_password.code()), (StatusCode::FORBIDDEN, "not_half_holder"));
    let foreign = app.put(&path("mfa"), &gina, json!({"principals": ["acme/bob"]})).await;
    assert_eq!((foreign.status, foreign.code()), (StatusCode::UNPROCESSABLE_ENTITY, "foreign_principal"));

    assert_eq!(app.put(&path("password"), &ada, json!({"principals": ["acme/alice"]})).await.status, StatusCode::OK);
    let ok = app.put(&path("mfa"), &gina, json!({"principals": ["globex/gus", "globex/grace"]})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["principals"], json!(["globex/grace", "globex/gus"]));
    assert_eq!(ok.body["custodians"]["password"], json!(["acme/alice"]));
}

#[tokio::test]
async fn co_owners_each_manage_their_own_members_of_a_half() {
    let app = spawn_app().await;
    app.register("123456789012", "co_owned", Some("initech")).await;
    app.assign("123456789012", "password", "acme/ada", &["acme/alice"]).await;
    app.assign("123456789012", "password", "initech/ian", &["initech/ivan"]).await;
    app.assign("123456789012", "mfa", "initech/ian", &["initech/ivy"]).await;
    let ada = app.token("acme/ada", &["admin"]);
    let account = app.get("/v1/accounts/123456789012", &ada).await;
    assert_eq!(account.body["custodians"], json!({"password": ["acme/alice", "initech/ivan"], "mfa": ["initech/ivy"]}));
    let clash = app
        .put(
            "/v1/accounts/123456789012/custodians/mfa",
            &app.token("initech/ian", &["admin"]),
            json!({"principals": ["initech/ivan"]}),
        )
        .await;
    assert_eq!(clash.code(), "four_eyes_violation");
}

#[tokio::test]
async fn only_admins_name_custodians_and_never_themselves() {
    let app = spawn_app().await;
    app.register("123456789012", "provider_split", None).await;
    let alice = app.token("acme/alice", &["staff", "approver"]);
    let reply =
        app.put("/v1/accounts/123456789012/custodians/password", &alice, json!({"principals": ["acme/alice"]})).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let ada = app.token("acme/ada", &["admin"]);
    let reply =
        app.put("/v1/accounts/123456789012/custodians/password", &ada, json!({"principals": ["acme/ada"]})).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::FORBIDDEN, "self_assignment"));
    let gina = app.token("globex/gina", &["admin"]);
    let reply = app.put("/v1/accounts/123456789012/custodians/password", &gina, json!({"principals": []})).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "a provider-only account is invisible to customers");
}

#[tokio::test]
async fn someone_who_deposited_the_current_mfa_seed_cannot_be_moved_to_the_password_half() {
    let app = spawn_app().await;
    app.provider_split_account("123456789012").await;
    assert_eq!(app.deposit_seed("123456789012", "acme/bob", SEED).await.status, StatusCode::OK);
    // Take bob off the MFA half; he still knows the current seed.
    app.assign("123456789012", "mfa", "acme/ada", &["acme/carl"]).await;
    let ada = app.token("acme/ada", &["admin"]);
    let path = "/v1/accounts/123456789012/custodians/password";
    let reply = app.put(path, &ada, json!({"principals": ["acme/alice", "acme/bob"]})).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "four_eyes_violation"));
    // Re-enrolling the MFA half makes what bob saw history: the wall lifts.
    assert_eq!(
        app.deposit_seed("123456789012", "acme/carl", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").await.status,
        StatusCode::OK
    );
    let reply = app.put(path, &ada, json!({"principals": ["acme/alice", "acme/bob"]})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(app.deposit_password("123456789012", "acme/bob", PASSWORD).await.status, StatusCode::OK);
}
