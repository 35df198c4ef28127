//! The relying party against a provider that answers badly: globex signs
//! in at a fake OpenID provider (`crate::fake_idp`) whose every answer the
//! test chooses. A good ID token signs the person in; each bad answer (a
//! wrong nonce, another issuer, an unpublished or forged key, an expired
//! token, another client's token, a refused code, an HMAC or unsigned
//! token, no ID token, an error instead of a code) is refused with a page
//! that names the problem, an `auth.signin` denied event, and no session;
//! what the provider chose to say is shown bounded. Key rotation at the
//! provider needs no restart, and a callback works once.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Response, StatusCode};
use rootvault::auth::dev::DevIssuer;
use rootvault::config::{ClientSecret, OidcIssuer, OidcSettings};
use rootvault::domain::ids::{OrgName, Role};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::browser::{Browser, location, query_param};
use crate::fake_idp::{FakeIdp, Key, TokenAnswer, hmac_signed, unsigned};
use crate::helpers::{TestApp, spawn_app_configured};

const CLIENT_ID: &str = "rootvault";
const CLIENT_SECRET: &str = "globex-client-secret-for-tests-only";
/// The code the provider "issued"; any value does, the fake takes them all.
const CODE: &str = "a-code-from-the-provider-0123456789";

/// The service, with globex signing in at `idp`.
async fn spawn_app_signing_in_at(idp: &FakeIdp) -> TestApp {
    let issuer = idp.base.clone();
    spawn_app_configured(move |config| {
        let globex = config.orgs.iter_mut().find(|o| o.name.as_str() == "globex").unwrap();
        globex.oidc = Some(OidcSettings {
            issuer: OidcIssuer::Url(issuer),
            client_id: CLIENT_ID.into(),
            client_secret: ClientSecret::new(CLIENT_SECRET.to_owned().into()),
            scopes: ["openid", "email", "groups"].map(str::to_owned).to_vec(),
            roles_claim: "groups".into(),
            role_map: Some(BTreeMap::from([
                ("rootvault-admins".to_owned(), Role::Admin),
                ("oncall".to_owned(), Role::Staff),
            ])),
            subject_claim: "sub".into(),
            display_claim: "email".into(),
        });
    })
    .await
}

/// A provider publishing one Ed25519 key, and the service trusting it.
async fn provider_and_app() -> (FakeIdp, Key, TestApp) {
    let key = Key::ed25519("globex-2026");
    let idp = FakeIdp::start(&[&key]).await;
    let app = spawn_app_signing_in_at(&idp).await;
    (idp, key, app)
}

/// A sign-in started in a fresh browser, waiting at the provider.
struct Attempt {
    browser: Browser,
    authorize_url: String,
    state: String,
    nonce: String,
    /// The sessions there were when it started.
    sessions_before: i64,
}

impl Attempt {
    async fn start(app: &TestApp, idp: &FakeIdp) -> Self {
        let browser = Browser::new(app);
        let start = browser.get("/auth/oidc/globex/start?return_to=/").await;
        assert_eq!(start.status(), StatusCode::SEE_OTHER);
        let authorize_url = location(&start);
        assert!(authorize_url.starts_with(&format!("{}?", idp.authorization_endpoint())), "{authorize_url}");
        assert!(browser.cookie("rv_login").is_some(), "the pending sign-in is bound to the browser");
        let param = |name: &str| query_param(&authorize_url, name).unwrap_or_else(|| panic!("no {name}"));
        let (state, nonce) = (param("state"), param("nonce"));
        Self { browser, authorize_url, state, nonce, sessions_before: sessions(app) }
    }

    /// Good claims for `sub` in this sign-in.
    fn claims(&self, idp: &FakeIdp, sub: &str) -> Value {
        idp.claims(CLIENT_ID, sub, &self.nonce)
    }

    /// The provider sends the browser back with a code.
    async fn come_back(&self) -> Response {
        self.browser.get(&format!("/auth/callback?code={CODE}&state={}", self.state)).await
    }
}

fn sessions(app: &TestApp) -> i64 {
    app.db().query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0)).unwrap()
}

/// The sentence of a refusal page's `data-field="error"`.
fn error_sentence(html: &str) -> String {
    let after = html.split("data-field=\"error\"").nth(1).unwrap_or_else(|| panic!("no error field in {html}"));
    after.split_once('>').unwrap().1.split("</").next().unwrap().to_owned()
}

/// The callback is refused: a 400 page whose sentence contains `says`, an
/// `auth.signin` denied event whose problem contains `problem`, no new
/// session and no secret in the event.
async fn assert_refused(app: &TestApp, attempt: &Attempt, response: Response, says: &str, problem: &str) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let sentence = error_sentence(&response.text().await.unwrap());
    assert!(sentence.contains(says), "the page says {sentence:?}, not {says:?}");
    let event = app.last_event("auth.signin");
    assert_eq!((event["outcome"].as_str(), event["details"]["org"].as_str()), (Some("denied"), Some("globex")));
    let named = event["details"]["problem"].as_str().unwrap_or_default();
    assert!(named.contains(problem), "the event names {named:?}, not {problem:?}");
    assert!(event["actor"].is_null(), "a refused sign-in names nobody: {event}");
    assert!(attempt.browser.cookie("rv_session").is_none());
    assert!(attempt.browser.cookie("rv_login").is_none(), "the spent sign-in cookie is cleared");
    assert_eq!(sessions(app), attempt.sessions_before);
    let text = event.to_string();
    for secret in [CODE, CLIENT_SECRET, &attempt.state, &attempt.nonce] {
        assert!(!text.contains(secret), "the event carries a secret: {text}");
    }
}

/// Sign in at the provider answering `id_token`; expect the refusal.
async fn id_token_is_refused(app: &TestApp, idp: &FakeIdp, attempt: &Attempt, id_token: String, problem: &str) {
    idp.answer(TokenAnswer::IdToken(id_token));
    let response = attempt.come_back().await;
    assert_refused(app, attempt, response, problem, problem).await;
}

/// A complete sign-in as `sub` with an ID token signed by `key`.
async fn signs_in(app: &TestApp, idp: &FakeIdp, key: &Key, sub: &str) -> Attempt {
    let attempt = Attempt::start(app, idp).await;
    idp.answer(TokenAnswer::IdToken(key.sign(&attempt.claims(idp, sub))));
    let done = attempt.come_back().await;
    assert_eq!((done.status(), location(&done).as_str()), (StatusCode::SEE_OTHER, "/"));
    assert!(attempt.browser.cookie("rv_session").is_some());
    assert_eq!(app.last_event("auth.signin")["actor"], format!("globex/{sub}"));
    attempt
}

#[tokio::test]
async fn a_good_id_token_signs_the_person_in_with_the_mapped_roles_after_pkce_and_client_authentication() {
    let (idp, key, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    let param = |name: &str| query_param(&attempt.authorize_url, name);
    assert_eq!(param("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(param("response_type").as_deref(), Some("code"));
    assert_eq!(param("redirect_uri"), Some(format!("{}/auth/callback", app.base)));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert!(param("scope").unwrap().split(' ').any(|s| s == "openid"));
    idp.answer(TokenAnswer::IdToken(key.sign(&attempt.claims(&idp, "gus"))));

    let done = attempt.come_back().await;
    assert_eq!((done.status(), location(&done).as_str()), (StatusCode::SEE_OTHER, "/"));
    assert!(attempt.browser.cookie("rv_session").is_some());
    assert!(attempt.browser.cookie("rv_login").is_none());
    let (status, home) = attempt.browser.home().await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("globex/gus"), "{home}");

    // Only the mapped groups count: "admin" is a role name, but with a
    // role map it is just another group.
    let event = app.last_event("auth.signin");
    assert_eq!((event["outcome"].as_str(), event["actor"].as_str()), (Some("ok"), Some("globex/gus")));
    assert_eq!(event["details"]["roles"], serde_json::json!(["admin", "staff"]));
    let (principal, roles): (String, String) =
        app.db().query_row("SELECT principal, roles FROM sessions", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(principal, "globex/gus");
    assert!(roles.contains("admin") && roles.contains("staff") && !roles.contains("approver"), "{roles}");

    let received = idp.received();
    assert_eq!(received.len(), 1, "the code is exchanged once");
    let exchange = &received[0];
    assert_eq!(exchange.param("grant_type"), Some("authorization_code"));
    assert_eq!(exchange.param("code"), Some(CODE));
    assert_eq!(exchange.param("redirect_uri"), param("redirect_uri").as_deref());
    let verifier = exchange.param("code_verifier").expect("a PKCE verifier");
    assert_eq!(Some(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier))), param("code_challenge"));
    assert_eq!(exchange.basic_credentials(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())));
    assert!(exchange.param("client_secret").is_none(), "the secret travels once, in the Authorization header");
}

#[tokio::test]
async fn id_tokens_signed_with_es256_or_rs256_sign_in_too() {
    let (es, rs) = (Key::es256(), Key::rs256());
    let idp = FakeIdp::start(&[&es, &rs]).await;
    let app = spawn_app_signing_in_at(&idp).await;
    signs_in(&app, &idp, &es, "gina").await;
    signs_in(&app, &idp, &rs, "grace").await;
}

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused() {
    let (idp, key, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    let mut claims = attempt.claims(&idp, "gus");
    claims["nonce"] = "the-nonce-of-another-sign-in".into();
    id_token_is_refused(&app, &idp, &attempt, key.sign(&claims), "its nonce does not match this sign-in").await;
}

#[tokio::test]
async fn an_id_token_without_a_nonce_is_refused() {
    let (idp, key, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    let mut claims = attempt.claims(&idp, "gus");
    claims.as_object_mut().unwrap().remove("nonce");
    id_token_is_refused(&app, &idp, &attempt, key.sign(&claims), "its nonce does not match this sign-in").await;
}

#[tokio::test]
async fn an_id_token_from_another_orgs_provider_is_refused() {
    let (idp, _, app) = provider_and_app().await;
    // A genuine ID token of initech's provider, for the same client id: an
    // initech person must not become a globex one.
    let initech: OrgName = "initech".parse().unwrap();
    let initech_key = DevIssuer::load(&app.config.data_dir, &initech).unwrap();
    let attempt = Attempt::start(&app, &idp).await;
    let mut claims = attempt.claims(&idp, "ian");
    claims["iss"] = format!("{}/dev/idp/initech", app.base).into();
    let token = initech_key.sign(&claims).unwrap();
    id_token_is_refused(&app, &idp, &attempt, token, "it comes from another issuer").await;
}

#[tokio::test]
async fn an_id_token_signed_by_a_key_the_provider_does_not_publish_is_refused() {
    let (idp, _, app) = provider_and_app().await;
    let initech: OrgName = "initech".parse().unwrap();
    let initech_key = DevIssuer::load(&app.config.data_dir, &initech).unwrap();
    let attempt = Attempt::start(&app, &idp).await;
    let token = initech_key.sign(&attempt.claims(&idp, "gus")).unwrap();
    id_token_is_refused(&app, &idp, &attempt, token, "it is signed by a key the provider does not publish").await;
}

#[tokio::test]
async fn an_id_token_forged_under_the_providers_key_id_is_refused() {
    let (idp, key, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    let forger = Key::ed25519("forger");
    let token = forger.sign_as(&key.kid, &attempt.claims(&idp, "gus"));
    id_token_is_refused(&app, &idp, &attempt, token, "its signature does not verify").await;
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    let (idp, key, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    let mut claims = attempt.claims(&idp, "gus");
    let iat = claims["iat"].as_u64().unwrap();
    claims["iat"] = (iat - 7200).into();
    claims["auth_time"] = (iat - 7200).into();
    claims["exp"] = (iat - 3600).into();
    id_token_is_refused(&app, &idp, &attempt, key.sign(&claims), "it has expired").await;
}

#[tokio::test]
async fn an_id_token_meant_for_another_client_is_refused() {
    let (idp, key, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    let mut claims = attempt.claims(&idp, "gus");
    claims["aud"] = "globex-wiki".into();
    id_token_is_refused(&app, &idp, &attempt, key.sign(&claims), "it is meant for another client").await;
}

#[tokio::test]
async fn an_hmac_id_token_keyed_with_the_client_secret_is_refused() {
    let (idp, _, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    let token = hmac_signed(CLIENT_SECRET, &attempt.claims(&idp, "gus"));
    id_token_is_refused(&app, &idp, &attempt, token, "its signature does not verify").await;
}

#[tokio::test]
async fn an_unsigned_id_token_is_refused() {
    let (idp, _, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    let token = unsigned(&attempt.claims(&idp, "gus"));
    id_token_is_refused(&app, &idp, &attempt, token, "its signature does not verify").await;
}

#[tokio::test]
async fn a_code_the_provider_refuses_is_refused() {
    let (idp, _, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    idp.answer(TokenAnswer::Error("invalid_grant".into()));
    let response = attempt.come_back().await;
    assert_refused(&app, &attempt, response, "did not accept the sign-in (invalid_grant)", "invalid_grant").await;
    assert_eq!(idp.received().len(), 1);
}

#[tokio::test]
async fn a_providers_error_code_reaches_the_page_and_the_log_bounded_and_printable() {
    let (idp, _, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    let hostile = format!("invalid_grant\n{}", "x".repeat(10_000));
    idp.answer(TokenAnswer::Error(hostile));
    let response = attempt.come_back().await;
    assert_refused(&app, &attempt, response, "did not accept the sign-in (invalid_grant", "invalid_grant").await;
    let event = app.last_event("auth.signin");
    let problem = event["details"]["problem"].as_str().unwrap();
    assert!(problem.len() < 200 && !problem.contains('\n'), "{problem}");
    assert!(event["reason"].as_str().unwrap().len() < 300, "{event}");
}

#[tokio::test]
async fn an_id_token_also_meant_for_another_client_is_refused() {
    let (idp, key, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    let mut claims = attempt.claims(&idp, "gus");
    claims["aud"] = serde_json::json!([CLIENT_ID, "globex-wiki"]);
    id_token_is_refused(&app, &idp, &attempt, key.sign(&claims), "it is meant for another client").await;
}

#[tokio::test]
async fn a_token_response_without_an_id_token_is_refused() {
    let (idp, _, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    idp.answer(TokenAnswer::NoIdToken);
    let response = attempt.come_back().await;
    assert_refused(&app, &attempt, response, "sent no ID token", "sent no ID token").await;
}

#[tokio::test]
async fn a_provider_error_instead_of_a_code_is_refused_without_asking_the_token_endpoint() {
    let (idp, _, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    let response = attempt.browser.get(&format!("/auth/callback?error=access_denied&state={}", attempt.state)).await;
    assert_refused(
        &app,
        &attempt,
        response,
        "Your identity provider did not sign you in (access_denied)",
        "provider error access_denied",
    )
    .await;
    assert!(idp.received().is_empty());
}

#[tokio::test]
async fn a_key_rotated_at_the_provider_is_fetched_once_and_unknown_keys_within_the_minute_fetch_nothing() {
    let (idp, old, app) = provider_and_app().await;
    assert_eq!(idp.jwks_fetches(), 0, "nothing is fetched before the first sign-in");
    signs_in(&app, &idp, &old, "gus").await;
    assert_eq!(idp.jwks_fetches(), 1, "discovery brings the keys");

    // The provider rotates: a new key under a new kid, the old one gone.
    let new = Key::ed25519("globex-2027");
    idp.publish(&[&new]);
    signs_in(&app, &idp, &new, "gina").await;
    assert_eq!(idp.jwks_fetches(), 2, "the unknown kid fetched the keys once more");

    // Within the minute, another unknown kid fetches nothing, and the
    // old key, no longer published, is refused.
    let stranger = Key::ed25519("never-published");
    for key in [&stranger, &old] {
        let attempt = Attempt::start(&app, &idp).await;
        let token = key.sign(&attempt.claims(&idp, "gus"));
        id_token_is_refused(&app, &idp, &attempt, token, "it is signed by a key the provider does not publish").await;
    }
    assert_eq!(idp.jwks_fetches(), 2);
    signs_in(&app, &idp, &new, "grace").await;
    assert_eq!(idp.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_callback_replayed_after_success_is_refused() {
    let (idp, key, app) = provider_and_app().await;
    let attempt = Attempt::start(&app, &idp).await;
    let login = attempt.browser.cookie("rv_login").unwrap();
    idp.answer(TokenAnswer::IdToken(key.sign(&attempt.claims(&idp, "gus"))));
    assert_eq!(attempt.come_back().await.status(), StatusCode::SEE_OTHER);
    assert_eq!(sessions(&app), 1);

    // The same URL again, even with the sign-in cookie put back (as a
    // thief holding both would): the pending sign-in worked once.
    attempt.browser.set_cookie("rv_login", &login);
    let replay = attempt.come_back().await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(error_sentence(&replay.text().await.unwrap()).contains("not valid (anymore)"));
    let event = app.last_event("auth.signin");
    assert_eq!(
        (event["outcome"].as_str(), event["details"]["problem"].as_str()),
        (Some("denied"), Some("unknown or already used state"))
    );
    assert_eq!(idp.received().len(), 1, "the code was not redeemed again");
    assert_eq!(sessions(&app), 1);
}
