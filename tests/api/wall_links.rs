//! The wall by secret, not only by version number (invariant 2): collect
//! links expose their makers, a secret that comes back carries who has seen
//! it, and a collect link is void once its half or its custodians change.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, SEED, STAFF, TestApp, spawn_app, spawn_app_at};

const ACCOUNT: &str = "123456789012";
/// A second 160-bit seed, unlike `SEED`.
const OTHER_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn otpauth(seed: &str) -> String {
    format!("otpauth://totp/AWS:root@acme.example?secret={seed}&issuer=AWS")
}

/// Make a collect link for `half` as `who` with `roles`; returns its id.
async fn collect_link(app: &TestApp, who: &str, roles: &[&str], half: &str) -> String {
    let body = json!({"purpose": "collect", "account_id": ACCOUNT, "half": half,
                      "recipient": {"name": "Jane Doe", "email": "jane@globex.example"}, "ttl_minutes": 10080});
    let reply = app.post("/v1/links", &app.token(who, roles), body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// Submit through the public endpoint, as the link's holder would.
async fn submit(app: &TestApp, id: &str, body: Value) -> (StatusCode, Value) {
    let r = app.client.post(format!("{}/v1/public/links/{id}/submit", app.base)).json(&body).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

fn current(app: &TestApp, half: &str) -> i64 {
    app.db()
        .query_row(
            "SELECT current_version FROM halves WHERE account_id = ?1 AND half = ?2",
            rusqlite::params![ACCOUNT, half],
            |r| r.get(0),
        )
        .unwrap()
}

#[tokio::test]
async fn a_seed_resubmitted_through_a_collect_link_keeps_its_depositor_walled_off_the_password() {
    let app = spawn_app().await;
    app.stocked_account(ACCOUNT).await;
    // bob deposited SEED as MFA v1. He makes a collect link and submits the
    // same seed through it, which becomes v2 "by link".
    let link = collect_link(&app, "acme/bob", STAFF, "mfa").await;
    let (status, body) = submit(&app, &link, json!({"otpauth_uri": otpauth(SEED)})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(current(&app, "mfa"), 2);
    let event = app.last_event("link.submit");
    assert_eq!(event["details"]["same_secret_as"], json!([1]), "the seed's sameness is noticed");
    assert_eq!(event["details"]["link_created_by"], "acme/bob");

    // The admin then moves bob to the password half: refused, because bob
    // knows the MFA half's current seed (as its depositor and link maker).
    app.assign(ACCOUNT, "mfa", "acme/ada", &["acme/carl"]).await;
    let ada = app.token("acme/ada", &["admin"]);
    let moved = app
        .put(
            &format!("/v1/accounts/{ACCOUNT}/custodians/password"),
            &ada,
            json!({"principals": ["acme/alice", "acme/bob"]}),
        )
        .await;
    assert_eq!((moved.status, moved.code()), (StatusCode::CONFLICT, "four_eyes_violation"), "{}", moved.body);

    // Only re-enrolling with another seed lifts the wall.
    assert_eq!(app.deposit_seed(ACCOUNT, "acme/carl", OTHER_SEED).await.status, StatusCode::OK);
    app.assign(ACCOUNT, "password", "acme/ada", &["acme/alice", "acme/bob"]).await;
}

#[tokio::test]
async fn an_admin_who_collected_a_seed_cannot_then_be_named_password_custodian() {
    let app = spawn_app().await;
    app.provider_split_account(ACCOUNT).await;
    // ada (admin) makes an MFA collect link and submits a seed herself.
    let link = collect_link(&app, "acme/ada", &["admin"], "mfa").await;
    let (status, body) = submit(&app, &link, json!({"otpauth_uri": otpauth(SEED)})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Another admin names ada a password custodian: refused.
    let other_admin = app.token("acme/adele", &["admin"]);
    let named = app
        .put(&format!("/v1/accounts/{ACCOUNT}/custodians/password"), &other_admin, json!({"principals": ["acme/ada"]}))
        .await;
    assert_eq!((named.status, named.code()), (StatusCode::CONFLICT, "four_eyes_violation"), "{}", named.body);
    let exposures: i64 = app
        .db()
        .query_row(
            "SELECT COUNT(*) FROM exposures WHERE principal = 'acme/ada' AND half = 'mfa' AND version = 1 AND kind = 'collected'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(exposures, 1);
}

#[tokio::test]
async fn a_secret_known_to_someone_who_holds_the_other_half_cannot_come_back() {
    let app = spawn_app().await;
    app.provider_split_account(ACCOUNT).await;
    app.assign(ACCOUNT, "mfa", "acme/ada", &["acme/bob", "acme/carl"]).await;
    // bob enrols SEED (MFA v1); carl re-enrols with another seed (v2), so
    // bob's knowledge is history and he may move to the password half.
    assert_eq!(app.deposit_seed(ACCOUNT, "acme/bob", SEED).await.status, StatusCode::OK);
    assert_eq!(app.deposit_seed(ACCOUNT, "acme/carl", OTHER_SEED).await.status, StatusCode::OK);
    app.assign(ACCOUNT, "mfa", "acme/ada", &["acme/carl"]).await;
    app.assign(ACCOUNT, "password", "acme/ada", &["acme/alice", "acme/bob"]).await;
    assert_eq!(app.deposit_password(ACCOUNT, "acme/bob", PASSWORD).await.status, StatusCode::OK);

    // bob now knows the current password. If the old seed came back, he
    // would hold both halves: directly ...
    let direct = app.deposit_seed(ACCOUNT, "acme/carl", SEED).await;
    assert_eq!((direct.status, direct.code()), (StatusCode::CONFLICT, "four_eyes_violation"), "{}", direct.body);
    // ... or through a collect link whose holder bob told the seed to.
    let link = collect_link(&app, "acme/carl", STAFF, "mfa").await;
    let (status, body) = submit(&app, &link, json!({"otpauth_uri": otpauth(SEED)})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("link_void")), "{body}");
    assert!(!body.to_string().contains("acme/bob"), "the link's holder learns nothing about who knows what");
    let refused = app.last_event("link.submit");
    assert_eq!(refused["details"]["cause_code"], "four_eyes_violation");
    assert_eq!(current(&app, "mfa"), 2, "nothing was stored");
}

#[tokio::test]
async fn a_collect_link_made_before_a_newer_deposit_cannot_overwrite_it() {
    let app = spawn_app().await;
    app.stocked_account(ACCOUNT).await;
    app.assign(ACCOUNT, "password", "acme/ada", &["acme/alice", "acme/carl"]).await;
    // alice makes a 7-day password collect link against v1; carl deposits v2.
    let link = collect_link(&app, "acme/alice", STAFF, "password").await;
    assert_eq!(app.deposit_password(ACCOUNT, "acme/carl", "Carl-Deposited-77!").await.status, StatusCode::OK);
    let (status, body) = submit(&app, &link, json!({"password": "Alice-Knows-This-1!"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("half_changed")), "{body}");
    assert_eq!(current(&app, "password"), 2, "carl's version stays current");
}

#[tokio::test]
async fn changing_a_halfs_custodians_voids_its_open_collect_links() {
    let app = spawn_app().await;
    app.provider_split_account(ACCOUNT).await;
    app.assign(ACCOUNT, "password", "acme/ada", &["acme/alice", "acme/carl"]).await;
    let link = collect_link(&app, "acme/alice", STAFF, "password").await;
    let mfa_link = collect_link(&app, "acme/bob", STAFF, "mfa").await;
    // alice leaves the password half (on her way to the MFA half, which her
    // old link must not follow her to).
    app.assign(ACCOUNT, "password", "acme/ada", &["acme/carl"]).await;
    assert_eq!(app.last_event("custodians.set")["details"]["collect_links_revoked"], 1);
    app.assign(ACCOUNT, "mfa", "acme/ada", &["acme/bob", "acme/alice"]).await;
    // The MFA half's custodians changed too, so bob's link is void as well.
    let (status, _) = submit(&app, &mfa_link, json!({"otpauth_uri": otpauth(SEED)})).await;
    assert_eq!(status, StatusCode::GONE);

    let (status, body) = submit(&app, &link, json!({"password": "Alice-Knows-This-1!"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::GONE, Some("link_revoked")), "{body}");
    let receipt = app.get(&format!("/v1/links/{link}"), &app.token("acme/alice", STAFF)).await;
    assert_eq!(receipt.body["state"], "revoked");
    let stored: i64 = app.db().query_row("SELECT COUNT(*) FROM half_versions", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 0, "nothing was stored through the void links");
}

#[tokio::test]
async fn versions_stored_before_fingerprints_existed_are_fingerprinted_at_start() {
    let dir = crate::helpers::DataDir::new();
    {
        let app = spawn_app_at(dir.path()).await;
        app.provider_split_account(ACCOUNT).await;
        app.assign(ACCOUNT, "mfa", "acme/ada", &["acme/bob", "acme/carl"]).await;
        assert_eq!(app.deposit_seed(ACCOUNT, "acme/bob", SEED).await.status, StatusCode::OK);
        assert_eq!(app.deposit_seed(ACCOUNT, "acme/carl", OTHER_SEED).await.status, StatusCode::OK);
        // As if written by an earlier release: no fingerprints on record.
        app.db().execute("DELETE FROM secret_fingerprints", []).unwrap();
    }
    let app = spawn_app_at(dir.path()).await;
    let stored: i64 = app.db().query_row("SELECT COUNT(*) FROM secret_fingerprints", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, 2, "both versions were fingerprinted at start");
    // So bob's old seed coming back is still recognised.
    assert_eq!(app.deposit_seed(ACCOUNT, "acme/carl", SEED).await.status, StatusCode::OK);
    assert_eq!(app.last_event("half.deposit")["details"]["same_secret_as"], json!([1]));
    app.assign(ACCOUNT, "mfa", "acme/ada", &["acme/carl"]).await;
    let ada = app.token("acme/ada", &["admin"]);
    let moved = app
        .put(&format!("/v1/accounts/{ACCOUNT}/custodians/password"), &ada, json!({"principals": ["acme/bob"]}))
        .await;
    assert_eq!(moved.code(), "four_eyes_violation", "{}", moved.body);
}
