//! The accounts pages of the console: what each person sees, custodians,
//! deposits and the rotation flow, all through console forms, with the
//! vault's refusals shown in plain words and no secret in any page that
//! was not the answer to a deliberate POST.

use reqwest::StatusCode;

use crate::browser::Browser;
use crate::helpers::{PASSWORD, SEED, TestApp, spawn_dev_app};

const ACCOUNT: &str = "123456789012";

async fn page(browser: &Browser, path: &str) -> (StatusCode, String) {
    let r = browser.get(path).await;
    (r.status(), r.text().await.unwrap())
}

async fn post(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let token = browser.csrf_token().await;
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    let r = browser.post_form(path, &form).await;
    (r.status(), r.text().await.unwrap())
}

async fn two_accounts(app: &TestApp) {
    app.stocked_account(ACCOUNT).await;
    assert_eq!(app.register("210987654321", "shared_payer", Some("initech")).await.status, StatusCode::CREATED);
}

#[tokio::test]
async fn people_see_only_their_orgs_accounts_and_can_filter_them() {
    let app = spawn_dev_app().await;
    two_accounts(&app).await;
    let ada = Browser::sign_in(&app, "acme", "ada").await;
    let (_, all) = page(&ada, "/accounts").await;
    assert!(all.contains(ACCOUNT) && all.contains("210987654321"));
    let (_, globex) = page(&ada, "/accounts?customer_org=globex").await;
    assert!(globex.contains(ACCOUNT) && !globex.contains("210987654321"));
    let (_, shared) = page(&ada, "/accounts?custody=shared_payer").await;
    assert!(!shared.contains(&format!("data-account=\"{ACCOUNT}\"")) && shared.contains("210987654321"));
    let (_, due) = page(&ada, "/accounts?rotation_due=on").await;
    assert!(due.contains("No account matches"), "nothing is due yet");

    let gina = Browser::sign_in(&app, "globex", "gina").await;
    let (_, mine) = page(&gina, "/accounts").await;
    assert!(mine.contains(ACCOUNT) && !mine.contains("210987654321"));
    let (status, other) = page(&gina, "/accounts/210987654321").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(other.contains("data-field=\"error\""));

    let (status, detail) = page(&gina, &format!("/accounts/{ACCOUNT}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail.contains("acme/alice") && detail.contains("acme/bob") && detail.contains("provider_split"));
    assert!(!detail.contains(PASSWORD) && !detail.contains(SEED), "no secret on the account page");
}

#[tokio::test]
async fn admins_name_custodians_and_a_four_eyes_violation_is_shown_and_changes_nothing() {
    let app = spawn_dev_app().await;
    app.provider_split_account(ACCOUNT).await;
    let ada = Browser::sign_in(&app, "acme", "ada").await;
    let path = format!("/accounts/{ACCOUNT}/custodians/mfa");
    let (status, refused) = post(&ada, &path, &[("principals", "acme/bob\nacme/alice")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(refused.contains("data-field=\"error\"") && refused.contains("acme/bob\nacme/alice"), "kept: {refused}");
    let api = app.get(&format!("/v1/accounts/{ACCOUNT}"), &app.token("acme/ada", &["admin"])).await;
    assert_eq!(api.body["custodians"]["mfa"], serde_json::json!(["acme/bob"]));

    let (status, saved) = post(&ada, &path, &[("principals", "acme/bob\nacme/dave")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(saved.contains("Custodians of the mfa half saved."));
    let api = app.get(&format!("/v1/accounts/{ACCOUNT}"), &app.token("acme/ada", &["admin"])).await;
    assert_eq!(api.body["custodians"]["mfa"], serde_json::json!(["acme/bob", "acme/dave"]));

    let sam = Browser::sign_in(&app, "acme", "sam").await;
    let (_, detail) = page(&sam, &format!("/accounts/{ACCOUNT}")).await;
    assert!(!detail.contains("data-action=\"custodians-save\""), "only admins get the form");
    let unforged = sam.post_form(&path, &[("principals", "acme/sam")]).await;
    assert_eq!(unforged.status(), StatusCode::FORBIDDEN, "no CSRF token, no change");
}

#[tokio::test]
async fn custodians_deposit_through_the_console_and_never_see_what_they_typed_again() {
    let app = spawn_dev_app().await;
    app.provider_split_account(ACCOUNT).await;
    let alice = Browser::sign_in(&app, "acme", "alice").await;
    let base = format!("/accounts/{ACCOUNT}/halves");

    let (status, weak) = post(&alice, &format!("{base}/password"), &[("password", "short")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.contains("data-field=\"error\"") && !weak.contains("value=\"short\""));

    let (status, stored) = post(&alice, &format!("{base}/password"), &[("password", PASSWORD)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(stored.contains("Password stored as version 1.") && !stored.contains(PASSWORD));

    let (_, generated) = post(&alice, &format!("{base}/password"), &[("generate", "true")]).await;
    assert!(generated.contains("Generated password, version 2"));
    assert!(generated.contains("data-field=\"password\""), "the generated password is shown once, as the answer");
    let (_, later) = page(&alice, &format!("/accounts/{ACCOUNT}")).await;
    assert!(!later.contains("data-field=\"password\""));

    let bob = Browser::sign_in(&app, "acme", "bob").await;
    let (status, by_alice) = post(&alice, &format!("{base}/mfa"), &[("secret_base32", SEED)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "alice holds no MFA custody: {by_alice}");
    let (status, seeded) = post(&bob, &format!("{base}/mfa"), &[("secret_base32", SEED)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(seeded.contains("MFA seed stored as version 1.") && !seeded.contains(SEED));
    let uri = format!("otpauth://totp/AWS:root?secret={SEED}&issuer=AWS");
    let (_, by_uri) = post(&bob, &format!("{base}/mfa"), &[("otpauth_uri", &uri)]).await;
    assert!(by_uri.contains("MFA seed stored as version 2."));

    let halves = app.get(&format!("/v1/accounts/{ACCOUNT}/halves"), &app.token("acme/ada", &["admin"])).await;
    let current: Vec<_> =
        halves.body["halves"].as_array().unwrap().iter().map(|h| h["current_version"].clone()).collect();
    assert_eq!(current, [serde_json::json!(2), serde_json::json!(2)]);
}

#[tokio::test]
async fn a_password_custodian_rotates_and_confirms_in_the_console() {
    let app = spawn_dev_app().await;
    app.stocked_account(ACCOUNT).await;
    let alice = Browser::sign_in(&app, "acme", "alice").await;
    let base = format!("/accounts/{ACCOUNT}/halves/password/rotate");
    let (status, candidate) = post(&alice, &base, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(candidate.contains("Rotation candidate") && candidate.contains("data-field=\"password\""));
    let (status, confirmed) = post(&alice, &format!("{base}/confirm"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(confirmed.contains("Rotation confirmed: version 2 is current."), "{confirmed}");
    let (status, again) = post(&alice, &format!("{base}/confirm"), &[]).await;
    assert!(status.is_client_error() && again.contains("data-field=\"error\""));
}

/// The next weekday after the 15th of a month, at least two days ahead.
fn handback_day() -> time::Date {
    use time::{Duration, OffsetDateTime, Weekday};
    let mut d = OffsetDateTime::now_utc().date() + Duration::days(2);
    while d.day() <= 15 || matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
        d += Duration::days(1);
    }
    d
}

#[tokio::test]
async fn the_reverse_assumption_runs_through_the_console_with_each_side_seeing_its_own_steps() {
    let app = spawn_dev_app().await;
    app.stocked_account(ACCOUNT).await;
    let gina = Browser::sign_in(&app, "globex", "gina").await;
    let ada = Browser::sign_in(&app, "acme", "ada").await;
    let base = format!("/accounts/{ACCOUNT}/reverse-assumption");
    let day = handback_day().to_string();

    let (_, provider_page) = page(&ada, &format!("/accounts/{ACCOUNT}")).await;
    assert!(!provider_page.contains("data-action=\"reverse-request\""), "the provider does not ask");
    let ask = [
        ("new_root_email", "root@globex.example"),
        ("signatory_name", "Gina Globex"),
        ("signatory_email", "gina@globex.example"),
        ("requested_date", day.as_str()),
    ];
    let (status, asked) = post(&gina, &base, &ask).await;
    assert_eq!(status, StatusCode::OK, "{asked}");
    assert!(asked.contains("data-field=\"reverse-state\">requested<"));
    assert!(!asked.contains("data-action=\"reverse-request\""), "the form is gone once asked");
    let (status, twice) = post(&gina, &base, &ask).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(twice.contains("already under way"));

    let (status, bad_date) = post(&ada, &format!("{base}/schedule"), &[("date", "not-a-date")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_date.contains("data-field=\"error\""));
    let (_, scheduled) = post(&ada, &format!("{base}/schedule"), &[("date", day.as_str())]).await;
    assert!(scheduled.contains("data-field=\"reverse-state\">scheduled<"), "{scheduled}");
    let (_, customer_view) = page(&gina, &format!("/accounts/{ACCOUNT}")).await;
    assert!(!customer_view.contains("reverse-schedule") && customer_view.contains("data-action=\"reverse-cancel\""));
    let (_, cancelled) = post(&gina, &format!("{base}/cancel"), &[]).await;
    assert!(cancelled.contains("data-field=\"reverse-state\">cancelled<"), "{cancelled}");
}

/// A PNG of the QR code of `text`.
fn qr_png(text: &str) -> Vec<u8> {
    let picture = qrcode::QrCode::new(text.as_bytes()).unwrap().render::<image::Luma<u8>>().build();
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageLuma8(picture).write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn an_mfa_custodian_deposits_a_seed_from_a_picture_of_its_qr_code() {
    let app = spawn_dev_app().await;
    app.provider_split_account(ACCOUNT).await;
    let bob = Browser::sign_in(&app, "acme", "bob").await;
    let token = bob.csrf_token().await;
    let path = format!("/accounts/{ACCOUNT}/halves/mfa/qr");
    let uri = format!("otpauth://totp/Amazon%20Web%20Services:root?secret={SEED}&issuer=Amazon%20Web%20Services");

    let no_token = bob.post_file(&path, &[], ("qr", qr_png(&uri), "image/png")).await;
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);

    let stored = bob.post_file(&path, &[("csrf_token", &token)], ("qr", qr_png(&uri), "image/png")).await;
    assert_eq!(stored.status(), StatusCode::OK);
    let html = stored.text().await.unwrap();
    assert!(html.contains("MFA seed stored as version 1.") && !html.contains(SEED), "{html}");

    for (bytes, why) in [
        (qr_png("https://example.com/not-a-seed"), "no otpauth URI"),
        (b"GIF89a not a picture at all".to_vec(), "not PNG or JPEG"),
        (vec![0x89, b'P', b'N', b'G'], "a broken PNG"),
    ] {
        let refused = bob.post_file(&path, &[("csrf_token", &token)], ("qr", bytes, "image/png")).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{why}");
        assert!(refused.text().await.unwrap().contains("data-field=\"error\""), "{why}");
    }
    let too_big = bob.post_file(&path, &[("csrf_token", &token)], ("qr", vec![0; 600 * 1024], "image/png")).await;
    assert!(too_big.status().is_client_error(), "{}", too_big.status());
    let halves = app.get(&format!("/v1/accounts/{ACCOUNT}/halves"), &app.token("acme/ada", &["admin"])).await;
    assert_eq!(halves.body["halves"][1]["current_version"], 1, "only the good picture made a version");
}

#[tokio::test]
async fn the_account_page_shows_the_accounts_status_and_its_onboarding_checklist_to_admins() {
    let app = spawn_dev_app().await;
    app.stocked_account(ACCOUNT).await;
    let start = serde_json::json!({
        "signatory": {"name": "Gina Globex", "email": "gina@globex.example"},
        "legal_name": "Globex Corporation",
        "legal_address": "1 Globex Way"
    });
    let started =
        app.post(&format!("/v1/accounts/{ACCOUNT}/onboarding"), &app.token("acme/ada", &["admin"]), start).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    let ada = Browser::sign_in(&app, "acme", "ada").await;
    let (_, detail) = page(&ada, &format!("/accounts/{ACCOUNT}")).await;
    assert!(detail.contains(r#"data-field="account-status">onboarding"#), "{detail}");
    assert!(detail.contains("Onboarding is <strong>in progress</strong>"), "{detail}");
    assert!(detail.contains(r#"data-onboarding-item="reset_password""#) && detail.contains("Globex Corporation"));
    let alice = Browser::sign_in(&app, "acme", "alice").await;
    let (_, custodian) = page(&alice, &format!("/accounts/{ACCOUNT}")).await;
    assert!(custodian.contains(r#"data-field="account-status">onboarding"#));
    assert!(!custodian.contains("data-onboarding-item"), "the checklist is for admins");
}
