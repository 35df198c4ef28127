//! Reverse assumption: the customer takes the account back through a
//! one-time link, and custody ends (seed 000).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use reqwest::StatusCode;
use rootvault::domain::ids::Half;
use serde_json::{Value, json};
use time::{Date, Duration, OffsetDateTime, Weekday};

use crate::helpers::{PASSWORD, TestApp, spawn_app};

pub const ITEMS: [&str; 7] = [
    "update_contacts",
    "update_payment_method",
    "downgrade_support",
    "disable_mfa",
    "remove_provider_roles",
    "remove_sns_topics",
    "leave_organization",
];

/// The next weekday after the 15th of its month, from tomorrow on.
pub fn next_handback_day() -> Date {
    let mut d = OffsetDateTime::now_utc().date() + Duration::days(1);
    while matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) || d.day() <= 15 {
        d += Duration::days(1);
    }
    d
}

/// A weekend day in the future.
fn next_saturday() -> Date {
    let mut d = OffsetDateTime::now_utc().date() + Duration::days(1);
    while d.weekday() != Weekday::Saturday {
        d += Duration::days(1);
    }
    d
}

/// A dedicated shared-payer account of globex with its password deposited.
pub async fn payer(app: &TestApp) {
    assert_eq!(app.register("123456789012", "shared_payer", Some("globex")).await.status, StatusCode::CREATED);
    app.assign("123456789012", "password", "acme/ada", &["acme/alice"]).await;
    app.assign("123456789012", "mfa", "globex/gina", &["globex/gus"]).await;
    app.deposit_password("123456789012", "acme/alice", PASSWORD).await;
    app.deposit_seed("123456789012", "globex/gus", crate::helpers::SEED).await;
}

pub fn request_body(date: Date) -> Value {
    json!({
        "new_root_email": "root@globex.example",
        "signatory": {"name": "Gina Globex", "email": "gina@globex.example"},
        "requested_date": date.to_string(),
    })
}

#[tokio::test]
async fn the_customer_takes_the_account_back_and_custody_ends() {
    let app = spawn_app().await;
    payer(&app).await;
    let base = "/v1/accounts/123456789012/reverse-assumption";
    let (ada, gina) = (app.token("acme/ada", &["admin"]), app.token("globex/gina", &["admin"]));
    let day = next_handback_day();

    let by_provider = app.post(base, &ada, request_body(day)).await;
    assert_eq!(by_provider.status, StatusCode::FORBIDDEN, "the customer asks");
    let weekend = app.post(base, &gina, request_body(next_saturday())).await;
    assert_eq!(weekend.code(), "reverse_assumption_rule");
    assert!(weekend.body["error"]["message"].as_str().unwrap().contains("weekday"));
    let created = app.post(base, &gina, request_body(day)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["state"], "requested");
    assert_eq!(app.post(base, &gina, request_body(day)).await.code(), "reverse_assumption_exists");

    let step = |path: &str, body: Value| {
        let (url, token) = (format!("{base}/{path}"), ada.clone());
        let app = &app;
        async move { app.post(&url, &token, body).await }
    };
    assert_eq!(
        app.post(&format!("{base}/schedule"), &gina, json!({"date": day.to_string()})).await.status,
        StatusCode::FORBIDDEN
    );
    let early = day.replace_day(10).unwrap();
    if early > OffsetDateTime::now_utc().date() && !matches!(early.weekday(), Weekday::Saturday | Weekday::Sunday) {
        let refused = step("schedule", json!({"date": early.to_string()})).await;
        assert!(refused.body["error"]["message"].as_str().unwrap().contains("15th"), "{}", refused.body);
    }
    assert_eq!(step("schedule", json!({"date": day.to_string()})).await.body["state"], "scheduled");
    let too_soon = step("handoff", json!({})).await;
    assert_eq!(too_soon.code(), "reverse_assumption_rule");

    // The day comes.
    let shift = (day - OffsetDateTime::now_utc().date()).whole_seconds();
    app.app.vault.danger_shift_clock(shift);
    assert_eq!(step("confirm-balance", json!({})).await.body["state"], "balance_confirmed");
    let incomplete = step("handoff", json!({})).await;
    assert!(incomplete.body["error"]["message"].as_str().unwrap().contains("checklist"), "{}", incomplete.body);
    let bad_item = step("checklist/feed_the_cat", json!({"status": "done"})).await;
    assert_eq!((bad_item.status, bad_item.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_checklist_item"));
    for (n, item) in ITEMS.iter().enumerate() {
        let status = if n == 5 { "not_applicable" } else { "done" };
        let reply = step(&format!("checklist/{item}"), json!({"status": status})).await;
        assert_eq!(reply.status, StatusCode::OK, "{item}: {}", reply.body);
    }
    let handed = step("handoff", json!({"kind": "deliver"})).await;
    assert_eq!(handed.body["state"], "handed_off", "{}", handed.body);

    // The provider sees the link's state, never its key; the customer gets the URL.
    let provider_view = app.get(base, &ada).await;
    assert_eq!(provider_view.body["link"]["state"], "pending");
    assert!(provider_view.body.get("link_url").is_none());
    let customer_view = app.get(base, &gina).await;
    let url = customer_view.body["link_url"].as_str().unwrap().to_owned();
    assert!(url.contains("/l/") && url.contains('#'));
    let id = url.split("/l/").nth(1).unwrap().split('#').next().unwrap().to_owned();
    let page = app.client.get(format!("{}/l/{id}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Gina Globex") && page.contains("acme"));

    let secret = open_hand_off(&app, &url).await;
    assert_eq!(
        (secret["password"].as_str(), secret["root_email"].as_str()),
        (Some(PASSWORD), Some("aws-root+123456789012@acme.example"))
    );

    // Custody ended: keys destroyed, custodians gone, read-only history.
    let done = app.get(base, &gina).await;
    assert_eq!(done.body["state"], "completed");
    assert!(app.app.vault.decrypt_current(&"123456789012".parse().unwrap(), Half::Password).await.is_err());
    let keys: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM half_versions WHERE length(wrapped_key) > 0", [], |r| r.get(0))
        .unwrap();
    assert_eq!(keys, 0, "every wrapped data key is destroyed");
    let account = app.get("/v1/accounts/123456789012", &ada).await;
    assert_eq!(account.body["custodians"], json!({"password": [], "mfa": []}));
    let deposit = app.deposit_password("123456789012", "acme/alice", "Another-Passw0rd!").await;
    assert_eq!((deposit.status, deposit.code()), (StatusCode::CONFLICT, "account_not_active"));
    let actions: Vec<String> = app.audit_events().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    for a in [
        "reverse.request",
        "reverse.schedule",
        "reverse.confirm_balance",
        "reverse.checklist",
        "reverse.handoff",
        "link.open",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}");
    }
    let completion = app.last_event("link.open");
    assert_eq!(completion["details"]["custody"], "ended");
}

#[tokio::test]
async fn a_collect_hand_off_lets_the_customer_set_the_new_password() {
    let app = spawn_app().await;
    payer(&app).await;
    let base = "/v1/accounts/123456789012/reverse-assumption";
    let gina = app.token("globex/gina", &["admin"]);
    let url = hand_off(&app, "collect").await;
    assert_eq!(app.get(base, &gina).await.body["handoff"], "collect");
    assert!(!url.contains('#'));
    submit_hand_off(&app, &url).await;
    assert_eq!(app.get(base, &gina).await.body["state"], "completed");
}

/// Open a deliver hand-off link as the signatory's browser would and
/// decrypt it with the key from the URL fragment.
async fn open_hand_off(app: &TestApp, url: &str) -> Value {
    let id = url.split("/l/").nth(1).unwrap().split('#').next().unwrap();
    let opened =
        app.client.post(format!("{}/v1/public/links/{id}/open", app.base)).json(&json!({})).send().await.unwrap();
    assert_eq!(opened.status(), StatusCode::OK);
    let body: Value = opened.json().await.unwrap();
    let key = B64URL.decode(url.split('#').nth(1).unwrap()).unwrap();
    let sealed = B64URL.decode(body["ciphertext"].as_str().unwrap()).unwrap();
    let plain = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key))
        .decrypt(Nonce::from_slice(&sealed[..12]), Payload { msg: &sealed[12..], aad: id.as_bytes() })
        .unwrap();
    serde_json::from_slice(&plain).unwrap()
}

/// The signatory sets the new password through a collect hand-off link.
async fn submit_hand_off(app: &TestApp, url: &str) {
    let id = url.rsplit('/').next().unwrap();
    let sent = app
        .client
        .post(format!("{}/v1/public/links/{id}/submit", app.base))
        .json(&json!({"password": "Globex-Owns-This-9!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::OK);
}

/// Bring the payer's hand-back to `handed_off` with a `kind` link; returns
/// the link URL the customer's admin sees.
async fn hand_off(app: &TestApp, kind: &str) -> String {
    let base = "/v1/accounts/123456789012/reverse-assumption";
    let (ada, gina) = (app.token("acme/ada", &["admin"]), app.token("globex/gina", &["admin"]));
    let day = next_handback_day();
    app.post(base, &gina, request_body(day)).await;
    app.post(&format!("{base}/schedule"), &ada, json!({"date": day.to_string()})).await;
    app.app.vault.danger_shift_clock((day - OffsetDateTime::now_utc().date()).whole_seconds());
    app.post(&format!("{base}/confirm-balance"), &ada, json!({})).await;
    for item in ITEMS {
        app.post(&format!("{base}/checklist/{item}"), &ada, json!({"status": "done"})).await;
    }
    let handed = app.post(&format!("{base}/handoff"), &ada, json!({"kind": kind})).await;
    assert_eq!(handed.body["state"], "handed_off", "{}", handed.body);
    app.get(base, &gina).await.body["link_url"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn while_the_hand_off_link_is_out_neither_half_can_change() {
    let app = spawn_app().await;
    payer(&app).await;
    let url = hand_off(&app, "deliver").await;
    let account = "/v1/accounts/123456789012";
    let (alice, gus) = (app.token("acme/alice", &["staff"]), app.token("globex/gus", &["staff"]));
    let frozen = [
        app.deposit_password("123456789012", "acme/alice", "A-Newer-Passw0rd!").await,
        app.deposit_seed("123456789012", "globex/gus", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").await,
        app.post(&format!("{account}/halves/password/rotate"), &alice, json!({})).await,
        app.post("/v1/links", &alice, json!({"purpose": "collect", "account_id": "123456789012", "half": "password", "recipient": {"name": "A", "email": "a@acme.example"}})).await,
        app.post("/v1/links", &gus, json!({"purpose": "collect", "account_id": "123456789012", "half": "mfa", "recipient": {"name": "G", "email": "g@globex.example"}})).await,
    ];
    for reply in &frozen {
        assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "handoff_pending"), "{}", reply.body);
    }
    // The signatory gets the password that is current, the one the link was made with.
    assert_eq!(open_hand_off(&app, &url).await["password"], PASSWORD);
}

#[tokio::test]
async fn the_hand_off_is_authorised_before_anything_is_decrypted() {
    let app = spawn_app().await;
    // Nothing deposited: a decryption attempt would answer 409 nothing_deposited.
    assert_eq!(app.register("123456789012", "shared_payer", Some("globex")).await.status, StatusCode::CREATED);
    let handoff = "/reverse-assumption/handoff";
    let body = json!({"kind": "deliver"});
    let gina = app.token("globex/gina", &["admin"]);
    let own = app.post(&format!("/v1/accounts/123456789012{handoff}"), &gina, body.clone()).await;
    assert_eq!((own.status, own.code()), (StatusCode::FORBIDDEN, "forbidden"), "{}", own.body);
    let ivan = app.token("initech/ivan", &["admin"]);
    let foreign = app.post(&format!("/v1/accounts/123456789012{handoff}"), &ivan, body.clone()).await;
    let missing = app.post(&format!("/v1/accounts/999999999999{handoff}"), &ivan, body).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);
    assert_eq!((foreign.status, &foreign.body), (missing.status, &missing.body));
}

/// Every byte string of `needles` that occurs in a file under `dir`.
fn traces_in(dir: &std::path::Path, needles: &[Vec<u8>]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(traces_in(&path, needles));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for (n, needle) in needles.iter().enumerate() {
            if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found.push(format!("blob {n} in {}", path.display()));
            }
        }
    }
    found
}

/// The wrapped keys and ciphertexts of every stored half version.
fn key_material(app: &TestApp) -> Vec<Vec<u8>> {
    let db = app.db();
    let mut stmt = db.prepare("SELECT wrapped_key, ciphertext FROM half_versions").unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get::<Vec<u8>>(0)?, r.get::<Vec<u8>>(1)?))).unwrap();
    let mut blobs = Vec::new();
    for row in rows {
        let (wrapped, ciphertext) = row.unwrap();
        blobs.push(wrapped);
        blobs.push(ciphertext);
    }
    assert!(blobs.iter().all(|b| b.len() >= 32), "every version has key material to look for");
    blobs
}

#[tokio::test]
async fn destroyed_keys_leave_no_trace_in_the_data_directory_after_permanent_closure_or_hand_off() {
    if crate::helpers::postgres_backend() {
        eprintln!(
            "skipped on PostgreSQL: the data directory holds no database there; a shredded row's old version \
             lasts until vacuum and in the server's own WAL and backups (docs/postgres.md)"
        );
        return;
    }
    for how in ["close", "hand_off"] {
        let dir = crate::helpers::DataDir::new();
        let blobs = {
            let app = crate::helpers::spawn_app_at(dir.path()).await;
            payer(&app).await;
            let blobs = key_material(&app);
            assert!(!traces_in(dir.path(), &blobs).is_empty(), "the scan finds what is there");
            if how == "close" {
                // Closing keeps the keys; the sweep 90 days on destroys them.
                let ada = app.token("acme/ada", &["admin"]);
                let closed = app.post("/v1/accounts/123456789012/close", &ada, json!({})).await;
                assert_eq!(closed.status, StatusCode::NO_CONTENT);
                assert!(!traces_in(dir.path(), &blobs).is_empty(), "a closed account keeps its halves");
                app.app.vault.danger_shift_clock(91 * 86_400);
                assert_eq!(app.app.vault.close_permanently_due().await.unwrap(), 1);
            } else {
                let url = hand_off(&app, "collect").await;
                submit_hand_off(&app, &url).await;
            }
            assert_eq!(traces_in(dir.path(), &blobs), Vec::<String>::new(), "{how}: while running");
            blobs
        };
        assert_eq!(traces_in(dir.path(), &blobs), Vec::<String>::new(), "{how}: after shutdown");
    }
}
