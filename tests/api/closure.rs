//! Closure (DESIGN §16, seeds 000, 002, 003): a closed account keeps its
//! halves but releases nothing; a provider admin may reopen it within 90
//! days; after them the daily sweep closes it for good and destroys its keys.

use reqwest::StatusCode;
use rootvault::domain::ids::Half;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Reply, STAFF, TestApp, spawn_app};

const ACCOUNT: &str = "123456789012";
const DAY: i64 = 86_400;

async fn close(app: &TestApp) -> Reply {
    app.post(&format!("/v1/accounts/{ACCOUNT}/close"), &app.token("acme/ada", &["admin"]), json!({})).await
}

async fn reopen(app: &TestApp, who: &str) -> Reply {
    app.post(&format!("/v1/accounts/{ACCOUNT}/reopen"), &app.token(who, &["admin"]), json!({})).await
}

async fn account(app: &TestApp) -> Value {
    app.get(&format!("/v1/accounts/{ACCOUNT}"), &app.token("acme/ada", &["admin"])).await.body
}

async fn public(app: &TestApp, id: &str, what: &str, body: Value) -> reqwest::Response {
    app.client.post(format!("{}/v1/public/links/{id}/{what}", app.base)).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn a_closed_account_keeps_its_halves_but_releases_nothing_on_any_path() {
    let app = spawn_app().await;
    app.stocked_account(ACCOUNT).await;
    let approved = app.approved_request(ACCOUNT).await;
    let alice = app.token("acme/alice", STAFF);
    let recipient = json!({"name": "Jane Doe", "email": "jane@globex.example"});
    let (deliver, collect) = app.alices_links(ACCOUNT, &approved).await;
    let by_customer =
        app.post(&format!("/v1/accounts/{ACCOUNT}/close"), &app.token("globex/gina", &["admin"]), json!({})).await;
    assert_eq!(by_customer.status, StatusCode::FORBIDDEN);

    assert_eq!(close(&app).await.status, StatusCode::NO_CONTENT);
    let shown = account(&app).await;
    assert_eq!(shown["status"], "closed");
    assert!(shown["closed_at"].is_string() && shown["reopen_until"].is_string(), "{shown}");
    assert!(
        app.app.vault.decrypt_current(&ACCOUNT.parse().unwrap(), Half::Password).await.unwrap().is_some(),
        "the halves are kept"
    );

    let bob = app.token("acme/bob", STAFF);
    let refused = [
        app.post(&format!("/v1/requests/{approved}/password"), &alice, json!({})).await,
        app.post(&format!("/v1/requests/{approved}/mfa-code"), &bob, json!({})).await,
        app.post("/v1/links", &alice, json!({"purpose": "deliver", "account_id": ACCOUNT, "half": "password", "recipient": recipient, "request_id": approved})).await,
        app.post("/v1/links", &alice, json!({"purpose": "collect", "account_id": ACCOUNT, "half": "password", "recipient": recipient})).await,
        app.deposit_password(ACCOUNT, "acme/alice", "A-Newer-Passw0rd!").await,
        app.ask("acme/sam", json!({"account_id": ACCOUNT, "reason": "x", "password_to": "acme/alice"})).await,
        close(&app).await,
    ];
    for reply in &refused {
        assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "account_closed"), "{}", reply.body);
    }
    for (id, what, body) in
        [(&deliver, "open", json!({})), (&collect, "submit", json!({"password": "Submitted-Later-9!"}))]
    {
        let reply = public(&app, id, what, body).await;
        assert_eq!(reply.status(), StatusCode::CONFLICT, "{what}");
        let body: Value = reply.json().await.unwrap();
        assert_eq!(body["error"]["code"], "account_closed", "{what}");
    }
    let request = app.get(&format!("/v1/requests/{approved}"), &app.token("acme/sam", STAFF)).await.body;
    assert_eq!(
        (request["state"].as_str(), request["cancel_reason"].as_str()),
        (Some("cancelled"), Some("the account was closed"))
    );
    let patch = app
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/accounts/{ACCOUNT}"),
            Some(&app.token("acme/ada", &["admin"])),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(patch.code(), "account_closed");
    assert_eq!(app.last_event("half.release")["details"]["code"], "account_closed");
}

#[tokio::test]
async fn a_provider_admin_reopens_within_ninety_days_and_custody_resumes() {
    let app = spawn_app().await;
    app.stocked_account(ACCOUNT).await;
    assert_eq!(close(&app).await.status, StatusCode::NO_CONTENT);
    let by_customer = reopen(&app, "globex/gina").await;
    assert_eq!(by_customer.status, StatusCode::FORBIDDEN);
    app.app.vault.danger_shift_clock(89 * DAY);
    let reopened = reopen(&app, "acme/ada").await;
    assert_eq!(reopened.status, StatusCode::OK, "{}", reopened.body);
    // Back to what it was before the closure: in custody, not yet through onboarding.
    assert_eq!(
        (reopened.body["status"].as_str(), reopened.body["closed_at"].clone()),
        (Some("onboarding"), Value::Null)
    );
    assert_eq!(reopened.body["custodians"], json!({"password": ["acme/alice"], "mfa": ["acme/bob"]}));
    let again = reopen(&app, "acme/ada").await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "account_not_closed"));
    // Releases work again (back on today's clock, which step-up is judged on).
    app.app.vault.danger_shift_clock(0);
    let id = app.approved_request(ACCOUNT).await;
    let password = app.step(&id, "password", "acme/alice", STAFF).await;
    assert_eq!(password.body["password"], PASSWORD);
    assert_eq!(app.app.vault.close_permanently_due().await.unwrap(), 0, "a reopened account is not swept");
    let told: Vec<String> = {
        let db = app.db();
        let mut stmt = db.prepare("SELECT event FROM announcements").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert!(told.contains(&"account.closed".to_owned()) && told.contains(&"account.reopened".to_owned()), "{told:?}");
}

#[tokio::test]
async fn after_ninety_days_reopening_is_refused_and_the_daily_sweep_closes_the_account_for_good() {
    let app = spawn_app().await;
    app.stocked_account(ACCOUNT).await;
    assert_eq!(close(&app).await.status, StatusCode::NO_CONTENT);
    app.app.vault.danger_shift_clock(89 * DAY);
    assert_eq!(app.app.vault.close_permanently_due().await.unwrap(), 0, "still within the 90 days");
    app.app.vault.danger_shift_clock(91 * DAY);
    let late = reopen(&app, "acme/ada").await;
    assert_eq!((late.status, late.code()), (StatusCode::CONFLICT, "reopen_window_passed"), "{}", late.body);
    assert_eq!(account(&app).await["status"], "closed", "the refusal changed nothing");

    assert_eq!(app.app.vault.close_permanently_due().await.unwrap(), 1);
    assert_eq!(app.app.vault.close_permanently_due().await.unwrap(), 0, "once");
    assert_eq!(account(&app).await["status"], "closed_permanently");
    assert!(app.app.vault.decrypt_current(&ACCOUNT.parse().unwrap(), Half::Password).await.is_err());
    let keys: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM half_versions WHERE length(wrapped_key) > 0", [], |r| r.get(0))
        .unwrap();
    assert_eq!(keys, 0, "every data key is destroyed");
    let swept = app.last_event("account.close_permanently");
    assert_eq!((swept["actor"].clone(), swept["outcome"].as_str()), (Value::Null, Some("ok")));
    let ended: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM announcements WHERE event = 'custody.ended'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ended, 1);
    let after = reopen(&app, "acme/ada").await;
    assert_eq!((after.status, after.code()), (StatusCode::CONFLICT, "account_not_closed"));
    let deposit = app.deposit_password(ACCOUNT, "acme/alice", "A-Newer-Passw0rd!").await;
    assert_eq!(deposit.code(), "account_closed");
}
