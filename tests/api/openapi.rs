//! The OpenAPI document: served as checked in, and holding every route
//! the router serves under `/v1`, with exactly the methods it serves.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

/// `docs/openapi.json`, parsed.
fn checked_in() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The methods a path template of the router serves, as its 405 answer's
/// `Allow` header names them (HEAD comes with GET and is not documented).
async fn served_methods(app: &crate::helpers::TestApp, token: &str, template: &str) -> BTreeSet<String> {
    let path: String = template
        .split('/')
        .map(|segment| match segment {
            "{account_id}" => "100000000001",
            s if s.starts_with('{') => "x",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/");
    let response = app
        .client
        .request(reqwest::Method::TRACE, format!("{}{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{template} is not routed");
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    allow.split(',').map(|m| m.trim().to_ascii_lowercase()).filter(|m| !m.is_empty() && m != "head").collect()
}

#[tokio::test]
async fn the_document_is_served_without_a_token_as_checked_in() {
    let app = spawn_app().await;
    let response = app.client.get(format!("{}/v1/openapi.json", app.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let served: Value = response.json().await.unwrap();
    assert_eq!(served["openapi"], "3.1.0");
    assert!(served == checked_in(), "the served document differs from docs/openapi.json");
}

#[tokio::test]
async fn every_route_under_v1_is_documented_with_exactly_the_methods_it_serves() {
    let app = spawn_app().await;
    let token = app.token("acme/ada", &["admin"]);
    let doc = checked_in();
    let paths = doc["paths"].as_object().unwrap();
    let routes = rootvault::http::routes::paths();
    for template in &routes {
        let documented: BTreeSet<String> = paths
            .get(*template)
            .unwrap_or_else(|| panic!("{template} is routed but not in the OpenAPI document"))
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| ["get", "put", "post", "delete", "patch"].contains(&k.as_str()))
            .cloned()
            .collect();
        assert_eq!(served_methods(&app, &token, template).await, documented, "methods of {template}");
    }
    for documented in paths.keys() {
        assert!(routes.contains(&documented.as_str()), "{documented} is documented but not routed");
    }
}

#[test]
fn every_operation_has_its_own_id_and_every_path_parameter_and_shared_refusal_is_described() {
    let doc = checked_in();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(operation_ids.insert(id), "operationId {id} of {method} {path} is not unique");
            let named: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            let templated: BTreeSet<&str> =
                path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
            assert_eq!(named, templated, "path parameters of {method} {path}");
            let responses = operation["responses"].as_object().unwrap();
            for status in ["400", "429", "503"] {
                assert!(responses.contains_key(status), "{method} {path} does not document {status}");
            }
            if operation.get("security").is_some() {
                assert!(responses.contains_key("401"), "{method} {path} does not document 401");
            }
        }
    }
}
