//! Listing requests: visibility is applied before the page limit, and a
//! cursor walks every visible request exactly once.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, SEED, TestApp, spawn_app};

async fn ask(app: &TestApp, account: &str, reason: &str) -> String {
    let reply = app.ask("acme/sam", json!({"account_id": account, "reason": reason, "mfa_to": "acme/bob"})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// Every request id `who` sees with `query`, page by page.
async fn walk(app: &TestApp, token: &str, query: &str) -> (Vec<String>, usize) {
    let (mut ids, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/requests?{query}&cursor={c}"),
            None => format!("/v1/requests?{query}"),
        };
        let page = app.get(&path, token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        pages += 1;
        ids.extend(page.body["requests"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        match &page.body["next_cursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            _ => return (ids, pages),
        }
        assert!(pages < 20, "the cursor does not advance");
    }
}

#[tokio::test]
async fn many_pending_requests_of_one_customer_do_not_hide_another_customers_and_the_cursor_pages_through_all() {
    let app = spawn_app().await;
    assert_eq!(app.register("210987654321", "provider_split", Some("initech")).await.status, StatusCode::CREATED);
    app.assign("210987654321", "password", "acme/ada", &["acme/alice"]).await;
    app.assign("210987654321", "mfa", "acme/ada", &["acme/bob"]).await;
    assert_eq!(app.deposit_password("210987654321", "acme/alice", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(app.deposit_seed("210987654321", "acme/bob", SEED).await.status, StatusCode::OK);
    let initech_request = ask(&app, "210987654321", "initech's only request").await;
    app.stocked_account("123456789012").await;
    let mut globex_requests = HashSet::new();
    for i in 0..12 {
        globex_requests.insert(ask(&app, "123456789012", &format!("globex request {i}")).await);
    }

    let ian = app.token("initech/ian", &["admin"]);
    let first = app.get("/v1/requests?state=pending&limit=5", &ian).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["requests"].as_array().unwrap().len(), 1, "{}", first.body);
    assert_eq!(first.body["requests"][0]["id"], initech_request.as_str());
    assert_eq!(first.body["next_cursor"], Value::Null);

    let gina = app.token("globex/gina", &["admin"]);
    let (seen, pages) = walk(&app, &gina, "state=pending&limit=5").await;
    assert_eq!(seen.len(), 12, "each request exactly once: {seen:?}");
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), globex_requests);
    assert!(pages >= 3);
    let ada = app.token("acme/ada", &["admin"]);
    let (all, _) = walk(&app, &ada, "limit=4").await;
    assert_eq!(all.len(), 13, "the provider is a party to both accounts");
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 13);

    for bad in ["limit=0", "limit=501", "cursor=nope", "cursor=MTIzLnJlcV94"] {
        assert_eq!(app.get(&format!("/v1/requests?{bad}"), &gina).await.code(), "invalid_query", "{bad}");
    }
}
