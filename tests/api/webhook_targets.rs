//! Webhook targets outside dev mode: https only, and never loopback,
//! private, link-local, metadata or other non-public addresses, checked at
//! registration and again at delivery.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app_adjusted};

async fn subscribe(app: &TestApp, url: &str) -> crate::helpers::Reply {
    let ada = app.token("acme/ada", &["admin"]);
    app.post("/v1/accounts/123456789012/subscribers", &ada, json!({"url": url, "events": ["request.created"]})).await
}

#[tokio::test]
async fn registration_refuses_every_non_public_target_class_and_plain_http() {
    let app = spawn_app_adjusted(|config, app| {
        config.notify.allow_private_targets = false;
        app.parts_mut().vault = app.vault.clone().with_private_webhook_targets(false);
    })
    .await;
    assert_eq!(app.register("123456789012", "provider_split", Some("globex")).await.status, StatusCode::CREATED);
    for url in [
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://10.0.0.1/hook",
        "https://172.16.5.4/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
        "https://224.0.0.1/hook",
        "https://255.255.255.255/hook",
        "https://192.0.2.10/hook",
        "https://[::1]/hook",
        "https://[fc00::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:169.254.169.254]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "http://93.184.216.34/hook",
    ] {
        let reply = subscribe(&app, url).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_url"), "{url}");
    }
    let refused = app.audit_events().into_iter().filter(|e| e["action"] == "subscriber.create").count();
    assert_eq!(refused, 17, "each refusal is audited");
}

#[tokio::test]
async fn a_delivery_to_a_name_that_resolves_to_loopback_is_refused() {
    // The subscriber was accepted earlier (here: registration still allows
    // private targets); delivery checks again and never connects.
    let app = spawn_app_adjusted(|config, _| config.notify.allow_private_targets = false).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    let _receiver = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    app.stocked_account("123456789012").await;
    assert_eq!(subscribe(&app, &format!("https://localhost:{port}/hook")).await.status, StatusCode::CREATED);
    let asked = app.ask("acme/sam", json!({"account_id": "123456789012", "reason": "x", "mfa_to": "acme/bob"})).await;
    assert_eq!(asked.status, StatusCode::CREATED);

    let deadline = Instant::now() + Duration::from_secs(10);
    let error = loop {
        let error: Option<String> =
            app.db().query_row("SELECT last_error FROM outbox LIMIT 1", [], |r| r.get(0)).unwrap();
        if let Some(error) = error {
            break error;
        }
        assert!(Instant::now() < deadline, "the delivery was never attempted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(error.contains("non-public address"), "{error}");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "nothing connected to the loopback receiver");
}
