//! Signed webhooks through the durable outbox, with a real receiver on
//! 127.0.0.1 that is down at first.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use reqwest::StatusCode;
use rootvault::notify::sign;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, SEED, STAFF, TestApp, spawn_app};

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, String)>>>);

/// A webhook receiver on `port` that records what it gets.
async fn start_receiver(port: u16, received: Received) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let received = received.clone();
            async move {
                received.0.lock().unwrap().push((headers, body));
                AxumStatus::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() })
}

/// A free loopback port with nothing listening on it (yet).
async fn unused_port() -> u16 {
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    probe.local_addr().unwrap().port()
}

async fn subscribe(app: &TestApp, admin: &str, url: &str, events: Value) -> (String, String) {
    let reply = app
        .post(
            "/v1/accounts/123456789012/subscribers",
            &app.token(admin, &["admin"]),
            json!({"url": url, "events": events}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (reply.body["id"].as_str().unwrap().to_owned(), reply.body["secret"].as_str().unwrap().to_owned())
}

/// Wait (at most 20 s) until `received` holds `n` deliveries.
async fn wait_for(received: &Received, n: usize) -> Vec<(HeaderMap, String)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = received.0.lock().unwrap().clone();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_every_signed_event_later_without_secrets() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let port = unused_port().await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let (_, soc_secret) = subscribe(&app, "globex/gina", &url, json!([])).await;

    let id = app.approved_request("123456789012").await;
    app.step(&id, "password", "acme/alice", STAFF).await;
    app.step(&id, "mfa-code", "acme/bob", STAFF).await;

    // The receiver is down: deliveries wait in the outbox and are retried.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let retried: i64 = app
            .db()
            .query_row("SELECT COUNT(*) FROM outbox WHERE attempts >= 2 AND state = 'pending'", [], |r| r.get(0))
            .unwrap();
        if retried >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no retry happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let received = Received::default();
    let _receiver = start_receiver(port, received.clone()).await;
    let got = wait_for(&received, 5).await;
    let events: Vec<String> = got.iter().map(|(h, _)| h[sign::EVENT_HEADER].to_str().unwrap().to_owned()).collect();
    for expected in ["request.created", "request.approved", "request.released"] {
        assert!(events.iter().any(|e| e == expected), "{expected} in {events:?}");
    }
    assert_eq!(events.iter().filter(|e| *e == "request.released").count(), 2, "password and MFA code");
    let mut ids = std::collections::BTreeSet::new();
    for (headers, body) in &got {
        let timestamp: i64 = headers[sign::TIMESTAMP_HEADER].to_str().unwrap().parse().unwrap();
        let signature = headers[sign::SIGNATURE_HEADER].to_str().unwrap();
        assert!(sign::verify(&soc_secret, timestamp, body, signature), "signed with the subscriber's secret");
        assert!(!sign::verify("whsec_wrong", timestamp, body, signature));
        let payload: Value = serde_json::from_str(body).unwrap();
        let delivery = headers[sign::DELIVERY_HEADER].to_str().unwrap();
        assert_eq!(payload["delivery_id"], delivery);
        assert!(ids.insert(delivery.to_owned()), "each delivery has its own id");
        assert_eq!(payload["account_id"], "123456789012");
        assert!(!body.contains(PASSWORD) && !body.contains(SEED) && !body.contains(&soc_secret));
    }
    let delivered: i64 =
        app.db().query_row("SELECT COUNT(*) FROM outbox WHERE state = 'delivered'", [], |r| r.get(0)).unwrap();
    assert_eq!(delivered as usize, got.len());
}

#[tokio::test]
async fn subscribers_choose_events_and_are_managed_by_their_own_org() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let port = unused_port().await;
    let received = Received::default();
    let _receiver = start_receiver(port, received.clone()).await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let (acme_sub, _) = subscribe(&app, "acme/ada", &url, json!(["request.denied"])).await;

    let gina = app.token("globex/gina", &["admin"]);
    let ada = app.token("acme/ada", &["admin"]);
    let path = "/v1/accounts/123456789012/subscribers";
    assert_eq!(app.get(path, &gina).await.body["subscribers"], json!([]), "globex sees only its own");
    let listed = app.get(path, &ada).await;
    assert_eq!(listed.body["subscribers"][0]["events"], json!(["request.denied"]));
    assert!(listed.body["subscribers"][0].get("secret").is_none());

    for (body, code) in [
        (json!({"url": "http://hooks.globex.example/x"}), "invalid_url"),
        (json!({"url": "https://user:pw@hooks.globex.example/x"}), "invalid_url"),
        (json!({"url": "not a url"}), "invalid_url"),
        (json!({"url": "https://hooks.globex.example/x", "events": ["request.exploded"]}), "invalid_event"),
    ] {
        let reply = app.post(path, &gina, body.clone()).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, code), "{body}");
    }
    let staff = app.post(path, &app.token("globex/gus", STAFF), json!({"url": "https://hooks.globex.example/x"})).await;
    assert_eq!(staff.status, StatusCode::FORBIDDEN);
    let foreign = app.send(reqwest::Method::DELETE, &format!("{path}/{acme_sub}"), Some(&gina), None).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    app.approved_request("123456789012").await;
    let reply = app.ask("acme/sam", json!({"account_id": "123456789012", "reason": "x", "mfa_to": "acme/bob"})).await;
    app.step(reply.body["id"].as_str().unwrap(), "deny", "acme/carol", &["approver"]).await;
    let got = wait_for(&received, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0[sign::EVENT_HEADER], "request.denied");
    assert_eq!(
        app.send(reqwest::Method::DELETE, &format!("{path}/{acme_sub}"), Some(&ada), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(path, &ada).await.body["subscribers"], json!([]));
}

#[tokio::test]
async fn an_attempt_that_ends_after_its_subscriber_was_removed_does_not_revive_the_delivery() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let url = format!("http://127.0.0.1:{}/hook", unused_port().await);
    let (sub, _) = subscribe(&app, "globex/gina", &url, json!([])).await;
    app.approved_request("123456789012").await;
    let delivery: String =
        app.db().query_row("SELECT id FROM outbox WHERE subscriber_id = ?1 LIMIT 1", [&sub], |r| r.get(0)).unwrap();

    // The worker has taken the delivery and is trying it when the
    // subscriber is removed; then its attempt fails.
    let path = format!("/v1/accounts/123456789012/subscribers/{sub}");
    let gina = app.token("globex/gina", &["admin"]);
    assert_eq!(app.send(reqwest::Method::DELETE, &path, Some(&gina), None).await.status, StatusCode::NO_CONTENT);
    let late = delivery.clone();
    app.app
        .vault
        .store()
        .write(move |b| rootvault::store::outbox::mark_failed(b.conn(), &late, "connection refused", 0, false))
        .await
        .unwrap();

    let (state, error): (String, String) = app
        .db()
        .query_row("SELECT state, last_error FROM outbox WHERE id = ?1", [&delivery], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((state.as_str(), error.as_str()), ("failed", "subscriber removed"));
}
