//! The console's break-glass pages through console POSTs only: my work,
//! asking, deciding, releases, step-up, and every refusal of the API's
//! request tests shown in the vault's words with nothing changed.

use reqwest::StatusCode;
use serde_json::json;

use crate::browser::{Browser, location};
use crate::helpers::{APPROVER, PASSWORD, SEED, STAFF, TestApp, spawn_app_configured, spawn_dev_app};

const ACCOUNT: &str = "123456789012";

/// The text of the first element carrying `data-field="{name}"`.
fn field(html: &str, name: &str) -> Option<String> {
    let after = html.split(&format!("data-field=\"{name}\"")).nth(1)?;
    let text = after.split_once('>')?.1.split('<').next()?;
    Some(text.trim().to_owned())
}

/// A page's status and HTML.
async fn page(browser: &Browser, url: &str) -> (StatusCode, String) {
    let r = browser.get(url).await;
    (r.status(), r.text().await.unwrap())
}

/// POST a console form with the browser's CSRF token; status, location, HTML.
async fn post(browser: &Browser, url: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
    let token = browser.csrf_token().await;
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    let r = browser.post_form(url, &form).await;
    (r.status(), location(&r), r.text().await.unwrap())
}

/// The state of request `id` as the API shows it, and its approvals.
async fn api_state(app: &TestApp, id: &str) -> (String, usize) {
    let shown = app.get(&format!("/v1/requests/{id}"), &app.token("acme/sam", STAFF)).await;
    (shown.body["state"].as_str().unwrap().to_owned(), shown.body["approvals"].as_array().unwrap().len())
}

/// Sam asks through the console; returns the new request's id.
async fn ask(sam: &Browser, fields: &[(&str, &str)]) -> String {
    let (status, to, html) = post(sam, "/requests", fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{html}");
    to.strip_prefix("/requests/").unwrap().to_owned()
}

/// A refused console step: the vault's sentence in the error box, the
/// request unchanged.
async fn refused(app: &TestApp, browser: &Browser, url: &str, fields: &[(&str, &str)], message: &str, id: &str) {
    let before = api_state(app, id).await;
    let (status, _, html) = post(browser, url, fields).await;
    assert!(status.is_client_error(), "{url}: {status}");
    assert_eq!(field(&html, "error").as_deref(), Some(message), "{url}");
    assert!(html.contains("role=\"alert\""));
    assert_eq!(api_state(app, id).await, before, "a refusal changes nothing");
}

#[tokio::test]
async fn sam_asks_carol_and_dave_approve_alice_sees_the_password_once_and_bob_gets_codes() {
    let app = spawn_dev_app().await;
    app.stocked_account(ACCOUNT).await;
    let sam = Browser::sign_in(&app, "acme", "sam").await;
    let (status, form) = page(&sam, "/requests/new").await;
    assert_eq!(status, StatusCode::OK);
    for hook in [
        "data-action=\"request-create\"",
        "<option value=\"123456789012\"",
        "value=\"acme/alice\"",
        "name=\"window_minutes\"",
    ] {
        assert!(form.contains(hook), "{hook}: {form}");
    }
    let (_, home) = page(&sam, "/").await;
    assert!(home.contains("You have asked for nothing"), "{home}");

    let fields = [
        ("account_id", ACCOUNT),
        ("reason", "billing lockout"),
        ("ticket", "INC-4711"),
        ("password_to", "acme/alice"),
        ("mfa_to", "acme/bob"),
        ("window_minutes", "60"),
    ];
    let id = ask(&sam, &fields).await;
    let (_, mine) = page(&sam, &format!("/requests/{id}")).await;
    assert_eq!(field(&mine, "request-state").as_deref(), Some("pending"));
    assert!(mine.contains("data-action=\"cancel\"") && !mine.contains("data-action=\"approve\""), "{mine}");
    assert!(mine.contains("INC-4711") && mine.contains("billing lockout"));
    let (_, home) = page(&sam, "/").await;
    assert!(home.contains(&format!("/requests/{id}")), "sam's own request is listed: {home}");

    let carol = Browser::sign_in(&app, "acme", "carol").await;
    let (_, home) = page(&carol, "/").await;
    let awaiting = home.split("data-list=\"to-decide\"").nth(1).unwrap();
    assert!(awaiting.contains(&format!("/requests/{id}")) && awaiting.contains("acme/sam"), "{home}");
    let (_, theirs) = page(&carol, &format!("/requests/{id}")).await;
    assert!(theirs.contains("data-action=\"approve\"") && theirs.contains("data-action=\"deny\""));
    assert!(!theirs.contains("data-action=\"cancel\""));
    let (status, to, _) = post(&carol, &format!("/requests/{id}/approve"), &[("comment", "looks right")]).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, format!("/requests/{id}").as_str()));
    let (_, home) = page(&carol, "/").await;
    assert!(!home.contains(&format!("/requests/{id}\"")), "carol decided already: {home}");
    let dave = Browser::sign_in(&app, "acme", "dave").await;
    let (status, _, _) = post(&dave, &format!("/requests/{id}/approve"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(api_state(&app, &id).await, ("approved".to_owned(), 2));
    let (_, shown) = page(&sam, &format!("/requests/{id}")).await;
    assert_eq!(field(&shown, "request-state").as_deref(), Some("approved"));
    assert!(shown.contains("looks right") && shown.contains("acme/dave"), "the timeline: {shown}");

    let alice = Browser::sign_in(&app, "acme", "alice").await;
    let bob = Browser::sign_in(&app, "acme", "bob").await;
    for (who, browser) in [("alice", &alice), ("bob", &bob)] {
        let (_, home) = page(browser, "/").await;
        let waiting = home.split("data-list=\"releases\"").nth(1).unwrap();
        assert!(waiting.contains(&format!("/requests/{id}")), "{who}: {home}");
    }
    let (_, alices) = page(&alice, &format!("/requests/{id}")).await;
    assert!(alices.contains("data-action=\"reveal-password\"") && !alices.contains("data-action=\"mfa-code\""));
    assert!(!alices.contains("data-action=\"approve\""));
    let (_, bobs) = page(&bob, &format!("/requests/{id}")).await;
    assert!(bobs.contains("data-action=\"mfa-code\"") && !bobs.contains("data-action=\"reveal-password\""));

    let token = alice.csrf_token().await;
    let revealed = alice.post_form(&format!("/requests/{id}/password"), &[("csrf_token", &token)]).await;
    assert_eq!(revealed.status(), StatusCode::OK);
    let csp = revealed.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && csp.starts_with("default-src 'none'"), "{csp}");
    assert_eq!(revealed.headers()["cache-control"], "no-store");
    let html = revealed.text().await.unwrap();
    assert_eq!(field(&html, "password").as_deref(), Some(PASSWORD));
    assert_eq!(field(&html, "views-left").as_deref(), Some("0"));
    assert!(html.contains("src=\"/assets/console.js\"") && html.contains("data-action=\"copy\""));
    let script = alice.get("/assets/console.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.text().await.unwrap().contains("Accept: \"application/json\""));
    let (_, after) = page(&alice, &format!("/requests/{id}")).await;
    assert!(!after.contains("data-action=\"reveal-password\"") && !after.contains(PASSWORD));
    refused(
        &app,
        &alice,
        &format!("/requests/{id}/password"),
        &[],
        "the password was already shown as often as allowed",
        &id,
    )
    .await;

    let (status, _, html) = post(&bob, &format!("/requests/{id}/mfa-code"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let code = field(&html, "mfa-code").unwrap();
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    let seconds: u64 = field(&html, "seconds-left").unwrap().parse().unwrap();
    assert!((1..=30).contains(&seconds));
    assert!(
        html.contains("data-action=\"mfa-code\"") && !html.contains(SEED),
        "a button for the next code, never the seed"
    );
    // The page's refresh: the same form, asking for JSON.
    let renewed = app
        .client
        .post(format!("{}/requests/{id}/mfa-code", app.base))
        .header("cookie", format!("rv_session={}", bob.cookie("rv_session").unwrap()))
        .header("accept", "application/json")
        .form(&[("csrf_token", bob.csrf_token().await)])
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), StatusCode::OK);
    let body: serde_json::Value = renewed.json().await.unwrap();
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    assert_eq!(body["code"].as_str().unwrap().len(), 6);

    refused(
        &app,
        &alice,
        &format!("/requests/{id}/mfa-code"),
        &[],
        "you are not the named recipient of the mfa half",
        &id,
    )
    .await;
    let releases: Vec<_> = app
        .audit_events()
        .into_iter()
        .filter(|e| e["action"] == "half.release" && e["outcome"] == "ok")
        .map(|e| e["actor"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(releases, ["acme/alice", "acme/bob", "acme/bob"], "every code fetched is a release");
}

#[tokio::test]
async fn no_secret_appears_on_any_page_before_its_reveal() {
    let app = spawn_dev_app().await;
    app.stocked_account(ACCOUNT).await;
    let id = app.approved_request(ACCOUNT).await;
    let seed_code = rootvault::crypto::totp::MfaSeed::from_base32(SEED, None, None, None).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let codes: Vec<String> =
        [now - 30, now, now + 30].iter().map(|t| seed_code.code_at(*t).unwrap().0.to_string()).collect();
    for who in ["sam", "carol", "alice", "bob"] {
        let browser = Browser::sign_in(&app, "acme", who).await;
        for url in ["/".to_owned(), "/requests/new".to_owned(), format!("/requests/{id}")] {
            let (status, html) = page(&browser, &url).await;
            assert_eq!(status, StatusCode::OK, "{who} {url}");
            assert!(!html.contains(PASSWORD) && !html.contains(SEED), "{who} {url}");
            assert!(field(&html, "password").is_none() && field(&html, "mfa-code").is_none(), "{who} {url}");
            for code in &codes {
                assert!(!html.contains(&format!(">{code}<")), "{who} {url}");
            }
        }
    }
}

#[tokio::test]
async fn a_console_post_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_dev_app().await;
    app.stocked_account(ACCOUNT).await;
    let sam = Browser::sign_in(&app, "acme", "sam").await;
    let forged =
        sam.post_form("/requests", &[("account_id", ACCOUNT), ("reason", "x"), ("password_to", "acme/alice")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let listed = app.get("/v1/requests", &app.token("acme/sam", STAFF)).await;
    assert_eq!(listed.body["requests"], json!([]));

    let id = ask(&sam, &[("account_id", ACCOUNT), ("reason", "x"), ("password_to", "acme/alice")]).await;
    let carol = Browser::sign_in(&app, "acme", "carol").await;
    for (browser, step) in [(&carol, "approve"), (&carol, "deny"), (&sam, "cancel")] {
        let r = browser.post_form(&format!("/requests/{id}/{step}"), &[("comment", "x")]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{step}");
    }
    assert_eq!(api_state(&app, &id).await, ("pending".to_owned(), 0));
    let approved = app.approved_request(ACCOUNT).await;
    let alice = Browser::sign_in(&app, "acme", "alice").await;
    let r = alice.post_form(&format!("/requests/{approved}/password"), &[("csrf_token", "forged")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!r.text().await.unwrap().contains(PASSWORD));
}

#[tokio::test]
async fn each_refusal_of_a_request_step_is_shown_in_the_vaults_words_and_changes_nothing() {
    let app = spawn_dev_app().await;
    app.stocked_account(ACCOUNT).await;
    let sam = Browser::sign_in(&app, "acme", "sam").await;
    let carol = Browser::sign_in(&app, "acme", "carol").await;
    let dave = Browser::sign_in(&app, "acme", "dave").await;
    let alice = Browser::sign_in(&app, "acme", "alice").await;
    let grace = Browser::sign_in(&app, "globex", "grace").await;

    // Asking: the form comes back with its values and the vault's sentence.
    let (status, _, html) = post(
        &sam,
        "/requests",
        &[
            ("account_id", ACCOUNT),
            ("reason", "both halves please"),
            ("password_to", "acme/alice"),
            ("mfa_to", "acme/alice"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&html, "error").as_deref(), Some("password_to and mfa_to must be different people (four eyes)"));
    assert!(html.contains("both halves please") && html.contains("value=\"acme/alice\""), "the form is kept: {html}");
    let (_, _, html) =
        post(&sam, "/requests", &[("account_id", ACCOUNT), ("reason", "x"), ("mfa_to", "acme/carol")]).await;
    assert_eq!(field(&html, "error").as_deref(), Some("acme/carol is not a current custodian of the mfa half"));
    assert_eq!(app.get("/v1/requests", &app.token("acme/sam", STAFF)).await.body["requests"], json!([]));

    let fields = [("account_id", ACCOUNT), ("reason", "x"), ("password_to", "acme/alice"), ("mfa_to", "acme/bob")];
    let id = ask(&sam, &fields).await;
    let approve = format!("/requests/{id}/approve");
    refused(&app, &alice, &approve, &[], "approving needs the approver role", &id).await;
    refused(
        &app,
        &grace,
        &approve,
        &[],
        "the provider holds both halves of this account: only provider approvers decide",
        &id,
    )
    .await;
    refused(&app, &alice, &format!("/requests/{id}/cancel"), &[], "only the requester may cancel a request", &id).await;
    post(&carol, &approve, &[]).await;
    refused(&app, &carol, &approve, &[], "you already decided on this request", &id).await;
    let (status, _, _) = post(&dave, &format!("/requests/{id}/deny"), &[("comment", "no incident ticket")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(api_state(&app, &id).await.0, "denied");
    let (_, denied) = page(&carol, &format!("/requests/{id}")).await;
    assert!(denied.contains("no incident ticket") && !denied.contains("data-action=\"approve\""), "{denied}");
    refused(&app, &carol, &approve, &[], "the request is denied, not pending", &id).await;
    refused(&app, &sam, &format!("/requests/{id}/cancel"), &[], "the request is denied, not pending", &id).await;

    // Strangers and made-up ids see no request.
    let ian = Browser::sign_in(&app, "initech", "ian").await;
    for url in [format!("/requests/{id}"), "/requests/req_nope".to_owned()] {
        let (status, html) = page(&ian, &url).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
        assert_eq!(field(&html, "error").as_deref(), Some("request not found"));
    }
    let (status, _, html) = post(&ian, &approve, &[]).await;
    assert_eq!((status, field(&html, "error").as_deref()), (StatusCode::NOT_FOUND, Some("request not found")));

    // Self-approval and recipient approval: carol asks (with a staff token
    // from the API) and is a custodian of another account.
    app.provider_split_account("210987654321").await;
    app.assign("210987654321", "password", "acme/ada", &["acme/carol"]).await;
    app.deposit_password("210987654321", "acme/carol", PASSWORD).await;
    app.deposit_seed("210987654321", "acme/bob", SEED).await;
    let hers = app
        .post(
            "/v1/requests",
            &app.token("acme/carol", &["staff", "approver"]),
            json!({"account_id": "210987654321", "reason": "x", "mfa_to": "acme/bob"}),
        )
        .await;
    let hers = hers.body["id"].as_str().unwrap().to_owned();
    refused(&app, &carol, &format!("/requests/{hers}/approve"), &[], "no one may approve their own request", &hers)
        .await;
    let to_carol = ask(&sam, &[("account_id", "210987654321"), ("reason", "x"), ("password_to", "acme/carol")]).await;
    refused(
        &app,
        &carol,
        &format!("/requests/{to_carol}/approve"),
        &[],
        "a recipient of a request may not approve it",
        &to_carol,
    )
    .await;
    let (_, page_of_recipient) = page(&carol, &format!("/requests/{to_carol}")).await;
    assert!(!page_of_recipient.contains("data-action=\"approve\""), "no button she may not use");

    // The window closed: nothing is released and the request shows as expired.
    let approved = app.approved_request(ACCOUNT).await;
    app.set_request_field(&approved, "window_ends", 1);
    refused(&app, &alice, &format!("/requests/{approved}/password"), &[], "the release window has closed", &approved)
        .await;
    let (_, expired) = page(&alice, &format!("/requests/{approved}")).await;
    assert_eq!(field(&expired, "request-state").as_deref(), Some("expired"));
    assert!(!expired.contains("data-action=\"reveal-password\""));
}

#[tokio::test]
async fn a_shared_payer_request_refuses_a_second_provider_approval_in_the_console() {
    let app = spawn_dev_app().await;
    app.register(ACCOUNT, "shared_payer", Some("globex")).await;
    app.assign(ACCOUNT, "password", "acme/ada", &["acme/alice"]).await;
    app.assign(ACCOUNT, "mfa", "globex/gina", &["globex/gus"]).await;
    app.deposit_password(ACCOUNT, "acme/alice", PASSWORD).await;
    app.deposit_seed(ACCOUNT, "globex/gus", SEED).await;
    let sam = Browser::sign_in(&app, "acme", "sam").await;
    let id =
        ask(&sam, &[("account_id", ACCOUNT), ("reason", "x"), ("password_to", "acme/alice"), ("mfa_to", "globex/gus")])
            .await;
    let approve = format!("/requests/{id}/approve");
    let (carol, dave, grace) = (
        Browser::sign_in(&app, "acme", "carol").await,
        Browser::sign_in(&app, "acme", "dave").await,
        Browser::sign_in(&app, "globex", "grace").await,
    );
    let (_, home) = page(&grace, "/").await;
    assert!(home.split("data-list=\"to-decide\"").nth(1).unwrap().contains(&id), "the customer decides too: {home}");
    post(&carol, &approve, &[]).await;
    refused(
        &app,
        &dave,
        &approve,
        &[],
        "this account is shared with the customer: the approvals must include one from the customer",
        &id,
    )
    .await;
    let (status, _, _) = post(&grace, &approve, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(api_state(&app, &id).await, ("approved".to_owned(), 2));
    let gus = Browser::sign_in(&app, "globex", "gus").await;
    let (status, _, html) = post(&gus, &format!("/requests/{id}/mfa-code"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(field(&html, "mfa-code").unwrap().len(), 6);
}

#[tokio::test]
async fn the_wall_refuses_a_code_at_release_time_in_plain_words() {
    let app = spawn_dev_app().await;
    app.stocked_account(ACCOUNT).await;
    let id = app.approved_request(ACCOUNT).await;
    app.db()
        .execute("INSERT INTO exposures VALUES ('123456789012', 'acme/bob', 'password', 1, 'received', 'x')", [])
        .unwrap();
    let bob = Browser::sign_in(&app, "acme", "bob").await;
    refused(
        &app,
        &bob,
        &format!("/requests/{id}/mfa-code"),
        &[],
        "acme/bob has seen version 1 of the password half, which is still current; no one may hold both halves",
        &id,
    )
    .await;
}

#[tokio::test]
async fn an_old_sign_in_is_sent_to_step_up_before_a_release() {
    let app = spawn_app_configured(|c| c.auth.release_max_auth_age = std::time::Duration::from_secs(15 * 60)).await;
    app.stocked_account(ACCOUNT).await;
    let id = app.approved_request(ACCOUNT).await;
    let alice = Browser::sign_in(&app, "acme", "alice").await;
    let token = alice.csrf_token().await;
    app.app.vault.danger_shift_clock(16 * 60);
    let r = alice.post_form(&format!("/requests/{id}/password"), &[("csrf_token", &token)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), format!("/auth/reauth?return_to=%2Frequests%2F{id}"));
    assert_eq!(api_state(&app, &id).await.0, "approved");
    let left = app.get(&format!("/v1/requests/{id}"), &app.token("acme/sam", APPROVER)).await;
    assert_eq!(left.body["password_views_left"], 1, "nothing was released");
}
