//! Review findings on input handling: body errors never echo a value, paths
//! that are not UTF-8 get the JSON error shape, subjects with invisible
//! characters cannot name a second custodian, tokens from the future are
//! refused.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{STAFF, spawn_app};

#[tokio::test]
async fn a_body_error_names_the_field_and_type_but_neither_the_response_nor_the_audit_log_repeats_the_value() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let alice = app.token("acme/alice", STAFF);
    let recipient = json!({"name": "Jane Doe", "email": "jane@globex.example"});
    let link = |extra: Value| {
        let mut body =
            json!({"purpose": "collect", "account_id": "123456789012", "half": "password", "recipient": recipient});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (link(json!({"passphrase": 90417753})), "90417753", "passphrase"),
        (link(json!({"ttl_minutes": "hunter2-ttl"})), "hunter2-ttl", "ttl_minutes"),
        (link(json!({"purpose": "hunter2-purpose"})), "hunter2-purpose", "purpose"),
        (link(json!({"ttl_minutes": 31415926535897932u64})), "31415926535897932", "ttl_minutes"),
        (link(json!({"recipient": {"name": 27182818, "email": "jane@globex.example"}})), "27182818", "recipient.name"),
    ];
    for (body, value, field) in cases {
        let reply = app.post("/v1/links", &alice, body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
        assert_eq!(reply.code(), "invalid_body");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{field}: ")), "{message}");
        assert!(message.contains("expected"), "{message}");
        assert!(!reply.body.to_string().contains(value), "{}", reply.body);
        let log = serde_json::to_string(&app.audit_events()).unwrap();
        assert!(!log.contains(value), "the audit log repeats {value}");
    }
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_gets_the_json_error_shape() {
    let app = spawn_app().await;
    let ada = app.token("acme/ada", &["admin"]);
    for path in ["/v1/accounts/%FF%FE", "/v1/requests/%C3", "/l/%80abc", "/v1/public/links/%FF/open"] {
        let reply = app.client.get(format!("{}{path}", app.base)).bearer_auth(&ada).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(reply.headers()["content-type"], "application/json", "{path}");
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_id", "{path}");
    }
}

#[tokio::test]
async fn a_principal_differing_only_by_an_invisible_character_cannot_be_named_custodian() {
    let app = spawn_app().await;
    assert_eq!(app.register("123456789012", "provider_split", Some("globex")).await.status, StatusCode::CREATED);
    let ada = app.token("acme/ada", &["admin"]);
    let path = "/v1/accounts/123456789012/custodians/password";
    for twin in
        ["acme/ali\u{200b}ce", "acme/alice\u{feff}", "acme/\u{202e}ecila", "acme/ali\u{2066}ce", "acme/ali\u{7}ce"]
    {
        let reply = app.put(path, &ada, json!({"principals": ["acme/alice", twin]})).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{twin:?}: {}", reply.body);
    }
    assert_eq!(app.put(path, &ada, json!({"principals": ["acme/alice"]})).await.status, StatusCode::OK);
}
