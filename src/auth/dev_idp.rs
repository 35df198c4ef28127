//! The dev identity provider: one OpenID Connect provider per demo org.
//!
//! `rootvault dev` serves it at `/dev/idp/{org}` (docs/signin.md, "The dev
//! identity provider") so that people sign in to the dev service through the
//! very relying-party code a production provider meets: discovery, the
//! authorization code flow with PKCE (S256), client authentication, and ID
//! tokens signed with the org's dev issuer key. Its login page is a person
//! picker over `crate::dev::PEOPLE`. This module is the protocol, free of
//! HTTP plumbing; `crate::http::dev_idp` serves it.
//!
//! Pending authorization requests and issued codes live in memory only, in
//! bounded maps whose entries expire: a restart forgets them, as a real
//! provider's short-lived state may be forgotten.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;
use url::form_urlencoded;

use super::dev::{DevIssuer, DevIssuerError};
use super::secret::{Secret, pkce_matches};
use crate::dev::{DemoPerson, PEOPLE};
use crate::domain::ids::OrgName;
use crate::domain::session::is_s256_challenge;

/// The one client registered with every dev provider: the dev service.
pub const CLIENT_ID: &str = "rootvault-dev";
/// How long the person has to pick someone after the authorization request.
const PENDING_SECONDS: i64 = 600;
/// How long an authorization code may wait for its exchange.
const CODE_SECONDS: i64 = 60;
/// The life of ID and access tokens.
const TOKEN_SECONDS: i64 = 300;
/// At most this many pending requests, and as many codes, are kept.
const MAX_ENTRIES: usize = 1000;
/// The longest `state` or `nonce` accepted: they are stored until used.
const MAX_OPAQUE_LEN: usize = 1024;

/// 256 random bits, base64url without padding (43 characters).
fn random_token() -> String {
    Secret::random().expose().to_owned()
}

fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// A map whose entries expire, holding at most `MAX_ENTRIES`: when full, the
/// entry closest to expiry makes room, so a flood of requests cannot grow it.
#[derive(Debug)]
struct Expiring<K, V> {
    entries: HashMap<K, (i64, V)>,
}

impl<K: Hash + Eq + Clone, V> Expiring<K, V> {
    fn new() -> Self {
        Self { entries: HashMap::new() }
    }

    fn insert(&mut self, key: K, value: V, expires_at: i64, now: i64) {
        self.entries.retain(|_, (expiry, _)| *expiry > now);
        if self.entries.len() >= MAX_ENTRIES
            && let Some(oldest) = self.entries.iter().min_by_key(|(_, (expiry, _))| *expiry).map(|(k, _)| k.clone())
        {
            self.entries.remove(&oldest);
        }
        self.entries.insert(key, (expires_at, value));
    }

    /// Remove the entry and return it unless it has expired: each works once.
    fn take(&mut self, key: &K, now: i64) -> Option<V> {
        self.entries.remove(key).filter(|(expiry, _)| *expiry > now).map(|(_, value)| value)
    }
}

/// The id of a pending authorization request: the picker form carries it,
/// so only the browser that saw the page can complete the request.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PendingId(String);

impl PendingId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PendingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingId(..)")
    }
}

/// An authorization request waiting for the person to be picked.
#[derive(Debug)]
struct Pending {
    org: OrgName,
    redirect_uri: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
}

/// What an issued code stands for; it is stored under the code's SHA-256.
#[derive(Debug)]
struct Grant {
    org: OrgName,
    client_id: &'static str,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    person: &'static DemoPerson,
    auth_time: i64,
}

/// Form or query parameters, each at most once (RFC 6749 §3.1, §3.2).
#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, String>);

/// A parameter was sent twice.
#[derive(Debug)]
pub struct RepeatedParam;

impl Params {
    /// Parse `application/x-www-form-urlencoded` text (a query or a body).
    pub fn parse(text: &str) -> Result<Self, RepeatedParam> {
        let mut map = BTreeMap::new();
        for (key, value) in form_urlencoded::parse(text.as_bytes()) {
            if map.insert(key.into_owned(), value.into_owned()).is_some() {
                return Err(RepeatedParam);
            }
        }
        Ok(Self(map))
    }

    /// A parameter's value; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// Why an authorization request is refused.
#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or its redirect URI is not the registered one (or the
    /// request cannot be read): the person sees an error page, and nothing
    /// is sent to a URI that was not validated (RFC 6749 §4.1.2.1).
    Page(&'static str),
    /// Any other problem goes back to the client's redirect URI.
    Redirect(Url),
}

/// The picker to show: the org's people and the pending request's id.
#[derive(Debug)]
pub struct Picker {
    pub request: PendingId,
    pub people: Vec<&'static DemoPerson>,
}

/// Why a pick is refused; the person sees an error page.
#[derive(Debug, thiserror::Error)]
pub enum PickError {
    #[error("this sign-in request is unknown or has expired; start again from the application")]
    UnknownRequest,
    #[error("that person is not one of this organisation's demo people")]
    UnknownPerson,
}

/// A refused token request, as RFC 6749 §5.2 names it. The wire format of
/// these answers is fixed by the RFC, hence an enum of its own rather than
/// `crate::error::Error`.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    InvalidRequest(&'static str),
    /// 401: the client is unknown or its secret is wrong.
    InvalidClient,
    InvalidGrant(&'static str),
    UnsupportedGrantType,
    /// The ID token could not be signed.
    Server,
}

impl TokenError {
    /// The `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::InvalidClient => "invalid_client",
            TokenError::InvalidGrant(_) => "invalid_grant",
            TokenError::UnsupportedGrantType => "unsupported_grant_type",
            TokenError::Server => "server_error",
        }
    }

    /// The `error_description` field.
    pub fn description(&self) -> &'static str {
        match self {
            TokenError::InvalidRequest(why) | TokenError::InvalidGrant(why) => why,
            TokenError::InvalidClient => "client authentication failed",
            TokenError::UnsupportedGrantType => "only authorization_code is supported",
            TokenError::Server => "the ID token could not be signed",
        }
    }
}

/// A successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Serialize)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    id_token: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: String,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    email: String,
    name: String,
    roles: Vec<&'static str>,
}

/// The dev identity providers of a dev service, one per org.
pub struct DevIdp {
    issuers: BTreeMap<OrgName, DevIssuer>,
    client_secret: SecretString,
    pending: Mutex<Expiring<PendingId, Pending>>,
    codes: Mutex<Expiring<[u8; 32], Grant>>,
}

impl std::fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIdp").field("orgs", &self.issuers.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

/// The issuer URL of org `org`'s dev provider under `public_url`.
pub fn issuer_url(public_url: &str, org: &OrgName) -> String {
    format!("{}/dev/idp/{org}", public_url.trim_end_matches('/'))
}

/// The one redirect URI registered with the dev providers.
pub fn callback_url(public_url: &str) -> String {
    format!("{}/auth/callback", public_url.trim_end_matches('/'))
}

impl DevIdp {
    /// Providers for `orgs`, signing with their dev issuer keys in
    /// `data_dir` (which must exist), and a client secret new to this process.
    pub fn new(data_dir: &Path, orgs: impl IntoIterator<Item = OrgName>) -> Result<Self, DevIssuerError> {
        let issuers = orgs
            .into_iter()
            .map(|org| DevIssuer::load(data_dir, &org).map(|issuer| (org, issuer)))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            issuers,
            client_secret: SecretString::from(random_token()),
            pending: Mutex::new(Expiring::new()),
            codes: Mutex::new(Expiring::new()),
        })
    }

    /// The client id the relying party uses with every dev provider.
    pub fn client_id(&self) -> &'static str {
        CLIENT_ID
    }

    /// The client secret the relying party authenticates with.
    pub fn client_secret(&self) -> &SecretString {
        &self.client_secret
    }

    /// The provider of `org`, when it is one of ours.
    pub fn org(&self, org: &str) -> Option<OrgIdp<'_>> {
        let (org, issuer) = self.issuers.get_key_value(&org.parse::<OrgName>().ok()?)?;
        Some(OrgIdp { idp: self, org, issuer })
    }

    /// Constant-time check of the client's credentials.
    fn client_ok(&self, client_id: &str, secret: &str) -> bool {
        let secret_ok = sha256(secret).ct_eq(&sha256(self.client_secret.expose_secret()));
        bool::from(secret_ok) && client_id == CLIENT_ID
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Expiring<PendingId, Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn codes(&self) -> std::sync::MutexGuard<'_, Expiring<[u8; 32], Grant>> {
        self.codes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One org's provider.
#[derive(Debug, Clone, Copy)]
pub struct OrgIdp<'a> {
    idp: &'a DevIdp,
    org: &'a OrgName,
    issuer: &'a DevIssuer,
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn well_formed_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The client's id and secret from HTTP Basic (RFC 6749 §2.3.1: each part
/// form-urlencoded, then joined by `:` and base64-encoded).
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    // A form-urlencoded part holds no raw `&` or `=`, so it decodes as the
    // value of a one-pair form.
    let unescape = |part: &str| {
        let mut pairs = form_urlencoded::parse(format!("v={part}").as_bytes()).into_owned().collect::<Vec<_>>();
        (pairs.len() == 1).then(|| pairs.remove(0).1)
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// "Sam" for `sam`: a display name for a demo person.
fn display_name(sub: &str) -> String {
    let mut chars = sub.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

impl OrgIdp<'_> {
    pub fn name(&self) -> &OrgName {
        self.org
    }

    /// This provider's issuer under `public_url`.
    pub fn issuer(&self, public_url: &str) -> String {
        issuer_url(public_url, self.org)
    }

    /// The org's demo people, in the order of `PEOPLE`.
    pub fn people(&self) -> impl Iterator<Item = &'static DemoPerson> {
        let org = self.org.as_str().to_owned();
        PEOPLE.iter().filter(move |p| p.org == org)
    }

    /// The discovery document (OpenID Connect Discovery 1.0 §3).
    pub fn discovery(&self, public_url: &str) -> serde_json::Value {
        let issuer = self.issuer(public_url);
        serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "email", "name", "roles"],
            "authorization_response_iss_parameter_supported": true,
        })
    }

    /// The org's signing keys.
    pub fn jwks(&self) -> serde_json::Value {
        self.issuer.jwks()
    }

    /// `redirect_uri` with `pairs` and this provider's `iss` (RFC 9207)
    /// added to its query.
    fn redirect(&self, public_url: &str, redirect_uri: &str, pairs: &[(&str, &str)]) -> Result<Url, AuthorizeError> {
        let mut url = Url::parse(redirect_uri).map_err(|_| AuthorizeError::Page("the redirect URI is not a URL"))?;
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in pairs {
                query.append_pair(key, value);
            }
            query.append_pair("iss", &self.issuer(public_url));
        }
        Ok(url)
    }

    /// An authorization request (RFC 6749 §4.1.1, OpenID Connect Core
    /// §3.1.2.1). On success the request waits for the person's pick.
    pub fn authorize(&self, public_url: &str, query: &str, now: i64) -> Result<Picker, AuthorizeError> {
        let params = Params::parse(query).map_err(|_| AuthorizeError::Page("a parameter appears more than once"))?;
        if params.get("client_id") != Some(CLIENT_ID) {
            return Err(AuthorizeError::Page("the client is not registered with this provider"));
        }
        let redirect_uri = callback_url(public_url);
        if params.get("redirect_uri") != Some(redirect_uri.as_str()) {
            return Err(AuthorizeError::Page("the redirect URI is not the one registered for this client"));
        }
        let state = params.get("state");
        let refuse = |error: &str, description: &str| {
            let mut pairs = vec![("error", error), ("error_description", description)];
            pairs.extend(state.map(|s| ("state", s)));
            match self.redirect(public_url, &redirect_uri, &pairs) {
                Ok(url) => AuthorizeError::Redirect(url),
                Err(page) => page,
            }
        };
        if params.get("response_type") != Some("code") {
            return Err(refuse("unsupported_response_type", "only response_type=code is supported"));
        }
        if !params.get("scope").is_some_and(|s| s.split(' ').any(|scope| scope == "openid")) {
            return Err(refuse("invalid_scope", "the scope must include openid"));
        }
        let Some(code_challenge) = params.get("code_challenge") else {
            return Err(refuse("invalid_request", "PKCE is required: send code_challenge"));
        };
        if params.get("code_challenge_method") != Some("S256") {
            return Err(refuse("invalid_request", "code_challenge_method must be S256"));
        }
        if !is_s256_challenge(code_challenge) {
            return Err(refuse("invalid_request", "code_challenge is not an S256 challenge"));
        }
        let nonce = params.get("nonce");
        if [state, nonce].iter().flatten().any(|v| v.len() > MAX_OPAQUE_LEN) {
            return Err(refuse("invalid_request", "state or nonce is too long"));
        }
        // No session is kept here, so the person must always pick: a
        // silent request cannot succeed (OpenID Connect Core §3.1.2.6).
        if params.get("prompt").is_some_and(|p| p.split(' ').any(|v| v == "none")) {
            return Err(refuse("login_required", "the dev identity provider always asks who you are"));
        }
        let request = PendingId(random_token());
        let pending = Pending {
            org: self.org.clone(),
            redirect_uri,
            state: state.map(str::to_owned),
            nonce: nonce.map(str::to_owned),
            code_challenge: code_challenge.to_owned(),
        };
        self.idp.pending().insert(request.clone(), pending, now + PENDING_SECONDS, now);
        Ok(Picker { request, people: self.people().collect() })
    }

    /// The person picked `sub` for the pending `request`: issue a code and
    /// answer the URL to send the browser to (RFC 6749 §4.1.2).
    pub fn pick(&self, public_url: &str, request: &str, sub: &str, now: i64) -> Result<Url, PickError> {
        let pending = self.idp.pending().take(&PendingId(request.to_owned()), now).ok_or(PickError::UnknownRequest)?;
        if pending.org != *self.org {
            return Err(PickError::UnknownRequest);
        }
        let person = self.people().find(|p| p.sub == sub).ok_or(PickError::UnknownPerson)?;
        let code = random_token();
        let mut pairs = vec![("code", code.as_str())];
        pairs.extend(pending.state.as_deref().map(|s| ("state", s)));
        let url = self.redirect(public_url, &pending.redirect_uri, &pairs).map_err(|_| PickError::UnknownRequest)?;
        let grant = Grant {
            org: pending.org,
            client_id: CLIENT_ID,
            redirect_uri: pending.redirect_uri,
            code_challenge: pending.code_challenge,
            nonce: pending.nonce,
            person,
            auth_time: now,
        };
        self.idp.codes().insert(sha256(&code), grant, now + CODE_SECONDS, now);
        Ok(url)
    }

    /// A token request (RFC 6749 §4.1.3 with RFC 7636 §4.5): `body` is the
    /// form, `authorization` the `Authorization` header if any.
    pub fn token(
        &self,
        public_url: &str,
        authorization: Option<&str>,
        body: &str,
        now: i64,
    ) -> Result<TokenResponse, TokenError> {
        let params =
            Params::parse(body).map_err(|_| TokenError::InvalidRequest("a parameter appears more than once"))?;
        let client_id = self.authenticate(authorization, &params)?;
        if params.get("grant_type") != Some("authorization_code") {
            return Err(match params.get("grant_type") {
                None => TokenError::InvalidRequest("grant_type is missing"),
                Some(_) => TokenError::UnsupportedGrantType,
            });
        }
        let (Some(code), Some(redirect_uri), Some(verifier)) =
            (params.get("code"), params.get("redirect_uri"), params.get("code_verifier"))
        else {
            return Err(TokenError::InvalidRequest("code, redirect_uri and code_verifier are required"));
        };
        if !well_formed_verifier(verifier) {
            return Err(TokenError::InvalidRequest("code_verifier is not a PKCE verifier"));
        }
        // Taken before any further check: a code presented once is spent.
        let grant = self
            .idp
            .codes()
            .take(&sha256(code), now)
            .ok_or(TokenError::InvalidGrant("the code is unknown, used or expired"))?;
        if grant.org != *self.org || grant.client_id != client_id {
            return Err(TokenError::InvalidGrant("the code was not issued to this client here"));
        }
        if grant.redirect_uri != redirect_uri {
            return Err(TokenError::InvalidGrant("redirect_uri differs from the authorization request's"));
        }
        if !pkce_matches(verifier, &grant.code_challenge) {
            return Err(TokenError::InvalidGrant("code_verifier does not match the code_challenge"));
        }
        let person = grant.person;
        let claims = IdTokenClaims {
            iss: self.issuer(public_url),
            sub: person.sub,
            aud: client_id,
            exp: now + TOKEN_SECONDS,
            iat: now,
            auth_time: grant.auth_time,
            nonce: grant.nonce.as_deref(),
            email: format!("{}@{}.example", person.sub, self.org),
            name: display_name(person.sub),
            roles: person.roles.iter().map(|r| r.as_str()).collect(),
        };
        let id_token = self.issuer.sign(&claims).map_err(|_| TokenError::Server)?;
        Ok(TokenResponse { access_token: random_token(), token_type: "Bearer", expires_in: TOKEN_SECONDS, id_token })
    }

    /// The authenticated client's id: HTTP Basic or `client_id` and
    /// `client_secret` in the body, never both (RFC 6749 §2.3).
    fn authenticate(&self, authorization: Option<&str>, params: &Params) -> Result<&'static str, TokenError> {
        let (id, secret) = match authorization {
            Some(_) if params.get("client_secret").is_some() => {
                return Err(TokenError::InvalidRequest("use one client authentication method"));
            }
            Some(header) => {
                let (id, secret) = basic_credentials(header).ok_or(TokenError::InvalidClient)?;
                if params.get("client_id").is_some_and(|body_id| body_id != id) {
                    return Err(TokenError::InvalidRequest("client_id differs from the authenticated client"));
                }
                (id, secret)
            }
            None => match (params.get("client_id"), params.get("client_secret")) {
                (Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
                _ => return Err(TokenError::InvalidClient),
            },
        };
        if self.idp.client_ok(&id, &secret) { Ok(CLIENT_ID) } else { Err(TokenError::InvalidClient) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "http://127.0.0.1:8200";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn idp() -> (tempfile::TempDir, DevIdp) {
        let dir = tempfile::tempdir().unwrap();
        let org: OrgName = "acme".parse().unwrap();
        DevIssuer::load_or_create(dir.path(), &org).unwrap();
        let idp = DevIdp::new(dir.path(), [org]).unwrap();
        (dir, idp)
    }

    fn query() -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", &callback_url(PUBLIC))
            .append_pair("scope", "openid email")
            .append_pair("state", "s1")
            .append_pair("nonce", "n1")
            .append_pair("code_challenge", CHALLENGE)
            .append_pair("code_challenge_method", "S256")
            .finish()
    }

    fn code_of(url: &Url) -> String {
        url.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned()
    }

    fn exchange(idp: &DevIdp, code: &str, now: i64) -> Result<TokenResponse, TokenError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &callback_url(PUBLIC))
            .append_pair("code_verifier", VERIFIER)
            .append_pair("client_id", CLIENT_ID)
            .append_pair("client_secret", idp.client_secret().expose_secret())
            .finish();
        idp.org("acme").unwrap().token(PUBLIC, None, &body, now)
    }

    #[test]
    fn the_pkce_example_of_rfc_7636_matches() {
        assert!(well_formed_verifier(VERIFIER));
        assert!(pkce_matches(VERIFIER, CHALLENGE));
        assert!(!pkce_matches("x".repeat(43).as_str(), CHALLENGE));
    }

    #[test]
    fn a_code_expires_after_sixty_seconds() {
        let (_dir, idp) = idp();
        let acme = idp.org("acme").unwrap();
        let picker = acme.authorize(PUBLIC, &query(), 1000).unwrap();
        let url = acme.pick(PUBLIC, picker.request.as_str(), "sam", 1000).unwrap();
        let err = exchange(&idp, &code_of(&url), 1000 + CODE_SECONDS).unwrap_err();
        assert_eq!(err.code(), "invalid_grant");
    }

    #[test]
    fn a_code_within_its_minute_is_exchanged_once() {
        let (_dir, idp) = idp();
        let acme = idp.org("acme").unwrap();
        let picker = acme.authorize(PUBLIC, &query(), 1000).unwrap();
        let url = acme.pick(PUBLIC, picker.request.as_str(), "sam", 1000).unwrap();
        assert!(exchange(&idp, &code_of(&url), 1000 + CODE_SECONDS - 1).is_ok());
        assert_eq!(exchange(&idp, &code_of(&url), 1001).unwrap_err().code(), "invalid_grant");
    }

    #[test]
    fn a_pending_request_is_picked_once_and_expires() {
        let (_dir, idp) = idp();
        let acme = idp.org("acme").unwrap();
        let picker = acme.authorize(PUBLIC, &query(), 1000).unwrap();
        assert!(acme.pick(PUBLIC, picker.request.as_str(), "sam", 1000).is_ok());
        assert!(matches!(acme.pick(PUBLIC, picker.request.as_str(), "sam", 1000), Err(PickError::UnknownRequest)));
        let late = acme.authorize(PUBLIC, &query(), 1000).unwrap();
        let when = 1000 + PENDING_SECONDS;
        assert!(matches!(acme.pick(PUBLIC, late.request.as_str(), "sam", when), Err(PickError::UnknownRequest)));
    }

    #[test]
    fn the_pending_requests_stay_bounded() {
        let (_dir, idp) = idp();
        let acme = idp.org("acme").unwrap();
        let first = acme.authorize(PUBLIC, &query(), 1000).unwrap();
        let later: Vec<_> = (0..MAX_ENTRIES).map(|_| acme.authorize(PUBLIC, &query(), 1001).unwrap()).collect();
        assert_eq!(idp.pending().entries.len(), MAX_ENTRIES);
        // The oldest made room for the newest.
        assert!(matches!(acme.pick(PUBLIC, first.request.as_str(), "sam", 1001), Err(PickError::UnknownRequest)));
        assert!(acme.pick(PUBLIC, later[0].request.as_str(), "sam", 1001).is_ok());
    }

    #[test]
    fn a_person_of_another_org_cannot_be_picked() {
        let (_dir, idp) = idp();
        let acme = idp.org("acme").unwrap();
        let picker = acme.authorize(PUBLIC, &query(), 1000).unwrap();
        assert!(picker.people.iter().all(|p| p.org == "acme"));
        assert!(matches!(acme.pick(PUBLIC, picker.request.as_str(), "gina", 1000), Err(PickError::UnknownPerson)));
    }

    #[test]
    fn basic_credentials_are_form_urlencoded_parts() {
        let header = format!("Basic {}", STANDARD.encode("rootvault-dev:a%2Bb%3Ac"));
        assert_eq!(basic_credentials(&header), Some(("rootvault-dev".into(), "a+b:c".into())));
        assert_eq!(basic_credentials("Bearer abc"), None);
    }

    #[test]
    fn a_repeated_parameter_is_refused() {
        assert!(Params::parse("a=1&a=2").is_err());
        assert_eq!(Params::parse("a=1&b=").unwrap().get("b"), None);
    }
}
