//! The console's links page: create a collect link and see its receipt,
//! revoke it (the public endpoint then answers 410), deliver a released
//! password by link with its URL shown once, refusals in plain words.

use reqwest::StatusCode;
use serde_json::json;

use crate::browser::{Browser, location};
use crate::helpers::{PASSWORD, TestApp, spawn_app_configured, spawn_dev_app};

const ACCOUNT: &str = "123456789012";

/// The text of the element carrying `data-field="name"`.
fn field(html: &str, name: &str) -> String {
    let rest = html.split(&format!("data-field=\"{name}\"")).nth(1).unwrap_or_else(|| panic!("no {name} in {html}"));
    rest.split_once('>').unwrap().1.split('<').next().unwrap().replace("&amp;", "&")
}

/// The link id in a link URL (`…/l/{id}` or `…/l/{id}#key`).
fn link_id(url: &str) -> String {
    url.split("/l/").nth(1).unwrap().split('#').next().unwrap().to_owned()
}

async fn links_page(browser: &Browser) -> String {
    let r = browser.get("/links").await;
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.unwrap()
}

/// POST the collect form as `browser`; returns the status and the page.
async fn collect(browser: &Browser, csrf: &str) -> (StatusCode, String) {
    let form = [
        ("csrf_token", csrf),
        ("purpose", "collect"),
        ("account_id", ACCOUNT),
        ("half", "password"),
        ("recipient_name", "Rita Root"),
        ("recipient_email", "rita@globex.example"),
        ("ttl_minutes", "60"),
    ];
    let r = browser.post_form("/links", &form).await;
    (r.status(), r.text().await.unwrap())
}

/// POST the deliver form for `request` as `browser`.
async fn deliver(browser: &Browser, request: &str) -> (StatusCode, String) {
    let csrf = browser.csrf_token().await;
    let form = [
        ("csrf_token", csrf.as_str()),
        ("purpose", "deliver"),
        ("half", "password"),
        ("request_id", request),
        ("account_id", ACCOUNT),
        ("recipient_name", "Rita Root"),
        ("recipient_email", "rita@globex.example"),
    ];
    let r = browser.post_form("/links", &form).await;
    (r.status(), r.text().await.unwrap())
}

async fn stocked(app: &TestApp) {
    app.stocked_account(ACCOUNT).await;
}

#[tokio::test]
async fn a_collect_link_shows_pending_then_revoked_and_the_public_endpoint_answers_gone() {
    let app = spawn_dev_app().await;
    stocked(&app).await;
    let alice = Browser::sign_in(&app, "acme", "alice").await;
    let empty = links_page(&alice).await;
    assert!(empty.contains("You have created no links yet"));
    assert!(empty.contains("data-action=\"link-create\""));

    let csrf = alice.csrf_token().await;
    let (status, created) = collect(&alice, &csrf).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let url = field(&created, "link-url");
    let id = link_id(&url);
    assert_eq!(id.len(), 22, "{url}");

    let list = links_page(&alice).await;
    assert_eq!(field(&list, "link-state"), "pending");
    assert!(list.contains("Rita Root") && list.contains(ACCOUNT));
    assert!(!list.contains(&id), "the list never shows a link's id");
    assert!(list.contains("data-action=\"link-revoke\""));
    let revoke = list.split("action=\"/links/").nth(1).unwrap().split('"').next().unwrap().to_owned();

    let without = alice.post_form(&format!("/links/{revoke}"), &[]).await;
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    assert_eq!(field(&links_page(&alice).await, "link-state"), "pending");

    let revoked = alice.post_form(&format!("/links/{revoke}"), &[("csrf_token", &csrf)]).await;
    assert_eq!((revoked.status(), location(&revoked).as_str()), (StatusCode::SEE_OTHER, "/links"));
    let list = links_page(&alice).await;
    assert_eq!(field(&list, "link-state"), "revoked");
    assert!(!list.contains("data-action=\"link-revoke\""), "nothing left to revoke");
    assert_eq!(app.last_event("link.revoke")["actor"], "acme/alice");

    let submit = app
        .send(
            reqwest::Method::POST,
            &format!("/v1/public/links/{id}/submit"),
            None,
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(submit.status, StatusCode::GONE, "{}", submit.body);

    // Someone else's list does not show it, and they cannot revoke it.
    let bob = Browser::sign_in(&app, "acme", "bob").await;
    assert!(links_page(&bob).await.contains("You have created no links yet"));
    let bobs = bob.post_form(&format!("/links/{revoke}"), &[("csrf_token", &bob.csrf_token().await)]).await;
    assert_eq!(bobs.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let app = spawn_dev_app().await;
    stocked(&app).await;
    let alice = Browser::sign_in(&app, "acme", "alice").await;
    let (status, html) = collect(&alice, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("security token"));
    let (status, _) = collect(&alice, "forged").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(links_page(&alice).await.contains("You have created no links yet"));
}

#[tokio::test]
async fn a_deliver_link_shows_its_url_once_and_the_list_never_shows_the_key() {
    let app = spawn_dev_app().await;
    stocked(&app).await;
    let request = app.approved_request(ACCOUNT).await;
    // Bob is not the request's password recipient: refused in plain words, the form kept.
    let bob = Browser::sign_in(&app, "acme", "bob").await;
    let (status, refused) = deliver(&bob, &request).await;
    assert!(status.is_client_error(), "{status}");
    assert!(!field(&refused, "error").is_empty());
    assert!(refused.contains("role=\"alert\"") && refused.contains(&format!("value=\"{request}\"")));
    assert!(!refused.contains("data-field=\"link-url\""));

    let alice = Browser::sign_in(&app, "acme", "alice").await;
    let (status, created) = deliver(&alice, &request).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let url = field(&created, "link-url");
    let (_, key) = url.split_once('#').unwrap();
    assert!(key.len() >= 43, "{url}");

    let list = links_page(&alice).await;
    assert_eq!(field(&list, "link-state"), "pending");
    assert!(list.contains("deliver"));
    assert!(!list.contains(key) && !list.contains(&link_id(&url)), "the list shows neither the key nor the id");
    let stored = app.db().dump("SELECT id_hash || recipient_name FROM links").concat();
    assert!(!stored.contains(key));
    assert_eq!(app.last_event("half.release")["details"]["form"], "link");
}

#[tokio::test]
async fn a_deliver_link_after_an_old_sign_in_steps_up_and_comes_back_to_links() {
    let app = spawn_app_configured(|c| c.auth.release_max_auth_age = std::time::Duration::from_secs(15 * 60)).await;
    stocked(&app).await;
    let request = app.approved_request(ACCOUNT).await;
    let alice = Browser::sign_in(&app, "acme", "alice").await;
    app.app.vault.danger_shift_clock(16 * 60);
    let csrf = alice.csrf_token().await;
    let form = [
        ("csrf_token", csrf.as_str()),
        ("purpose", "deliver"),
        ("request_id", request.as_str()),
        ("account_id", ACCOUNT),
        ("recipient_name", "Rita Root"),
        ("recipient_email", "rita@globex.example"),
    ];
    let r = alice.post_form("/links", &form).await;
    assert_eq!((r.status(), location(&r).as_str()), (StatusCode::SEE_OTHER, "/auth/reauth?return_to=%2Flinks"));
    assert!(links_page(&alice).await.contains("You have created no links yet"));
}
