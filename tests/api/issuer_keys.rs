//! Issuer key rotation: an org whose issuer publishes its keys at a URL
//! (a JWKS server on 127.0.0.1 that the test can change and that counts
//! its fetches) keeps being trusted across the provider's key rotations,
//! without a restart, and without hammering or depending on the provider.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rootvault::config::{BearerIssuer, JwksSource};
use serde_json::{Value, json};

use crate::fake_idp::Key;
use crate::helpers::{TestApp, spawn_app_configured};

const ISSUER: &str = "https://idp.globex.example";

/// What the provider answers at its JWKS address: a document, or 503.
#[derive(Default)]
struct Published {
    jwks: Mutex<Option<Value>>,
    fetches: AtomicUsize,
}

async fn serve_jwks(State(published): State<Arc<Published>>) -> Response {
    published.fetches.fetch_add(1, Ordering::SeqCst);
    match published.jwks.lock().unwrap().clone() {
        Some(jwks) => Json(jwks).into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// globex's identity provider.
struct Provider {
    url: String,
    published: Arc<Published>,
}

impl Provider {
    async fn start(keys: &[&Key]) -> Self {
        let published = Arc::new(Published::default());
        let app = axum::Router::new().route("/jwks", axum::routing::get(serve_jwks)).with_state(Arc::clone(&published));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let provider = Self { url, published };
        provider.publish(keys);
        provider
    }

    fn publish(&self, keys: &[&Key]) {
        self.answer(Some(json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})));
    }

    fn go_down(&self) {
        self.answer(None);
    }

    fn answer(&self, jwks: Option<Value>) {
        *self.published.jwks.lock().unwrap() = jwks;
    }

    fn fetches(&self) -> usize {
        self.published.fetches.load(Ordering::SeqCst)
    }
}

/// Bearer tokens of globex's admin gina, signed by a provider key.
trait GinaTokens {
    /// A token signed by this key, its header naming `kid`.
    fn token_as(&self, kid: &str, audience: &str) -> String;
    fn token(&self, app: &TestApp) -> String;
}

impl GinaTokens for Key {
    fn token_as(&self, kid: &str, audience: &str) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let claims =
            json!({"iss": ISSUER, "aud": audience, "sub": "gina", "roles": ["admin"], "iat": now, "exp": now + 300});
        self.sign_as(kid, &claims)
    }

    fn token(&self, app: &TestApp) -> String {
        self.token_as(&self.kid, &app.config.audience)
    }
}

/// The service, with globex's issuer keys at the provider's URL.
async fn spawn_app_trusting(provider: &Provider) -> TestApp {
    let url = provider.url.clone();
    spawn_app_configured(|config| {
        let globex = config.orgs.iter_mut().find(|o| o.name.as_str() == "globex").unwrap();
        globex.bearer = Some(BearerIssuer { issuer: ISSUER.into(), jwks: JwksSource::Url(url) });
    })
    .await
}

async fn status_with(app: &TestApp, token: &str) -> StatusCode {
    app.get("/v1/accounts", token).await.status
}

/// The regular (hourly) refresh, run now as the background task runs it
/// when it is due.
async fn refresh_when_due(app: &TestApp) {
    let due = app.app.auth.next_refresh().expect("globex's keys come from a URL");
    app.app.auth.refresh_due(due).await;
}

#[tokio::test]
async fn a_rotated_provider_key_is_trusted_without_a_restart_and_the_dropped_one_stops_working() {
    let (old, new) = (Key::es256(), Key::ed25519("ed-2026"));
    let provider = Provider::start(&[&old]).await;
    let app = spawn_app_trusting(&provider).await;
    assert_eq!(provider.fetches(), 1, "the keys are fetched at start");
    assert_eq!(status_with(&app, &old.token(&app)).await, StatusCode::OK);

    // The provider publishes its next key and signs with it at once: the
    // first token naming it makes the service fetch the keys again.
    provider.publish(&[&old, &new]);
    assert_eq!(status_with(&app, &new.token(&app)).await, StatusCode::OK);
    assert_eq!(provider.fetches(), 2);
    assert_eq!(status_with(&app, &old.token(&app)).await, StatusCode::OK, "both keys overlap");

    // The provider drops the old key: once the service has refreshed, the
    // old key's tokens are refused.
    provider.publish(&[&new]);
    assert_eq!(status_with(&app, &old.token(&app)).await, StatusCode::OK, "not refreshed yet");
    refresh_when_due(&app).await;
    assert_eq!(provider.fetches(), 3);
    assert_eq!(status_with(&app, &old.token(&app)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_with(&app, &new.token(&app)).await, StatusCode::OK);
    let refused = app.last_event("auth.fail");
    assert_eq!(refused["details"]["reason"], "unknown key id");
    assert_eq!(refused["details"]["org"], "globex");
}

#[tokio::test]
async fn a_burst_of_tokens_naming_unknown_keys_fetches_the_keys_once_a_minute() {
    let key = Key::es256();
    let provider = Provider::start(&[&key]).await;
    let app = spawn_app_trusting(&provider).await;
    let tokens: Vec<String> = (0..10).map(|i| key.token_as(&format!("made-up-{i}"), &app.config.audience)).collect();
    let statuses = futures_util::future::join_all(tokens.iter().map(|t| status_with(&app, t))).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
    assert_eq!(provider.fetches(), 2, "one fetch at start, one for the whole burst");

    let another = key.token_as("made-up-later", &app.config.audience);
    assert_eq!(status_with(&app, &another).await, StatusCode::UNAUTHORIZED);
    assert_eq!(provider.fetches(), 2, "still within the minute");
    assert_eq!(status_with(&app, &key.token(&app)).await, StatusCode::OK, "the keys are untouched");
}

#[tokio::test]
async fn a_provider_that_is_down_at_refresh_time_leaves_the_old_keys_working() {
    let (old, new) = (Key::es256(), Key::ed25519("ed-2026"));
    let provider = Provider::start(&[&old]).await;
    let app = spawn_app_trusting(&provider).await;

    provider.go_down();
    refresh_when_due(&app).await;
    assert_eq!(provider.fetches(), 2, "the refresh was attempted");
    assert_eq!(status_with(&app, &old.token(&app)).await, StatusCode::OK);
    // A token naming a key the service does not have cannot bring it
    // either, and costs the keys nothing.
    assert_eq!(status_with(&app, &new.token(&app)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(provider.fetches(), 3);
    assert_eq!(status_with(&app, &old.token(&app)).await, StatusCode::OK);

    // A provider answering with an unusable key set is no better.
    provider.answer(Some(json!({"keys": []})));
    refresh_when_due(&app).await;
    assert_eq!(provider.fetches(), 4);
    assert_eq!(status_with(&app, &old.token(&app)).await, StatusCode::OK);

    // Back up with a rotated key: the retry, a minute after the failed
    // attempt, brings it.
    provider.publish(&[&new]);
    refresh_when_due(&app).await;
    assert_eq!(provider.fetches(), 5);
    assert_eq!(status_with(&app, &new.token(&app)).await, StatusCode::OK);
    assert_eq!(status_with(&app, &old.token(&app)).await, StatusCode::UNAUTHORIZED);
}
