//! People signing in to the console through the dev identity provider:
//! sessions, cookies, CSRF, timeouts, refusals of bad callbacks, and the
//! step-up age of releases.

use reqwest::StatusCode;
use serde_json::json;

use crate::browser::{Browser, location, query_param, set_cookies};
use crate::helpers::{DataDir, PASSWORD, spawn_app_at, spawn_app_configured, spawn_dev_app};

fn sessions(app: &crate::helpers::TestApp) -> i64 {
    app.db().query_row("SELECT count(*) FROM sessions", [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn sam_signs_in_through_the_dev_provider_and_the_console_shows_who_he_is() {
    let app = spawn_dev_app().await;
    let browser = Browser::new(&app);
    let signed_out = browser.get("/").await;
    assert_eq!((signed_out.status(), location(&signed_out).as_str()), (StatusCode::SEE_OTHER, "/signin?return_to=%2F"));
    let page = browser.get("/signin").await.text().await.unwrap();
    for org in ["acme", "globex", "initech"] {
        assert!(page.contains(&format!("data-action=\"sign-in\" data-org=\"{org}\"")), "{page}");
    }

    let callback = browser.through_dev_provider("acme", "sam", "/").await;
    assert!(callback.starts_with(&format!("{}/auth/callback?", app.base)), "{callback}");
    let done = browser.get(&callback).await;
    assert_eq!((done.status(), location(&done).as_str()), (StatusCode::SEE_OTHER, "/"));
    let cookie = set_cookies(&done).into_iter().find(|c| c.starts_with("rv_session=")).unwrap();
    assert!(cookie.ends_with("; Path=/; HttpOnly; SameSite=Lax"), "no Secure over http: {cookie}");
    let (status, home) = browser.home().await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("data-field=\"principal\">acme/sam<"), "{home}");
    assert!(home.contains("data-field=\"roles\">staff<"), "{home}");

    let event = app.last_event("auth.signin");
    assert_eq!((event["actor"].as_str(), event["outcome"].as_str()), (Some("acme/sam"), Some("ok")));
    assert_eq!(event["details"]["method"], "oidc");
    let session = browser.cookie("rv_session").unwrap();
    let log = serde_json::to_string(&app.audit_events()).unwrap();
    assert!(!log.contains(&session), "the session id never reaches the audit log");
    let stored: String = app.db().query_row("SELECT id_hash FROM sessions", [], |r| r.get(0)).unwrap();
    assert_ne!(stored, session, "the database keeps only the id's hash");
}

#[tokio::test]
async fn a_console_session_survives_a_restart_of_the_service() {
    let dir = DataDir::new();
    let app = spawn_app_at(dir.path()).await;
    let browser = Browser::sign_in(&app, "globex", "gina").await;
    let session = browser.cookie("rv_session").unwrap();
    drop(app);

    let again = spawn_app_at(dir.path()).await;
    let browser = Browser::new(&again);
    browser.set_cookie("rv_session", &session);
    let (status, home) = browser.home().await;
    assert_eq!(status, StatusCode::OK, "{home}");
    assert!(home.contains("globex/gina"));
}

#[tokio::test]
async fn signing_out_needs_the_csrf_token_and_ends_the_session_on_the_server() {
    let app = spawn_dev_app().await;
    let browser = Browser::sign_in(&app, "acme", "carol").await;
    let session = browser.cookie("rv_session").unwrap();
    let token = browser.csrf_token().await;

    for form in [vec![], vec![("csrf_token", "forged")]] {
        let refused = browser.post_form("/signout", &form).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        assert!(refused.text().await.unwrap().contains("data-field=\"error\""));
    }
    assert_eq!(browser.home().await.0, StatusCode::OK, "a refused sign-out leaves the session alone");
    let event = app.last_event("auth.signout");
    assert_eq!((event["outcome"].as_str(), event["details"]["code"].as_str()), (Some("denied"), Some("csrf")));

    let out = browser.post_form("/signout", &[("csrf_token", &token)]).await;
    assert_eq!((out.status(), location(&out).as_str()), (StatusCode::SEE_OTHER, "/signin"));
    assert_eq!(browser.cookie("rv_session"), None, "the cookie is cleared");
    let event = app.last_event("auth.signout");
    assert_eq!((event["actor"].as_str(), event["outcome"].as_str()), (Some("acme/carol"), Some("ok")));

    // The old cookie, replayed, opens nothing: the session ended server-side.
    browser.set_cookie("rv_session", &session);
    assert_eq!(browser.home().await, (StatusCode::SEE_OTHER, "/signin?return_to=%2F".into()));
    let fail = app.last_event("auth.fail");
    assert_eq!(fail["details"]["reason"], "session ended");
}

#[tokio::test]
async fn sessions_end_after_the_idle_timeout_and_the_absolute_lifetime() {
    let app = spawn_dev_app().await;
    let browser = Browser::sign_in(&app, "acme", "dave").await;
    app.app.vault.danger_shift_clock(29 * 60);
    assert_eq!(browser.home().await.0, StatusCode::OK, "29 minutes idle is fine");
    app.app.vault.danger_shift_clock(29 * 60 + 30 * 60);
    assert_eq!(browser.home().await.0, StatusCode::SEE_OTHER, "30 minutes idle ends it");
    assert_eq!(app.last_event("auth.fail")["details"]["reason"], "session idle for too long");

    app.app.vault.danger_shift_clock(0);
    let browser = Browser::sign_in(&app, "acme", "dave").await;
    // Used every 20 minutes, it still ends 12 hours after the sign-in.
    let mut shift = 0;
    while shift < 12 * 3600 - 20 * 60 {
        shift += 20 * 60;
        app.app.vault.danger_shift_clock(shift);
        assert_eq!(browser.home().await.0, StatusCode::OK, "in use after {shift} s");
    }
    app.app.vault.danger_shift_clock(12 * 3600);
    assert_eq!(browser.home().await.0, StatusCode::SEE_OTHER);
    assert_eq!(app.last_event("auth.fail")["details"]["reason"], "session past its absolute lifetime");
}

#[tokio::test]
async fn a_tampered_session_cookie_is_refused_and_recorded() {
    let app = spawn_dev_app().await;
    let browser = Browser::sign_in(&app, "acme", "ada").await;
    let session = browser.cookie("rv_session").unwrap();
    // A character in the middle: any base64url letter there is well-formed
    // (the last one also carries padding bits).
    let mut flipped = session.clone();
    flipped.replace_range(10..11, if &session[10..11] == "A" { "B" } else { "A" });
    for (cookie, reason) in [(flipped.as_str(), "unknown session"), ("<script>", "malformed session cookie")] {
        browser.set_cookie("rv_session", cookie);
        let (status, to) = browser.home().await;
        assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/signin?return_to=%2F"));
        assert_eq!(browser.cookie("rv_session"), None, "the stale cookie is cleared");
        assert_eq!(app.last_event("auth.fail")["details"]["reason"], reason);
    }
}

#[tokio::test]
async fn forged_replayed_or_foreign_callbacks_are_refused_and_create_nothing() {
    let app = spawn_dev_app().await;
    let browser = Browser::new(&app);
    let forged = browser.get("/auth/callback?code=x&state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert!(forged.text().await.unwrap().contains("not valid"));
    assert_eq!(app.last_event("auth.signin")["details"]["problem"], "unknown or already used state");

    // A callback from another browser (no rv_login cookie of its own).
    let callback = browser.through_dev_provider("acme", "sam", "/").await;
    let elsewhere = Browser::new(&app);
    let foreign = elsewhere.get(&callback).await;
    assert_eq!(foreign.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.last_event("auth.signin")["details"]["problem"], "the sign-in cookie does not match");
    // ... and the pending sign-in was spent by that attempt.
    let replayed = browser.get(&callback).await;
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);

    // A successful callback works once.
    let callback = browser.through_dev_provider("acme", "sam", "/").await;
    assert_eq!(browser.get(&callback).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(browser.get(&callback).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sessions(&app), 1);
    let denied = app.audit_events().iter().filter(|e| e["action"] == "auth.signin" && e["outcome"] == "denied").count();
    assert_eq!(denied, 4);
}

#[tokio::test]
async fn sign_ins_return_only_to_local_paths() {
    let app = spawn_dev_app().await;
    let browser = Browser::new(&app);
    for (asked, lands) in
        [("%2Faccounts%3Fx%3D1", "/accounts?x=1"), ("https%3A%2F%2Fevil.example%2F", "/"), ("%2F%2Fevil.example", "/")]
    {
        let callback = browser.through_dev_provider("acme", "sam", asked).await;
        let done = browser.get(&callback).await;
        assert_eq!(location(&done), lands, "{asked}");
    }
}

#[tokio::test]
async fn releases_need_a_recent_sign_in_and_the_console_steps_up_with_max_age() {
    let app = spawn_app_configured(|c| c.auth.release_max_auth_age = std::time::Duration::from_secs(15 * 60)).await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    let alice = app.token("acme/alice", &["staff"]);
    let bob = app.token("acme/bob", &["staff"]);

    app.app.vault.danger_shift_clock(16 * 60);
    let password = app.post(&format!("/v1/requests/{id}/password"), &alice, json!({})).await;
    assert_eq!((password.status, password.code()), (StatusCode::UNAUTHORIZED, "reauthentication_required"));
    let code = app.post(&format!("/v1/requests/{id}/mfa-code"), &bob, json!({})).await;
    assert_eq!((code.status, code.code()), (StatusCode::UNAUTHORIZED, "reauthentication_required"));
    let link = app
        .post(
            "/v1/links",
            &alice,
            json!({"purpose": "deliver", "account_id": "123456789012", "half": "password", "request_id": id,
                   "recipient": {"name": "Alice", "email": "alice@acme.example"}, "ttl_minutes": 60}),
        )
        .await;
    assert_eq!((link.status, link.code()), (StatusCode::UNAUTHORIZED, "reauthentication_required"));
    let event = app.last_event("half.release");
    assert_eq!(
        (event["outcome"].as_str(), event["details"]["code"].as_str()),
        (Some("denied"), Some("reauthentication_required"))
    );

    app.app.vault.danger_shift_clock(14 * 60);
    let released = app.post(&format!("/v1/requests/{id}/password"), &alice, json!({})).await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.body);
    assert_eq!(released.body["password"], PASSWORD);

    // In the console, an old sign-in goes back through the provider,
    // which is asked for a fresh one; the new session replaces the old.
    app.app.vault.danger_shift_clock(0);
    let browser = Browser::sign_in(&app, "acme", "alice").await;
    let old = browser.cookie("rv_session").unwrap();
    let step_up = browser.get("/auth/reauth?return_to=%2F").await;
    let provider = location(&step_up);
    assert_eq!(query_param(&provider, "max_age").as_deref(), Some("0"), "{provider}");
    let callback = browser.pick(&provider, "alice").await;
    assert_eq!(browser.get(&callback).await.status(), StatusCode::SEE_OTHER);
    assert_ne!(browser.cookie("rv_session").unwrap(), old);
    browser.set_cookie("rv_session", &old);
    assert_eq!(browser.home().await.0, StatusCode::SEE_OTHER, "the replaced session ended");
}

#[tokio::test]
async fn the_dev_walkthrough_keeps_working_all_day_without_a_new_sign_in() {
    let app = spawn_dev_app().await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    let bob = app.token("acme/bob", &["staff"]);
    app.app.vault.danger_shift_clock(8 * 3600);
    let code = app.post(&format!("/v1/requests/{id}/mfa-code"), &bob, json!({})).await;
    assert_eq!(code.status, StatusCode::OK, "{}", code.body);
}

#[tokio::test]
async fn nobody_signs_in_while_the_vault_is_sealed() {
    let (app, _shares) = crate::helpers::spawn_sealed_app(2, 2).await;
    let browser = Browser::new(&app);
    let start = browser.get("/auth/oidc/acme/start").await;
    assert_eq!(start.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(start.text().await.unwrap().contains("sealed"));
    assert_eq!(browser.cookie("rv_login"), None);
}
