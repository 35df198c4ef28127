//! Invisible is the same as missing: every account-scoped route answers an
//! account the caller's org is no party to exactly as it answers an account
//! that does not exist, so other tenants cannot even learn that it exists.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, SEED, spawn_app};

/// Every route that names an account, with a body that would be valid.
fn account_routes(id: &str) -> Vec<(Method, String, Option<Value>)> {
    let a = format!("/v1/accounts/{id}");
    let post = |path: String, body: Value| (Method::POST, path, Some(body));
    vec![
        (Method::GET, a.clone(), None),
        (Method::PUT, format!("{a}/custodians/password"), Some(json!({"principals": ["initech/ivy"]}))),
        (Method::PUT, format!("{a}/custodians/mfa"), Some(json!({"principals": ["initech/ivy"]}))),
        (Method::GET, format!("{a}/halves"), None),
        (Method::PUT, format!("{a}/halves/password"), Some(json!({"password": PASSWORD}))),
        (Method::PUT, format!("{a}/halves/password"), Some(json!({"generate": true}))),
        (Method::PUT, format!("{a}/halves/mfa"), Some(json!({"secret_base32": SEED}))),
        post(format!("{a}/halves/password/rotate"), json!({})),
        post(format!("{a}/halves/password/rotate/confirm"), json!({})),
        post(format!("{a}/subscribers"), json!({"url": "https://hooks.initech.example/rootvault"})),
        (Method::GET, format!("{a}/subscribers"), None),
        (Method::DELETE, format!("{a}/subscribers/sub_00000000000000000000000000000000"), None),
        post(
            format!("{a}/reverse-assumption"),
            json!({"new_root_email": "root@initech.example", "signatory": {"name": "Ivy", "email": "ivy@initech.example"}, "requested_date": "2030-01-16"}),
        ),
        (Method::GET, format!("{a}/reverse-assumption"), None),
        post(format!("{a}/reverse-assumption/schedule"), json!({"date": "2030-01-16"})),
        post(format!("{a}/reverse-assumption/confirm-balance"), json!({})),
        post(format!("{a}/reverse-assumption/checklist/update_contacts"), json!({"status": "done"})),
        post(format!("{a}/reverse-assumption/handoff"), json!({"kind": "deliver"})),
        post(format!("{a}/reverse-assumption/handoff"), json!({"kind": "collect"})),
        post(format!("{a}/reverse-assumption/cancel"), json!({})),
        post(format!("{a}/reverse-assumption/consent"), json!({})),
        post(format!("{a}/close"), json!({})),
        post(format!("{a}/reopen"), json!({})),
        (Method::PATCH, a.clone(), Some(json!({"aws_india": true}))),
        post(
            format!("{a}/onboarding"),
            json!({"signatory": {"name": "Ivy", "email": "ivy@initech.example"}, "legal_name": "Initech", "legal_address": "1 Way"}),
        ),
        (Method::GET, format!("{a}/onboarding"), None),
        post(format!("{a}/onboarding/checklist/set_root_email"), json!({"status": "done"})),
        post(format!("{a}/onboarding/complete"), json!({})),
        post(format!("{a}/moves"), json!({"to_customer_org": "initech", "move_date": "2030-03-15"})),
        (Method::GET, format!("{a}/moves"), None),
        (Method::GET, format!("{a}/moves/mov_0123456789abcdef0123456789abcdef"), None),
        post(format!("{a}/moves/mov_0123456789abcdef0123456789abcdef/confirm"), json!({})),
        post(format!("{a}/moves/mov_0123456789abcdef0123456789abcdef/complete"), json!({})),
        post(format!("{a}/moves/mov_0123456789abcdef0123456789abcdef/cancel"), json!({})),
        post(
            "/v1/links".into(),
            json!({"purpose": "collect", "account_id": id, "half": "password", "recipient": {"name": "Ivy", "email": "ivy@initech.example"}}),
        ),
        post("/v1/requests".into(), json!({"account_id": id, "reason": "probe", "password_to": "initech/ivy"})),
    ]
}

#[tokio::test]
async fn a_foreign_account_and_a_missing_one_get_the_same_404_on_every_account_route() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    // initech is no party to globex's account; its admin holds every role.
    let ivan = app.token("initech/ivan", &["admin", "staff", "approver", "auditor"]);
    let (foreign, missing) = (account_routes("123456789012"), account_routes("999999999999"));
    for ((method, path, body), (_, missing_path, missing_body)) in foreign.into_iter().zip(missing) {
        let seen = app.send(method.clone(), &path, Some(&ivan), body).await;
        let unknown = app.send(method.clone(), &missing_path, Some(&ivan), missing_body).await;
        assert_eq!(seen.status, StatusCode::NOT_FOUND, "{method} {path}: {}", seen.body);
        assert_eq!((seen.status, &seen.body), (unknown.status, &unknown.body), "{method} {path}");
    }
}
