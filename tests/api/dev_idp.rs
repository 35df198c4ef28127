//! The dev identity provider at `/dev/idp/{org}`: a standard OpenID
//! Connect provider per demo org, driven here as a relying party would.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, LOCATION, REFERRER_POLICY};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, spawn_app_configured, spawn_dev_app};

const CLIENT_ID: &str = "rootvault-dev";
const VERIFIER: &str = "a-pkce-verifier-of-the-test-relying-party-0123456789";

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn secret(app: &TestApp) -> String {
    use secrecy::ExposeSecret;
    app.app.dev_idp.as_ref().unwrap().client_secret().expose_secret().to_owned()
}

fn callback(app: &TestApp) -> String {
    format!("{}/auth/callback", app.base)
}

/// The authorization request a relying party sends, with `changes` applied
/// (a `None` value drops the parameter).
fn authorize_url(app: &TestApp, org: &str, changes: &[(&str, Option<&str>)]) -> String {
    let challenge = challenge(VERIFIER);
    let callback = callback(app);
    let mut params = vec![
        ("response_type", Some("code")),
        ("client_id", Some(CLIENT_ID)),
        ("redirect_uri", Some(callback.as_str())),
        ("scope", Some("openid email profile")),
        ("state", Some("state-1")),
        ("nonce", Some("nonce-1")),
        ("code_challenge", Some(challenge.as_str())),
        ("code_challenge_method", Some("S256")),
    ];
    for (key, value) in changes {
        params.retain(|(k, _)| k != key);
        params.push((key, *value));
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.into_iter().filter_map(|(k, v)| Some((k, v?))))
        .finish();
    format!("{}/dev/idp/{org}/authorize?{query}", app.base)
}

/// The pending request's id in a picker page.
fn request_id(page: &str) -> String {
    let start = page.find("name=\"request\" value=\"").unwrap() + "name=\"request\" value=\"".len();
    page[start..].split('"').next().unwrap().to_owned()
}

fn query_param(location: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Pick `sub` at `org`'s provider; answers the redirect's `Location`.
async fn sign_in(app: &TestApp, org: &str, sub: &str) -> String {
    let page = browser().get(authorize_url(app, org, &[])).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let request = request_id(&page.text().await.unwrap());
    let picked = browser()
        .post(format!("{}/dev/idp/{org}/authorize", app.base))
        .form(&[("request", request.as_str()), ("sub", sub)])
        .send()
        .await
        .unwrap();
    assert_eq!(picked.status(), StatusCode::SEE_OTHER);
    picked.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// Exchange `code` with `verifier`, authenticating with `secret` in the body.
async fn exchange(app: &TestApp, org: &str, code: &str, verifier: &str, secret: &str) -> (StatusCode, Value) {
    let response = browser()
        .post(format!("{}/dev/idp/{org}/token", app.base))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &callback(app)),
            ("code_verifier", verifier),
            ("client_id", CLIENT_ID),
            ("client_secret", secret),
        ])
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_discovery_document_names_the_org_issuer_and_its_endpoints() {
    let app = spawn_dev_app().await;
    let doc: Value = reqwest::get(format!("{}/dev/idp/globex/.well-known/openid-configuration", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = format!("{}/dev/idp/globex", app.base);
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    assert_eq!(doc["jwks_uri"], format!("{issuer}/jwks"));
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(doc["subject_types_supported"], serde_json::json!(["public"]));
    assert_eq!(doc["id_token_signing_alg_values_supported"], serde_json::json!(["EdDSA"]));
    assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert!(doc["scopes_supported"].as_array().unwrap().contains(&"openid".into()));
    assert!(doc["claims_supported"].as_array().unwrap().contains(&"roles".into()));
    let unknown =
        reqwest::get(format!("{}/dev/idp/umbrella/.well-known/openid-configuration", app.base)).await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_person_picked_at_the_dev_provider_gets_an_id_token_that_verifies_against_its_keys() {
    let app = spawn_dev_app().await;
    let page = browser().get(authorize_url(&app, "acme", &[])).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(csp.starts_with("default-src 'none'") && !csp.contains("script-src"), "{csp}");
    assert_eq!(page.headers()[REFERRER_POLICY], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(html.contains("Dev identity provider of acme") && html.contains("not for production"), "{html}");
    assert!(html.contains("<form method=\"post\" action=\"/dev/idp/acme/authorize\">"), "{html}");
    for sub in ["ada", "alice", "bob", "sam", "carol", "dave", "audrey"] {
        let button = format!("name=\"sub\" value=\"{sub}\" data-action=\"pick-person\"");
        assert!(html.contains(&button), "{sub} is missing: {html}");
    }
    assert!(!html.contains("value=\"gina\"") && !html.contains("value=\"ian\""), "{html}");

    let picked = browser()
        .post(format!("{}/dev/idp/acme/authorize", app.base))
        .form(&[("request", request_id(&html).as_str()), ("sub", "sam")])
        .send()
        .await
        .unwrap();
    assert_eq!(picked.status(), StatusCode::SEE_OTHER);
    let location = picked.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{}?", callback(&app))), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("state-1"));
    let code = query_param(&location, "code").unwrap();

    // client_secret_basic, as the openidconnect crate sends it by default.
    let tokens = browser()
        .post(format!("{}/dev/idp/acme/token", app.base))
        .basic_auth(CLIENT_ID, Some(secret(&app)))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", callback(&app).as_str()),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), StatusCode::OK);
    assert_eq!(tokens.headers()[CACHE_CONTROL], "no-store");
    let tokens: Value = tokens.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(tokens["expires_in"].as_i64().is_some_and(|s| s > 0));

    let id_token = tokens["id_token"].as_str().unwrap();
    let jwks: JwkSet = reqwest::get(format!("{}/dev/idp/acme/jwks", app.base)).await.unwrap().json().await.unwrap();
    let kid = jsonwebtoken::decode_header(id_token).unwrap().kid.unwrap();
    let key = DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let issuer = format!("{}/dev/idp/acme", app.base);
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[CLIENT_ID]);
    validation.set_issuer(&[issuer.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation).unwrap().claims;
    assert_eq!(claims["sub"], "sam");
    assert_eq!(claims["nonce"], "nonce-1");
    assert_eq!(claims["email"], "sam@acme.example");
    assert_eq!(claims["roles"], serde_json::json!(["staff"]));
    assert!(claims["name"].is_string());
    let (iat, auth_time) = (claims["iat"].as_i64().unwrap(), claims["auth_time"].as_i64().unwrap());
    assert!(auth_time <= iat && claims["exp"].as_i64().unwrap() > iat, "{claims}");
}

#[tokio::test]
async fn a_code_works_only_once() {
    let app = spawn_dev_app().await;
    let code = query_param(&sign_in(&app, "globex", "gina").await, "code").unwrap();
    let (status, first) = exchange(&app, "globex", &code, VERIFIER, &secret(&app)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, again) = exchange(&app, "globex", &code, VERIFIER, &secret(&app)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(again["error"], "invalid_grant");
}

#[tokio::test]
async fn a_wrong_code_verifier_is_an_invalid_grant_and_spends_the_code() {
    let app = spawn_dev_app().await;
    let code = query_param(&sign_in(&app, "acme", "sam").await, "code").unwrap();
    let wrong = "another-verifier-that-is-long-enough-for-pkce-0123456789";
    let (status, body) = exchange(&app, "acme", &code, wrong, &secret(&app)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (_, retry) = exchange(&app, "acme", &code, VERIFIER, &secret(&app)).await;
    assert_eq!(retry["error"], "invalid_grant");
}

#[tokio::test]
async fn a_wrong_client_secret_is_an_invalid_client() {
    let app = spawn_dev_app().await;
    let code = query_param(&sign_in(&app, "acme", "sam").await, "code").unwrap();
    let (status, body) = exchange(&app, "acme", &code, VERIFIER, "not-the-secret").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    assert!(!body.to_string().contains(&secret(&app)));
}

#[tokio::test]
async fn a_code_from_one_org_is_refused_at_another() {
    let app = spawn_dev_app().await;
    let code = query_param(&sign_in(&app, "acme", "sam").await, "code").unwrap();
    let (status, body) = exchange(&app, "globex", &code, VERIFIER, &secret(&app)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
}

#[tokio::test]
async fn a_foreign_redirect_uri_gets_an_error_page_and_no_redirect() {
    let app = spawn_dev_app().await;
    for changes in [
        [("redirect_uri", Some("https://evil.example/auth/callback"))],
        [("redirect_uri", Some(&*format!("{}/auth/callback/", app.base)))],
        [("client_id", Some("someone-else"))],
    ] {
        let page = browser().get(authorize_url(&app, "acme", &changes)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{changes:?}");
        assert!(page.headers().get(LOCATION).is_none());
        let html = page.text().await.unwrap();
        assert!(html.contains("data-field=\"error\"") && !html.contains("pick-person"), "{html}");
    }
}

#[tokio::test]
async fn a_request_without_s256_pkce_is_sent_back_with_an_error_and_its_state() {
    let app = spawn_dev_app().await;
    for (changes, error) in [
        (vec![("code_challenge", None)], "invalid_request"),
        (vec![("code_challenge_method", Some("plain"))], "invalid_request"),
        (vec![("scope", Some("email"))], "invalid_scope"),
        (vec![("response_type", Some("token"))], "unsupported_response_type"),
    ] {
        let answer = browser().get(authorize_url(&app, "acme", &changes)).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{changes:?}");
        let location = answer.headers()[LOCATION].to_str().unwrap();
        assert!(location.starts_with(&format!("{}?", callback(&app))), "{location}");
        assert_eq!(query_param(location, "error").as_deref(), Some(error), "{changes:?}");
        assert_eq!(query_param(location, "state").as_deref(), Some("state-1"));
        assert_eq!(query_param(location, "code"), None);
    }
}

#[tokio::test]
async fn the_dev_provider_does_not_exist_outside_dev_mode() {
    let app = spawn_app_configured(|config| config.dev = false).await;
    assert!(app.app.dev_idp.is_none());
    for path in ["/dev/idp/acme/.well-known/openid-configuration", "/dev/idp/acme/jwks", "/dev/idp/acme/authorize"] {
        let answer = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
    }
}
