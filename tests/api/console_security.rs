//! Every console route, walked as a signed-in person: the headers of
//! DESIGN §14 on each answer (strict CSP without `unsafe-inline`, never
//! framed, `no-store`, no referrer, `nosniff`), every POST refused without
//! its CSRF token, and no password page for anyone but its recipient.

use std::collections::BTreeSet;

use reqwest::StatusCode;

use crate::browser::Browser;
use crate::helpers::{PASSWORD, SEED, spawn_dev_app};

const SOURCES: [&str; 4] = [
    include_str!("../../src/http/console/mod.rs"),
    include_str!("../../src/http/console/links.rs"),
    include_str!("../../src/http/console/audit.rs"),
    include_str!("../../src/http/console/accounts.rs"),
];

/// `(method, path template)` of every console route, read from the source
/// so that a new route cannot escape this walk.
fn console_routes() -> BTreeSet<(String, String)> {
    let constants = [
        ("page::STYLESHEET_PATH", "/assets/console.css"),
        ("script::SCRIPT_PATH", "/assets/console.js"),
        ("HERE", "/links"),
    ];
    let mut routes = BTreeSet::new();
    for source in SOURCES {
        for piece in source.split(".route(").skip(1) {
            let (path, rest) = piece.split_once(',').unwrap();
            let path = path.trim();
            let path = match path.strip_prefix('"') {
                Some(literal) => literal.trim_end_matches('"').to_owned(),
                None => {
                    constants.iter().find(|(name, _)| *name == path).unwrap_or_else(|| panic!("{path}")).1.to_owned()
                }
            };
            // The handler is on the route's line, or the next one when the
            // path stands on a line of its own.
            let handler = rest.split(".route(").next().unwrap().lines().map(str::trim).find(|l| !l.is_empty()).unwrap();
            for method in ["get", "post"] {
                if handler.contains(&format!("{method}(")) {
                    routes.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
    }
    routes
}

fn assert_console_headers(response: &reqwest::Response, what: &str) {
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let csp = header("content-security-policy");
    assert!(csp.starts_with("default-src 'none'"), "{what}: CSP {csp:?}");
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{what}: CSP {csp:?}");
    assert_eq!(header("cache-control"), "no-store", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
}

#[tokio::test]
async fn every_console_route_sends_the_console_headers_and_every_post_needs_its_csrf_token() {
    let app = spawn_dev_app().await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    let audrey = Browser::sign_in(&app, "acme", "audrey").await;
    let mut walked = BTreeSet::new();
    for (method, template) in console_routes() {
        let path = template
            .replace("{id}", &id)
            .replace("{org}", "acme")
            .replace("{account_id}", "123456789012")
            .replace("{half}", "password")
            .replace("{reference}", &"0".repeat(64))
            .replace("{step}", "cancel")
            .replace("{item}", "update_contacts");
        let response = if method == "GET" { audrey.get(&path).await } else { audrey.post_form(&path, &[]).await };
        assert_console_headers(&response, &format!("{method} {path}"));
        if method == "POST" {
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path} without its CSRF token");
        }
        walked.insert((method, template));
    }
    assert!(walked.len() >= 20, "the walk found the console's routes: {walked:?}");
}

#[tokio::test]
async fn only_the_named_recipient_ever_sees_a_password_page() {
    let app = spawn_dev_app().await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    for who in ["carol", "dave", "sam", "bob", "ada", "audrey"] {
        let browser = Browser::sign_in(&app, "acme", who).await;
        let token = browser.csrf_token().await;
        let page = browser.get(&format!("/requests/{id}")).await.text().await.unwrap();
        assert!(!page.contains("data-action=\"reveal-password\""), "{who} is offered no password");
        let asked = browser.post_form(&format!("/requests/{id}/password"), &[("csrf_token", &token)]).await;
        assert!(asked.status().is_client_error(), "{who}: {}", asked.status());
        let body = asked.text().await.unwrap();
        assert!(!body.contains(PASSWORD) && !body.contains(SEED), "{who} saw a secret");
        assert!(body.contains("data-field=\"error\""), "{who}: the refusal is in plain words");
    }
    let released = app.audit_events().iter().filter(|e| e["action"] == "half.release" && e["outcome"] == "ok").count();
    assert_eq!(released, 0);
}
