//! `rootvault login` over HTTP, as the CLI and the person's browser drive
//! it: the start URL, the loopback callback, the code exchange with the
//! PKCE verifier, the service token and its revocation.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::browser::{Browser, location, query_param};
use crate::helpers::{TestApp, spawn_dev_app};

const VERIFIER: &str = "cli-verifier-0123456789-0123456789-0123456789";
const STATE: &str = "cli-state-0123456789";
const PORT: u16 = 49152;

fn challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

fn start_url(extra: &str) -> String {
    format!("/v1/auth/cli/start?org=acme&port={PORT}&code_challenge={}&state={STATE}{extra}", challenge(VERIFIER))
}

/// Sign `sub` in for the CLI; returns where the browser is sent back to
/// (the CLI's loopback listener).
async fn browser_signs_in(app: &TestApp, sub: &str) -> String {
    let browser = Browser::new(app);
    let start = browser.get(&start_url("")).await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let callback = browser.pick(&location(&start), sub).await;
    let back = browser.get(&callback).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    location(&back)
}

async fn exchange(app: &TestApp, code: &str, verifier: &str) -> crate::helpers::Reply {
    app.send(Method::POST, "/v1/auth/cli/token", None, Some(json!({"code": code, "code_verifier": verifier}))).await
}

#[tokio::test]
async fn a_cli_sign_in_yields_a_service_token_that_works_until_logout() {
    let app = spawn_dev_app().await;
    let back = browser_signs_in(&app, "sam").await;
    assert!(back.starts_with(&format!("http://127.0.0.1:{PORT}/callback?")), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some(STATE));
    let code = query_param(&back, "code").unwrap();

    let issued = exchange(&app, &code, VERIFIER).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    assert_eq!(issued.body["principal"], "acme/sam");
    assert_eq!(issued.body["roles"], json!(["staff"]));
    let token = issued.body["token"].as_str().unwrap().to_owned();
    let claims: serde_json::Value = {
        use base64::Engine;
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    assert_eq!((claims["iss"].as_str(), claims["aud"].as_str()), (Some(app.base.as_str()), Some("rootvault")));
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 12 * 3600);

    let me = app.get("/v1/auth/whoami", &token).await;
    assert_eq!((me.status, me.body["principal"].as_str()), (StatusCode::OK, Some("acme/sam")));
    assert_eq!(app.get("/v1/requests", &token).await.status, StatusCode::OK);
    let event = app.last_event("auth.signin");
    assert_eq!((event["actor"].as_str(), event["details"]["method"].as_str()), (Some("acme/sam"), Some("cli")));

    let out = app.post("/v1/auth/logout", &token, json!({})).await;
    assert_eq!((out.status, &out.body), (StatusCode::OK, &json!({"signed_out": true})));
    assert_eq!(app.get("/v1/auth/whoami", &token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.last_event("auth.fail")["details"]["reason"], "session ended");
    assert_eq!(app.last_event("auth.signout")["actor"], "acme/sam");
    let log = serde_json::to_string(&app.audit_events()).unwrap();
    assert!(!log.contains(&token) && !log.contains(&code), "no token or code in the audit log");
}

#[tokio::test]
async fn a_cli_code_works_once_and_only_with_its_verifier() {
    let app = spawn_dev_app().await;
    let code = query_param(&browser_signs_in(&app, "sam").await, "code").unwrap();
    let wrong = exchange(&app, &code, "another-verifier-0123456789-0123456789-0123").await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::BAD_REQUEST, "invalid_grant"));
    let spent = exchange(&app, &code, VERIFIER).await;
    assert_eq!(
        (spent.status, spent.code()),
        (StatusCode::BAD_REQUEST, "invalid_grant"),
        "a failed try spends the code"
    );

    let code = query_param(&browser_signs_in(&app, "sam").await, "code").unwrap();
    assert_eq!(exchange(&app, &code, VERIFIER).await.status, StatusCode::OK);
    assert_eq!(exchange(&app, &code, VERIFIER).await.code(), "invalid_grant");

    let code = query_param(&browser_signs_in(&app, "sam").await, "code").unwrap();
    app.app.vault.danger_shift_clock(61);
    assert_eq!(exchange(&app, &code, VERIFIER).await.code(), "invalid_grant", "a code lives a minute");
    let problems: Vec<String> = app
        .audit_events()
        .iter()
        .filter(|e| e["action"] == "auth.signin" && e["outcome"] == "denied")
        .map(|e| e["details"]["problem"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        problems,
        [
            "the PKCE verifier does not match",
            "unknown, used or expired code",
            "unknown, used or expired code",
            "unknown, used or expired code"
        ]
    );
}

#[tokio::test]
async fn a_cli_callback_on_another_host_is_refused_and_recorded() {
    let app = spawn_dev_app().await;
    let browser = Browser::new(&app);
    for uri in [
        "http%3A%2F%2Fevil.example%3A49152%2Fcallback",
        "http%3A%2F%2F127.0.0.1.evil.example%3A49152%2Fcallback",
        "http%3A%2F%2F127.0.0.1%3A49153%2Fcallback",
    ] {
        let refused = browser.get(&start_url(&format!("&redirect_uri={uri}"))).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(refused.text().await.unwrap().contains("127.0.0.1:PORT/callback"));
        let event = app.last_event("auth.signin");
        assert_eq!(
            (event["outcome"].as_str(), event["details"]["code"].as_str()),
            (Some("denied"), Some("invalid_callback"))
        );
    }
    let loopback = browser.get(&start_url(&format!("&redirect_uri=http%3A%2F%2F127.0.0.1%3A{PORT}%2Fcallback"))).await;
    assert_eq!(loopback.status(), StatusCode::SEE_OTHER);
    let unknown = browser.get(&start_url("&host=evil.example")).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert!(unknown.text().await.unwrap().contains("unknown parameter"));
    assert_eq!(app.db().query_row("SELECT count(*) FROM cli_codes", [], |r| r.get::<i64>(0)).unwrap(), 0);
}

#[tokio::test]
async fn a_cli_sign_in_without_an_org_asks_for_one() {
    let app = spawn_dev_app().await;
    let browser = Browser::new(&app);
    let url = start_url("").replace("org=acme&", "");
    let chooser = browser.get(&url).await;
    assert_eq!(chooser.status(), StatusCode::OK);
    let html = chooser.text().await.unwrap();
    let link =
        html.split("data-org=\"globex\" href=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    assert_eq!(query_param(&format!("{}{link}", app.base), "org").as_deref(), Some("globex"));
    assert_eq!(browser.get(&link).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_bearer_token_from_an_issuer_cannot_be_signed_out_and_a_forged_service_token_is_refused() {
    let app = spawn_dev_app().await;
    let ada = app.token("acme/ada", &["admin"]);
    let out = app.post("/v1/auth/logout", &ada, json!({})).await;
    assert_eq!((out.status, out.code()), (StatusCode::CONFLICT, "not_a_session"));

    let code = query_param(&browser_signs_in(&app, "sam").await, "code").unwrap();
    let token = exchange(&app, &code, VERIFIER).await.body["token"].as_str().unwrap().to_owned();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let flipped = if parts[2].as_bytes()[10] == b'A' { "B" } else { "A" };
    parts[2].replace_range(10..11, flipped);
    let forged = parts.join(".");
    assert_eq!(app.get("/v1/auth/whoami", &forged).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.last_event("auth.fail")["details"]["reason"], "bad signature");
}
