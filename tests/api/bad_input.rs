//! Malformed requests get the error shape and status, never a panic or a
//! partial write.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, account_body, spawn_app};

async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(app.token("acme/ada", &["admin"]))
        .body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn assert_error_shape(body: &Value) {
    let error = body["error"].as_object().unwrap_or_else(|| panic!("no error object in {body}"));
    let code = error["code"].as_str().unwrap();
    assert!(!code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{code}");
    assert!(!error["message"].as_str().unwrap().is_empty());
    assert_eq!(error.len(), 2);
}

#[tokio::test]
async fn each_kind_of_bad_input_gets_its_status_and_the_error_shape() {
    let app = spawn_app().await;
    let json = Some("application/json");
    let post = reqwest::Method::POST;
    let valid = serde_json::to_vec(&account_body("123456789012", "co_owned", Some("globex"))).unwrap();
    let mut unknown_field = account_body("123456789012", "co_owned", Some("globex"));
    unknown_field["owner"] = json!("mallory");
    let mut wrong_type = account_body("123456789012", "co_owned", Some("globex"));
    wrong_type["dedicated_payer"] = json!("yes");
    let mut huge = account_body("123456789012", "co_owned", Some("globex"));
    huge["name"] = json!("x".repeat(70 * 1024));

    let cases: Vec<(Vec<u8>, Option<&str>, StatusCode, &str)> = vec![
        (b"{\"account_id\": ".to_vec(), json, StatusCode::BAD_REQUEST, "malformed_json"),
        (b"not json at all".to_vec(), json, StatusCode::BAD_REQUEST, "malformed_json"),
        (b"".to_vec(), json, StatusCode::BAD_REQUEST, "malformed_json"),
        (serde_json::to_vec(&unknown_field).unwrap(), json, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (serde_json::to_vec(&wrong_type).unwrap(), json, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (b"[1, 2, 3]".to_vec(), json, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (serde_json::to_vec(&huge).unwrap(), json, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        (valid.clone(), None, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (valid.clone(), Some("text/plain"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
    ];
    for (body, ct, status, code) in cases {
        let (got, reply) = raw(&app, post.clone(), "/v1/accounts", ct, body).await;
        assert_eq!((got, reply["error"]["code"].as_str().unwrap()), (status, code));
        assert_error_shape(&reply);
    }
    let ada = app.token("acme/ada", &["admin"]);
    assert_eq!(app.get("/v1/accounts", &ada).await.body["accounts"], json!([]), "nothing was written");
    // The same body, well-formed, is accepted: the refusals were about the input.
    assert_eq!(raw(&app, post, "/v1/accounts", json, valid).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn bad_ids_in_paths_unknown_routes_and_wrong_methods_answer_in_json() {
    let app = spawn_app().await;
    app.provider_split_account("123456789012").await;
    let ada = app.token("acme/ada", &["admin"]);
    let cases = [
        (reqwest::Method::GET, "/v1/accounts/12345", StatusCode::BAD_REQUEST, "invalid_id"),
        (reqwest::Method::GET, "/v1/accounts/12345678901x/halves", StatusCode::BAD_REQUEST, "invalid_id"),
        (reqwest::Method::PUT, "/v1/accounts/123456789012/custodians/seed", StatusCode::BAD_REQUEST, "invalid_id"),
        (reqwest::Method::GET, "/v1/nothing-here", StatusCode::NOT_FOUND, "not_found"),
        (reqwest::Method::DELETE, "/v1/accounts/123456789012", StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
    ];
    for (method, path, status, code) in cases {
        let reply = app.send(method.clone(), path, Some(&ada), Some(json!({"principals": []}))).await;
        assert_eq!((reply.status, reply.code()), (status, code), "{method} {path}");
        assert_error_shape(&reply.body);
    }
}

#[tokio::test]
async fn a_wrong_type_in_a_secret_field_does_not_echo_the_value() {
    let app = spawn_app().await;
    app.provider_split_account("123456789012").await;
    let alice = app.token("acme/alice", &["staff"]);
    let reply = app
        .put("/v1/accounts/123456789012/halves/password", &alice, json!({"generate": "Hunter2-Secret-Value!"}))
        .await;
    assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"));
    assert!(!reply.body.to_string().contains("Hunter2"), "{}", reply.body);
}

#[tokio::test]
async fn a_body_or_a_nested_object_sent_as_an_array_of_its_fields_is_refused() {
    let app = spawn_app().await;
    let ada = app.token("acme/ada", &["admin"]);
    // serde's derived structs take their fields in order from an array;
    // the API takes objects only.
    let fields = json!([
        "123456789012",
        "Account 123456789012",
        "payer",
        "spam",
        true,
        "co_owned",
        "globex",
        "aws-root+123456789012@acme.example"
    ]);
    let reply = app.post("/v1/accounts", &ada, fields).await;
    assert_eq!(
        (reply.status, reply.body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );
    assert_eq!(app.get("/v1/accounts/123456789012", &ada).await.status, StatusCode::NOT_FOUND);

    let created = app.post("/v1/accounts", &ada, account_body("123456789012", "co_owned", Some("globex"))).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let reply = app
        .send(reqwest::Method::PATCH, "/v1/accounts/123456789012", Some(&ada), Some(json!({"contacts": [null, null]})))
        .await;
    assert_eq!(
        (reply.status, reply.body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );
    let contacts = &app.get("/v1/accounts/123456789012", &ada).await.body["contacts"];
    assert_eq!(contacts["billing"], "billing@acme.example", "the refused change changed nothing");
}

#[tokio::test]
async fn a_cli_sign_in_with_a_port_the_cli_cannot_listen_on_is_refused_before_the_org_is_chosen() {
    let app = spawn_app().await;
    for (port, status) in [
        ("1023", StatusCode::BAD_REQUEST),
        ("65536", StatusCode::BAD_REQUEST),
        ("x", StatusCode::BAD_REQUEST),
        ("49152", StatusCode::OK),
    ] {
        let url = format!("{}/v1/auth/cli/start?port={port}", app.base);
        let response = app.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), status, "port {port}");
    }
}
