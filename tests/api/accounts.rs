//! Registering accounts, and who may see them.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{account_body, spawn_app};

#[tokio::test]
async fn a_provider_admin_registers_an_account_and_both_parties_see_it() {
    let app = spawn_app().await;
    let reply = app.register("123456789012", "shared_payer", Some("globex")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["custody"], "shared_payer");
    assert_eq!(reply.body["contacts"]["security"], "soc@globex.example");

    for who in ["acme/carol", "globex/gus"] {
        let token = app.token(who, &["staff"]);
        let one = app.get("/v1/accounts/123456789012", &token).await;
        assert_eq!(one.status, StatusCode::OK, "{who}");
        assert_eq!(one.body["name"], "Account 123456789012");
        let all = app.get("/v1/accounts", &token).await;
        assert_eq!(all.body["accounts"].as_array().unwrap().len(), 1, "{who}");
    }
}

#[tokio::test]
async fn another_customer_cannot_see_or_even_learn_of_an_account() {
    let app = spawn_app().await;
    app.register("123456789012", "provider_split", Some("globex")).await;
    let ian = app.token("initech/ian", &["admin", "staff", "approver", "auditor"]);
    let one = app.get("/v1/accounts/123456789012", &ian).await;
    assert_eq!(one.status, StatusCode::NOT_FOUND);
    assert_eq!(one.code(), "not_found");
    let missing = app.get("/v1/accounts/999999999999", &ian).await;
    assert_eq!(one.body, missing.body, "an invisible account looks exactly like a missing one");
    assert_eq!(app.get("/v1/accounts", &ian).await.body["accounts"], json!([]));
}

#[tokio::test]
async fn only_provider_admins_register_accounts() {
    let app = spawn_app().await;
    for (who, roles) in [("acme/alice", vec!["staff", "approver"]), ("globex/gina", vec!["admin"])] {
        let token = app.token(who, &roles);
        let reply = app.post("/v1/accounts", &token, account_body("123456789012", "co_owned", Some("globex"))).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{who}");
        assert_eq!(reply.code(), "forbidden");
    }
    let ada = app.token("acme/ada", &["admin"]);
    assert_eq!(app.get("/v1/accounts", &ada).await.body["accounts"], json!([]));
}

#[tokio::test]
async fn registration_rules_are_enforced_with_clear_codes() {
    let app = spawn_app().await;
    let ada = app.token("acme/ada", &["admin"]);
    let mut cases = vec![];
    let mut no_customer = account_body("123456789012", "shared_payer", None);
    no_customer["customer_org"] = json!(null);
    cases.push((no_customer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_account"));
    cases.push((
        account_body("123456789012", "co_owned", Some("umbrella")),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_account",
    ));
    cases.push((
        account_body("123456789012", "co_owned", Some("acme")),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_account",
    ));
    let mut member_dedicated = account_body("123456789012", "provider_split", None);
    member_dedicated["kind"] = json!("member");
    cases.push((member_dedicated, StatusCode::UNPROCESSABLE_ENTITY, "invalid_account"));
    let mut ecam_split = account_body("123456789012", "provider_split", Some("globex"));
    ecam_split["kind"] = json!("member");
    ecam_split["dedicated_payer"] = json!(false);
    ecam_split["model"] = json!("ecam");
    cases.push((ecam_split, StatusCode::UNPROCESSABLE_ENTITY, "invalid_account"));
    cases.push((
        account_body("12345678901", "co_owned", Some("globex")),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    ));
    cases.push((
        account_body("123456789012", "split_brain", Some("globex")),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    ));
    let mut bad_email = account_body("123456789012", "co_owned", Some("globex"));
    bad_email["root_email"] = json!("root-at-acme");
    cases.push((bad_email, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"));
    let mut override_on_local = account_body("123456789012", "co_owned", Some("globex"));
    override_on_local["kms_keys"] = json!({"mfa": "arn:aws:kms:eu-west-1:210987654321:key/abc"});
    if !crate::helpers::secrets_manager_backend() {
        // Only the local key provider refuses per-account keys.
        cases.push((override_on_local, StatusCode::UNPROCESSABLE_ENTITY, "key_override_unsupported"));
    }

    for (body, status, code) in cases {
        let reply = app.post("/v1/accounts", &ada, body.clone()).await;
        assert_eq!((reply.status, reply.code()), (status, code), "{body}");
        assert!(reply.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(app.get("/v1/accounts", &ada).await.body["accounts"], json!([]), "no refused account was stored");
}

#[tokio::test]
async fn an_account_id_can_be_registered_only_once() {
    let app = spawn_app().await;
    assert_eq!(app.register("123456789012", "provider_split", None).await.status, StatusCode::CREATED);
    let again = app.register("123456789012", "co_owned", Some("globex")).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "account_exists"));
    let ada = app.token("acme/ada", &["admin"]);
    assert_eq!(app.get("/v1/accounts/123456789012", &ada).await.body["custody"], "provider_split");
}

#[tokio::test]
async fn a_customer_owned_account_stores_no_halves() {
    let app = spawn_app().await;
    assert_eq!(app.register("123456789012", "customer_owned", Some("initech")).await.status, StatusCode::CREATED);
    let ian = app.token("initech/ian", &["admin"]);
    let reply = app.put("/v1/accounts/123456789012/custodians/mfa", &ian, json!({"principals": ["initech/ivy"]})).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "nothing_in_custody"));
    let ivy = app.token("initech/ivy", &["staff"]);
    let reply =
        app.put("/v1/accounts/123456789012/halves/mfa", &ivy, json!({"secret_base32": crate::helpers::SEED})).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "nothing_in_custody"));
}
