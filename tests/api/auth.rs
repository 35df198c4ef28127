//! Bearer tokens: what is accepted, what is refused, and where the org
//! comes from.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use rootvault::auth::dev::DevIssuer;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn claims(app: &TestApp, org: &str, sub: &str) -> Value {
    json!({
        "iss": DevIssuer::issuer_for(&org.parse().unwrap()),
        "aud": app.config.audience,
        "sub": sub,
        "roles": ["admin", "staff", "approver", "auditor"],
        "iat": now(),
        "exp": now() + 300,
    })
}

/// The org's real dev signing key, as PKCS#8 DER.
fn dev_key(app: &TestApp, org: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(app.data_dir().join("dev-issuers").join(format!("{org}.pk8"))).unwrap();
    STANDARD.decode(text.trim()).unwrap()
}

fn kid(app: &TestApp, org: &str) -> String {
    DevIssuer::load(&app.data_dir(), &org.parse().unwrap()).unwrap().kid()
}

/// Sign `claims` with the org's real key and the given `kid`.
fn sign(app: &TestApp, org: &str, kid: Option<String>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = kid;
    encode(&header, claims, &EncodingKey::from_ed_der(&dev_key(app, org))).unwrap()
}

async fn status_with(app: &TestApp, token: &str) -> StatusCode {
    app.get("/v1/accounts", token).await.status
}

#[tokio::test]
async fn a_well_formed_token_from_a_trusted_issuer_is_accepted() {
    let app = spawn_app().await;
    let token = sign(&app, "acme", Some(kid(&app, "acme")), &claims(&app, "acme", "ada"));
    assert_eq!(status_with(&app, &token).await, StatusCode::OK);
}

#[tokio::test]
async fn tokens_that_fail_any_check_are_refused_with_401() {
    let app = spawn_app().await;
    let acme_kid = Some(kid(&app, "acme"));
    let good = claims(&app, "acme", "ada");
    let with = |key: &str, value: Value| {
        let mut c = good.clone();
        c[key] = value;
        c
    };
    let without = |key: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(key);
        c
    };
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[42u8; 32]);
    let stranger_der = stranger.to_pkcs8_der().unwrap();
    let mut forged_header = Header::new(Algorithm::EdDSA);
    forged_header.kid = acme_kid.clone();
    let public_x = {
        let jwks = DevIssuer::load(&app.data_dir(), &"acme".parse().unwrap()).unwrap().jwks();
        jwks["keys"][0]["x"].as_str().unwrap().to_owned()
    };
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = acme_kid.clone();
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );

    let cases: Vec<(&str, String)> = vec![
        ("expired", sign(&app, "acme", acme_kid.clone(), &with("exp", json!(now() - 3600)))),
        ("wrong audience", sign(&app, "acme", acme_kid.clone(), &with("aud", json!("someone-else")))),
        ("no audience", sign(&app, "acme", acme_kid.clone(), &without("aud"))),
        ("no expiry", sign(&app, "acme", acme_kid.clone(), &without("exp"))),
        ("no issuer", sign(&app, "acme", acme_kid.clone(), &without("iss"))),
        ("untrusted issuer", sign(&app, "acme", acme_kid.clone(), &with("iss", json!("https://idp.evil.example")))),
        ("unknown kid", sign(&app, "acme", Some("not-a-key".into()), &good)),
        (
            "signed by a stranger",
            encode(&forged_header, &good, &EncodingKey::from_ed_der(stranger_der.as_bytes())).unwrap(),
        ),
        (
            "HMAC keyed with the public key",
            encode(&hs_header, &good, &EncodingKey::from_secret(public_x.as_bytes())).unwrap(),
        ),
        ("alg none", unsigned),
        ("garbage", "not.a.token".into()),
        ("bad subject", sign(&app, "acme", acme_kid.clone(), &with("sub", json!("ada/evil")))),
    ];
    for (what, token) in cases {
        let reply = app.get("/v1/accounts", &token).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(reply.code(), "unauthenticated", "{what}");
    }
    let missing = app.send(reqwest::Method::GET, "/v1/accounts", None, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_org_comes_from_the_issuer_never_from_a_claim() {
    let app = spawn_app().await;
    app.register("123456789012", "provider_split", None).await;
    // A globex token that claims to be from acme in every claim it can.
    let mut lying = claims(&app, "globex", "gina");
    lying["org"] = json!("acme");
    lying["sub"] = json!("gina");
    let token = sign(&app, "globex", Some(kid(&app, "globex")), &lying);
    assert_eq!(app.get("/v1/accounts/123456789012", &token).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.last_event("account.read")["actor"], "globex/gina");
    // Signed by globex but naming acme's issuer: acme's key does not verify it.
    let mut spoofed = claims(&app, "acme", "ada");
    spoofed["sub"] = json!("ada");
    let token = sign(&app, "globex", Some(kid(&app, "acme")), &spoofed);
    assert_eq!(app.get("/v1/accounts", &token).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn every_authentication_failure_is_audited_without_the_token() {
    let app = spawn_app().await;
    let expired = {
        let mut c = claims(&app, "globex", "gina");
        c["exp"] = json!(now() - 3600);
        sign(&app, "globex", Some(kid(&app, "globex")), &c)
    };
    app.get("/v1/accounts", &expired).await;
    app.send(reqwest::Method::GET, "/v1/accounts", None, None).await;
    let failures: Vec<Value> = app.audit_events().into_iter().filter(|e| e["action"] == "auth.fail").collect();
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0]["details"]["reason"], "token expired");
    assert_eq!(failures[0]["details"]["org"], "globex");
    assert_eq!(failures[0]["outcome"], "denied");
    assert_eq!(failures[0]["actor"], Value::Null);
    assert_eq!(failures[0]["http"]["ip"], "127.0.0.1");
    assert_eq!(failures[1]["details"]["reason"], "missing bearer token");
    let all = app.db().dump("SELECT event_json FROM audit_events").concat();
    assert!(!all.contains(&expired[..20]) && !all.contains(expired.split('.').nth(2).unwrap()));
}
