//! A configurable OpenID provider for the relying-party tests, served on
//! 127.0.0.1: discovery, a key set the test swaps at run time (counting its
//! fetches), and a token endpoint whose answer the test scripts and which
//! records what the relying party sent it (code, PKCE verifier, client
//! authentication). It never signs on its own: every ID token it hands out
//! is built by the test, so a test can make it answer anything a hostile or
//! broken provider might.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const FIXTURE_JWKS: &str = include_str!("../fixtures/test-issuer.jwks.json");
const ES256_KEY: &[u8] = include_bytes!("../fixtures/es256-test-only.pem");
const RS256_KEY: &[u8] = include_bytes!("../fixtures/rs256-test-only.pem");

/// What the token endpoint answers to the next code exchange.
#[derive(Debug, Clone)]
pub enum TokenAnswer {
    /// 400 with this `error` code (`invalid_grant`: the code expired or
    /// was used already).
    Error(String),
    /// 200 with an access token and this ID token.
    IdToken(String),
    /// 200 with an access token only.
    NoIdToken,
}

/// One request the token endpoint received.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub form: HashMap<String, String>,
    pub authorization: Option<String>,
}

impl TokenRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form.get(name).map(String::as_str)
    }

    /// The client id and secret of `Authorization: Basic` (RFC 6749
    /// §2.3.1: each form-urlencoded before the base64).
    pub fn basic_credentials(&self) -> Option<(String, String)> {
        let encoded = self.authorization.as_deref()?.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let unescape = |s: &str| url::form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into());
        Some((unescape(id)?, unescape(secret)?))
    }
}

struct Shared {
    base: String,
    jwks: Mutex<Value>,
    jwks_fetches: AtomicUsize,
    answer: Mutex<TokenAnswer>,
    received: Mutex<Vec<TokenRequest>>,
}

/// The running provider; its issuer is its base URL.
pub struct FakeIdp {
    pub base: String,
    shared: Arc<Shared>,
}

impl FakeIdp {
    /// Start a provider publishing `keys`; its token endpoint refuses codes
    /// until told otherwise.
    pub async fn start(keys: &[&Key]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            base: base.clone(),
            jwks: Mutex::new(json!({"keys": []})),
            jwks_fetches: AtomicUsize::new(0),
            answer: Mutex::new(TokenAnswer::Error("invalid_grant".into())),
            received: Mutex::default(),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let idp = Self { base, shared };
        idp.publish(keys);
        idp
    }

    /// Replace the published key set.
    pub fn publish(&self, keys: &[&Key]) {
        *self.shared.jwks.lock().unwrap() = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    }

    /// How often the key set was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Script the token endpoint's answer, until told otherwise.
    pub fn answer(&self, answer: TokenAnswer) {
        *self.shared.answer.lock().unwrap() = answer;
    }

    /// Every request the token endpoint received, oldest first.
    pub fn received(&self) -> Vec<TokenRequest> {
        self.shared.received.lock().unwrap().clone()
    }

    pub fn authorization_endpoint(&self) -> String {
        format!("{}/authorize", self.base)
    }

    /// The claims of a good ID token for `sub` in the sign-in with `nonce`,
    /// for `client_id`, valid for five more minutes; tests spoil them.
    pub fn claims(&self, client_id: &str, sub: &str, nonce: &str) -> Value {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        json!({
            "iss": self.base,
            "aud": client_id,
            "sub": sub,
            "email": format!("{sub}@globex.example"),
            "groups": ["rootvault-admins", "oncall", "admin", "cafeteria"],
            "nonce": nonce,
            "iat": now,
            "auth_time": now,
            "exp": now + 300,
        })
    }
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let base = &shared.base;
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA", "ES256", "RS256"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    Json(shared.jwks.lock().unwrap().clone())
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    shared.received.lock().unwrap().push(TokenRequest { form, authorization });
    let answer = shared.answer.lock().unwrap().clone();
    let issued = |id_token: Option<String>| {
        let mut body = json!({"access_token": "an-access-token", "token_type": "Bearer", "expires_in": 300});
        if let Some(id_token) = id_token {
            body["id_token"] = id_token.into();
        }
        Json(body).into_response()
    };
    match answer {
        TokenAnswer::Error(error) => {
            (StatusCode::BAD_REQUEST, Json(json!({"error": error, "error_description": "no sign-in for you"})))
                .into_response()
        }
        TokenAnswer::IdToken(id_token) => issued(Some(id_token)),
        TokenAnswer::NoIdToken => issued(None),
    }
}

/// A signing key of a provider and its public half as a JWK.
pub struct Key {
    pub kid: String,
    alg: Algorithm,
    key: EncodingKey,
    pub jwk: Value,
}

impl Key {
    /// A fresh Ed25519 key under `kid`.
    pub fn ed25519(kid: &str) -> Self {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid, "x": x});
        let der = key.to_pkcs8_der().unwrap();
        Self { kid: kid.into(), alg: Algorithm::EdDSA, key: EncodingKey::from_ed_der(der.as_bytes()), jwk }
    }

    /// The P-256 test fixture (`es-test`).
    pub fn es256() -> Self {
        Self::fixture("es-test", Algorithm::ES256, EncodingKey::from_ec_pem(ES256_KEY).unwrap())
    }

    /// The RSA test fixture (`rs-test`).
    pub fn rs256() -> Self {
        Self::fixture("rs-test", Algorithm::RS256, EncodingKey::from_rsa_pem(RS256_KEY).unwrap())
    }

    fn fixture(kid: &str, alg: Algorithm, key: EncodingKey) -> Self {
        let set: Value = serde_json::from_str(FIXTURE_JWKS).unwrap();
        let jwk = set["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap().clone();
        Self { kid: kid.into(), alg, key, jwk }
    }

    /// `claims` as a JWT signed by this key under its own `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// `claims` signed by this key, its header naming `kid`.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_owned());
        encode(&header, claims, &self.key).unwrap()
    }
}

/// `claims` as an HS256 JWT keyed with `secret` (a client secret is no
/// signature of the provider's).
pub fn hmac_signed(secret: &str, claims: &Value) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

/// `claims` as an unsigned JWT (`alg: none`).
pub fn unsigned(claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", part(&json!({"alg": "none", "typ": "JWT"})), part(claims))
}
