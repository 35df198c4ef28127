//! One-time links: deliver once, collect once, never consumed by a GET,
//! atomic under racing opens, passphrases, expiry, revocation, headers.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, STAFF, TestApp, spawn_app};

fn recipient() -> Value {
    json!({"name": "Jane Doe", "email": "jane@globex.example"})
}

/// A deliver link made by alice from an approved request; returns (id, url).
async fn deliver_link(app: &TestApp, extra: Value) -> (String, String) {
    let request = app.approved_request("123456789012").await;
    let mut body = json!({"purpose": "deliver", "account_id": "123456789012", "half": "password", "recipient": recipient(), "request_id": request});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let reply = app.post("/v1/links", &app.token("acme/alice", STAFF), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (reply.body["id"].as_str().unwrap().to_owned(), reply.body["url"].as_str().unwrap().to_owned())
}

async fn open(app: &TestApp, id: &str, body: Value) -> (StatusCode, Value) {
    let r = app.client.post(format!("{}/v1/public/links/{id}/open", app.base)).json(&body).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

/// Decrypt what the page would, with the key from the URL fragment.
fn decrypt(url: &str, id: &str, ciphertext: &str) -> Value {
    let key = B64URL.decode(url.split_once('#').unwrap().1).unwrap();
    let sealed = B64URL.decode(ciphertext).unwrap();
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key));
    let plain =
        cipher.decrypt(Nonce::from_slice(&sealed[..12]), Payload { msg: &sealed[12..], aad: id.as_bytes() }).unwrap();
    serde_json::from_slice(&plain).unwrap()
}

#[tokio::test]
async fn a_deliver_link_yields_its_secret_once_and_a_page_view_consumes_nothing() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let (id, url) = deliver_link(&app, json!({})).await;
    assert!(url.starts_with(&format!("{}/l/{id}#", app.base)));

    // Previews and prefetchers: GET and HEAD the page, as often as they like.
    for _ in 0..3 {
        let page = app.client.get(format!("{}/l/{id}", app.base)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let head = app.client.head(format!("{}/l/{id}", app.base)).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK);
    }
    let alice = app.token("acme/alice", STAFF);
    assert_eq!(app.get(&format!("/v1/links/{id}"), &alice).await.body["state"], "pending");

    let (status, body) = open(&app, &id, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let secret = decrypt(&url, &id, body["ciphertext"].as_str().unwrap());
    assert_eq!(secret["password"], PASSWORD);
    assert_eq!(secret["root_email"], "aws-root+123456789012@acme.example");

    let (again, body) = open(&app, &id, json!({})).await;
    assert_eq!((again, body["error"]["code"].as_str()), (StatusCode::GONE, Some("link_used")));
    let receipt = app.get(&format!("/v1/links/{id}"), &alice).await;
    assert_eq!(receipt.body["state"], "opened");
    assert!(receipt.body["used_at"].is_string());
    assert!(receipt.body.get("ciphertext").is_none() && !receipt.body.to_string().contains(PASSWORD));
    let ciphertexts: i64 =
        app.db().query_row("SELECT COUNT(*) FROM links WHERE ciphertext IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(ciphertexts, 0, "an opened link keeps no ciphertext");
    let halves = app.get("/v1/accounts/123456789012/halves", &alice).await;
    assert_eq!(halves.body["halves"][0]["rotation_due"], true, "a deliver link is a release");
}

#[tokio::test]
async fn fifty_racing_opens_yield_one_secret() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let (id, _) = deliver_link(&app, json!({})).await;
    let mut racers = Vec::new();
    for _ in 0..50 {
        let (client, url) = (app.client.clone(), format!("{}/v1/public/links/{id}/open", app.base));
        racers.push(tokio::spawn(async move { client.post(url).json(&json!({})).send().await.unwrap().status() }));
    }
    let mut statuses = Vec::new();
    for r in racers {
        statuses.push(r.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::GONE), "{statuses:?}");
}

#[tokio::test]
async fn deliver_links_obey_the_release_rules() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let request = app.approved_request("123456789012").await;
    let body = |half: &str, request: Option<&str>, ttl: u32| json!({"purpose": "deliver", "account_id": "123456789012", "half": half, "recipient": recipient(), "request_id": request, "ttl_minutes": ttl});
    for (who, b, status, code) in [
        ("acme/alice", body("password", None, 60), StatusCode::UNPROCESSABLE_ENTITY, "invalid_link"),
        ("acme/alice", body("mfa", Some(&request), 60), StatusCode::UNPROCESSABLE_ENTITY, "invalid_link"),
        ("acme/alice", body("password", Some(&request), 10_081), StatusCode::UNPROCESSABLE_ENTITY, "invalid_link"),
        ("acme/bob", body("password", Some(&request), 60), StatusCode::FORBIDDEN, "not_recipient"),
        ("acme/ada", body("password", Some(&request), 60), StatusCode::FORBIDDEN, "not_recipient"),
    ] {
        let reply = app.post("/v1/links", &app.token(who, &["admin", "staff"]), b.clone()).await;
        assert_eq!((reply.status, reply.code()), (status, code), "{who} {b}");
    }
    // The link spends the request's only password view.
    let ok = app.post("/v1/links", &app.token("acme/alice", STAFF), body("password", Some(&request), 60)).await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let second = app.post("/v1/links", &app.token("acme/alice", STAFF), body("password", Some(&request), 60)).await;
    assert_eq!((second.status, second.code()), (StatusCode::GONE, "no_views_left"));
    let direct = app.step(&request, "password", "acme/alice", STAFF).await;
    assert_eq!(direct.code(), "no_views_left");
}

#[tokio::test]
async fn five_wrong_passphrases_burn_a_link() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let (id, url) = deliver_link(&app, json!({"passphrase": "correct horse battery"})).await;
    for left in (1..5).rev() {
        let (status, body) = open(&app, &id, json!({"passphrase": "wrong guess!"})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["message"], format!("wrong passphrase; {left} attempts left"));
    }
    let (status, body) = open(&app, &id, json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::GONE, Some("link_burned")));
    let (status, _) = open(&app, &id, json!({"passphrase": "correct horse battery"})).await;
    assert_eq!(status, StatusCode::GONE, "the right passphrase comes too late");
    let wrong = app.audit_events().into_iter().find(|e| e["details"]["code"] == "wrong_passphrase").unwrap();
    assert_eq!(wrong["action"], "link.open");
    assert_eq!(wrong["target"]["account_id"], "123456789012", "failed attempts are the account's auditors' to see");

    let (id, url2) = deliver_link(&app, json!({"passphrase": "correct horse battery"})).await;
    let (status, body) = open(&app, &id, json!({"passphrase": "correct horse battery"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(decrypt(&url2, &id, body["ciphertext"].as_str().unwrap())["password"], PASSWORD);
    let _ = url;
}

#[tokio::test]
async fn a_collect_link_stores_one_policy_checked_secret() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let body = |half: &str| json!({"purpose": "collect", "account_id": "123456789012", "half": half, "recipient": recipient()});
    let bob = app.post("/v1/links", &app.token("acme/bob", STAFF), body("password")).await;
    assert_eq!(bob.status, StatusCode::FORBIDDEN, "bob holds the other half");
    let gina = app.post("/v1/links", &app.token("globex/gina", &["admin"]), body("password")).await;
    assert_eq!(gina.status, StatusCode::FORBIDDEN, "globex does not hold a provider-split half");
    let admin = app.post("/v1/links", &app.token("acme/ada", &["admin"]), body("mfa")).await;
    assert_eq!(admin.status, StatusCode::CREATED, "the holding org's admin may collect");

    let created = app.post("/v1/links", &app.token("acme/alice", STAFF), body("password")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(!created.body["url"].as_str().unwrap().contains('#'));
    let submit = |b: Value| app.client.post(format!("{}/v1/public/links/{id}/submit", app.base)).json(&b).send();

    let weak = submit(json!({"password": "weak"})).await.unwrap();
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let reused = submit(json!({"password": PASSWORD})).await.unwrap();
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY, "history applies to links too");
    let wrong_kind =
        submit(json!({"otpauth_uri": "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"})).await.unwrap();
    assert_eq!(wrong_kind.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let ok = submit(json!({"password": "Customer-Chosen-9!"})).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let again = submit(json!({"password": "Customer-Chosen-10!"})).await.unwrap();
    assert_eq!(again.status(), StatusCode::GONE);

    let halves = app.get("/v1/accounts/123456789012/halves", &app.token("acme/ada", &["admin"])).await;
    let newest = &halves.body["halves"][0]["versions"][1];
    assert_eq!(newest["source"], "link");
    assert!(newest["created_by"].as_str().unwrap().starts_with("link:"));
    let stored = app
        .app
        .vault
        .decrypt_current(&"123456789012".parse().unwrap(), rootvault::domain::ids::Half::Password)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&*stored.1, b"Customer-Chosen-9!");
    let open_collect = open(&app, &id, json!({})).await;
    assert_eq!(open_collect.0, StatusCode::GONE);
}

#[tokio::test]
async fn revoked_and_expired_links_are_gone_and_receipts_are_for_creators() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let (id, _) = deliver_link(&app, json!({})).await;
    let alice = app.token("acme/alice", STAFF);
    assert_eq!(app.get(&format!("/v1/links/{id}"), &app.token("acme/bob", STAFF)).await.status, StatusCode::NOT_FOUND);
    let revoked = app.send(reqwest::Method::DELETE, &format!("/v1/links/{id}"), Some(&alice), None).await;
    assert_eq!(revoked.body["state"], "revoked");
    let (status, body) = open(&app, &id, json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::GONE, Some("link_revoked")));

    let (id, _) = deliver_link(&app, json!({})).await;
    app.db().execute("UPDATE links SET expires_at = 1 WHERE state = 'pending'", []).unwrap();
    let (status, body) = open(&app, &id, json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::GONE, Some("link_expired")));
    assert_eq!(app.get(&format!("/v1/links/{id}"), &alice).await.body["state"], "expired");
    let unknown = open(&app, "AAAAAAAAAAAAAAAAAAAAAA", json!({})).await;
    assert_eq!(unknown.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_page_and_public_endpoints_send_strict_headers_and_limit_rates() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let (id, _) = deliver_link(&app, json!({})).await;
    let page = app.client.get(format!("{}/l/{id}", app.base)).send().await.unwrap();
    let h = page.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap().to_owned();
    for part in
        ["default-src 'none'", "script-src 'nonce-", "base-uri 'none'", "frame-ancestors 'none'", "connect-src 'self'"]
    {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("http"));
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    assert!(html.contains("Jane Doe") && html.contains("Reveal") && !html.contains(PASSWORD));
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
    assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), 3, "only the page's own scripts and styles run");
    assert!(!html.contains("src=\"http"), "no third-party resource");

    let (_, _) = open(&app, "AAAAAAAAAAAAAAAAAAAAAA", json!({})).await;
    let public = app
        .client
        .post(format!("{}/v1/public/links/{id}/open", app.base))
        .json(&json!({"passphrase": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(public.headers()["referrer-policy"], "no-referrer");
    assert!(public.headers()["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));

    let mut limited = false;
    for _ in 0..80 {
        if app.client.get(format!("{}/l/{id}", app.base)).send().await.unwrap().status()
            == StatusCode::TOO_MANY_REQUESTS
        {
            limited = true;
            break;
        }
    }
    assert!(limited, "one link's page is rate limited");
}

#[tokio::test]
async fn one_client_address_is_rate_limited_across_links() {
    let app = spawn_app().await;
    let mut statuses = Vec::new();
    for n in 0..320u32 {
        // A different (unknown) link each time: only the per-address budget applies.
        let id = format!("{n:0>22}");
        let r =
            app.client.post(format!("{}/v1/public/links/{id}/open", app.base)).json(&json!({})).send().await.unwrap();
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "rate_limited");
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{} requests went through", statuses.len());
    assert!(statuses[..statuses.len() - 1].iter().all(|s| *s == StatusCode::NOT_FOUND));
}

#[tokio::test]
async fn link_events_are_audited_with_truncated_id_hashes_only() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let (id, url) = deliver_link(&app, json!({})).await;
    open(&app, &id, json!({})).await;
    open(&app, &id, json!({})).await;
    let events = app.audit_events();
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(&id) && !all.contains(url.split('#').nth(1).unwrap()), "no link id or key in the log");
    let opens: Vec<&Value> = events.iter().filter(|e| e["action"] == "link.open").collect();
    assert_eq!(opens.len(), 2);
    assert_eq!((opens[0]["outcome"].as_str(), opens[1]["outcome"].as_str()), (Some("ok"), Some("denied")));
    let hash = opens[0]["target"]["link_id_hash"].as_str().unwrap();
    assert_eq!(hash.len(), 16);
    assert!(events.iter().any(|e| e["action"] == "half.release"
        && e["details"]["form"] == "link"
        && e["target"]["link_id_hash"] == hash));
}
