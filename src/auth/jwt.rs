//! Bearer token verification.
//!
//! Each trusted issuer is bound to exactly one org and a set of public keys
//! (from a JWKS document, kept fresh by `issuer_keys`). A token is accepted
//! only when its `iss` names a trusted issuer, its header names one of that
//! issuer's keys (or the issuer has exactly one), its `alg` is the algorithm
//! of that key (EdDSA, ES256 or RS256: never `none`, never HMAC), and its
//! signature, `exp`, `iss` and `aud` all verify. A token that is not valid
//! yet (`nbf`) or claims to be issued in the future (`iat`) is refused too:
//! such a token was minted by a skewed or compromised issuer to outlive its
//! intended window.

use std::collections::HashMap;
use std::fmt;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation, decode, decode_header};
use serde::Deserialize;

use super::Caller;
use super::issuer_keys::IssuerKeys;
use super::verified::{TokenDigest, VerifiedTokens};
use crate::domain::ids::{OrgName, Principal, Role};

/// Tokens within this many seconds past `exp` (or before `nbf` and `iat`)
/// are still accepted, to absorb clock skew between the identity provider
/// and this service.
const LEEWAY_SECONDS: u64 = 30;

/// Why a token was refused. Goes to the audit log; the caller only learns
/// that a valid token is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    pub reason: &'static str,
    /// The org of the issuer the token claimed, when that issuer is trusted.
    pub org: Option<OrgName>,
}

impl AuthFailure {
    fn new(reason: &'static str) -> Self {
        Self { reason, org: None }
    }
}

/// A JWKS that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error("not a JWKS document: {0}")]
    Parse(String),
    #[error("key {0}: only EdDSA (Ed25519), ES256 (P-256) and RS256 keys are accepted")]
    Unsupported(String),
    #[error("key {0}: unreadable public key")]
    BadKey(String),
    #[error("the key set has no keys")]
    Empty,
}

struct VerifyKey {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// One trusted issuer and the org it vouches for.
pub struct TrustedIssuer {
    org: OrgName,
    issuer: String,
    keys: Vec<VerifyKey>,
}

impl fmt::Debug for TrustedIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedIssuer")
            .field("org", &self.org)
            .field("issuer", &self.issuer)
            .field("keys", &self.keys.iter().map(|k| (&k.kid, k.alg)).collect::<Vec<_>>())
            .finish()
    }
}

fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => Some(Algorithm::EdDSA),
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Some(Algorithm::ES256),
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        _ => None,
    }
}

impl TrustedIssuer {
    /// Trust `issuer` for `org` with the keys of a JWKS document.
    pub fn from_jwks(org: OrgName, issuer: String, jwks_json: &str) -> Result<Self, KeySetError> {
        let set: JwkSet = serde_json::from_str(jwks_json).map_err(|e| KeySetError::Parse(e.to_string()))?;
        let mut keys = Vec::new();
        for (index, jwk) in set.keys.iter().enumerate() {
            let name = jwk.common.key_id.clone().unwrap_or_else(|| format!("#{index}"));
            let alg = algorithm_of(jwk).ok_or_else(|| KeySetError::Unsupported(name.clone()))?;
            let key = DecodingKey::from_jwk(jwk).map_err(|_| KeySetError::BadKey(name.clone()))?;
            keys.push(VerifyKey { kid: jwk.common.key_id.clone(), alg, key });
        }
        if keys.is_empty() {
            return Err(KeySetError::Empty);
        }
        Ok(Self { org, issuer, keys })
    }

    pub fn org(&self) -> &OrgName {
        &self.org
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key a token's header names: by `kid`, or the only key when it
    /// names none. An error is the refusal's reason.
    fn key_for(&self, header: &Header) -> Result<&VerifyKey, &'static str> {
        match &header.kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)).ok_or("unknown key id"),
            None => match self.keys.as_slice() {
                [only] => Ok(only),
                _ => Err("token names no key id"),
            },
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    /// Required and checked by the library; kept to bound how long the
    /// verified token is remembered.
    exp: u64,
    #[serde(default)]
    roles: Vec<String>,
    /// Checked here: the library validates `exp` and `nbf` but not `iat`.
    #[serde(default)]
    iat: Option<u64>,
    /// When the person authenticated, if the issuer says (OIDC's claim).
    #[serde(default)]
    auth_time: Option<u64>,
}

#[derive(Deserialize)]
struct IssuerOnly {
    iss: Option<String>,
}

/// The issuer a token claims, read without verification only to choose
/// which keys to verify it with.
pub fn claimed_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<IssuerOnly>(&bytes).ok()?.iss
}

/// Verifies bearer tokens against the trusted issuers.
#[derive(Debug)]
pub struct Authenticator {
    audience: String,
    issuers: HashMap<String, IssuerKeys>,
    /// Tokens verified lately (`verified`).
    verified: VerifiedTokens,
}

impl Authenticator {
    pub fn new(audience: String, issuers: impl IntoIterator<Item = IssuerKeys>) -> Self {
        let issuers = issuers.into_iter().map(|i| (i.issuer().to_owned(), i)).collect();
        Self { audience, issuers, verified: VerifiedTokens::default() }
    }

    /// Verify `token` and return who it speaks for. A token naming a key
    /// its issuer does not have (yet) makes the issuer's keys be fetched
    /// again, when the refresh gate allows, and is then tried once more.
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthFailure> {
        let digest = TokenDigest::of(token);
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(caller) = self.verified.get(&digest, now, |iss| self.issuers.get(iss).map(IssuerKeys::keys)) {
            return Ok(caller);
        }
        let header = decode_header(token).map_err(|_| AuthFailure::new("malformed token or unsupported algorithm"))?;
        let iss = claimed_issuer(token).ok_or_else(|| AuthFailure::new("token has no issuer"))?;
        let issuer = self.issuers.get(&iss).ok_or_else(|| AuthFailure::new("untrusted issuer"))?;
        let mut keys = issuer.keys();
        if keys.key_for(&header).is_err() && issuer.refetch_for_unknown_kid(Instant::now()).await {
            keys = issuer.keys();
        }
        let (caller, exp) = self.verify_with(&keys, &header, token)?;
        self.verified.insert(digest, &caller, exp, &keys, now);
        Ok(caller)
    }

    /// Verify `token` with `trusted`'s keys: the caller and the token's `exp`.
    fn verify_with(&self, trusted: &TrustedIssuer, header: &Header, token: &str) -> Result<(Caller, u64), AuthFailure> {
        let fail = |reason| AuthFailure { reason, org: Some(trusted.org.clone()) };
        let key = trusted.key_for(header).map_err(fail)?;
        if header.alg != key.alg {
            return Err(fail("algorithm does not match the issuer's key"));
        }
        let mut validation = Validation::new(key.alg);
        validation.set_issuer(&[&trusted.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        let data = decode::<Claims>(token, &key.key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            fail(match e.kind() {
                ErrorKind::ExpiredSignature => "token expired",
                ErrorKind::InvalidAudience => "wrong audience",
                ErrorKind::InvalidIssuer => "wrong issuer",
                ErrorKind::InvalidSignature => "bad signature",
                ErrorKind::MissingRequiredClaim(_) => "missing required claim",
                ErrorKind::ImmatureSignature => "token not yet valid (nbf in the future)",
                _ => "invalid token",
            })
        })?;
        let now = jsonwebtoken::get_current_timestamp();
        if data.claims.iat.is_some_and(|iat| iat > now.saturating_add(LEEWAY_SECONDS)) {
            return Err(fail("token issued in the future (iat)"));
        }
        let sub = data.claims.sub.parse().map_err(|_| fail("invalid subject"))?;
        let roles = data.claims.roles.iter().filter_map(|r| r.parse::<Role>().ok()).collect();
        let auth_time = data.claims.auth_time.or(data.claims.iat).and_then(|t| i64::try_from(t).ok());
        Ok((Caller { principal: Principal::new(trusted.org.clone(), sub), roles, auth_time }, data.claims.exp))
    }

    /// When the next regular refresh of any issuer's keys is due; `None`
    /// when no issuer's keys can change.
    pub fn next_refresh(&self) -> Option<Instant> {
        self.issuers.values().filter_map(IssuerKeys::due_at).min()
    }

    /// Refresh the keys of every issuer whose regular refresh is due at
    /// `now`, all at once so a slow provider does not delay the others.
    pub async fn refresh_due(&self, now: Instant) {
        futures_util::future::join_all(self.issuers.values().map(|i| i.refresh_if_due(now))).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use std::time::Duration;

    use super::*;
    use crate::auth::key_source::KeySource;
    use crate::auth::refresh::{REFRESH_INTERVAL, UNKNOWN_KID_MIN_INTERVAL};

    const JWKS: &str = include_str!("../../tests/fixtures/test-issuer.jwks.json");
    const ES256_KEY: &[u8] = include_bytes!("../../tests/fixtures/es256-test-only.pem");
    const RS256_KEY: &[u8] = include_bytes!("../../tests/fixtures/rs256-test-only.pem");
    const ISSUER: &str = "https://idp.globex.example";

    fn authenticator() -> Authenticator {
        let issuer = TrustedIssuer::from_jwks("globex".parse().unwrap(), ISSUER.into(), JWKS).unwrap();
        Authenticator::new("rootvault".into(), [IssuerKeys::fixed(issuer)])
    }

    fn token(alg: Algorithm, kid: Option<&str>, key: &EncodingKey) -> String {
        token_with(alg, kid, key, json!({}))
    }

    /// A token whose claims are the usual ones overridden by `extra`.
    fn token_with(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, extra: serde_json::Value) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let mut claims =
            json!({"iss": ISSUER, "aud": "rootvault", "sub": "gina", "roles": ["admin", "superuser"], "exp": now + 60});
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, &claims, key).unwrap()
    }

    #[tokio::test]
    async fn es256_and_rs256_tokens_from_a_jwks_verify() {
        let auth = authenticator();
        let es = EncodingKey::from_ec_pem(ES256_KEY).unwrap();
        let rs = EncodingKey::from_rsa_pem(RS256_KEY).unwrap();
        for t in [token(Algorithm::ES256, Some("es-test"), &es), token(Algorithm::RS256, Some("rs-test"), &rs)] {
            let caller = auth.verify(&t).await.unwrap();
            assert_eq!(auth.verify(&t).await.unwrap(), caller, "the same again, remembered");
            assert_eq!(caller.principal.to_string(), "globex/gina");
            assert_eq!(
                caller.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                ["admin"],
                "unknown roles are dropped"
            );
        }
    }

    #[tokio::test]
    async fn tokens_not_yet_valid_or_issued_in_the_future_are_refused_beyond_the_leeway() {
        let auth = authenticator();
        let es = EncodingKey::from_ec_pem(ES256_KEY).unwrap();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let t = |extra| token_with(Algorithm::ES256, Some("es-test"), &es, extra);
        let early = t(json!({"nbf": now + 600, "exp": now + 3600}));
        assert_eq!(auth.verify(&early).await.unwrap_err().reason, "token not yet valid (nbf in the future)");
        assert_eq!(auth.verify(&early).await.unwrap_err().reason, "token not yet valid (nbf in the future)");
        assert_eq!(auth.verified.len(), 0, "refusals are not remembered");
        let ahead = t(json!({"iat": now + 600, "exp": now + 3600}));
        assert_eq!(auth.verify(&ahead).await.unwrap_err().reason, "token issued in the future (iat)");
        // Within the 30 s leeway both are clock skew, not an attack.
        assert!(auth.verify(&t(json!({"nbf": now + 10, "iat": now + 10}))).await.is_ok());
        assert!(auth.verify(&t(json!({"nbf": now - 10, "iat": now - 10}))).await.is_ok());
    }

    #[tokio::test]
    async fn a_header_algorithm_other_than_the_keys_is_refused() {
        let auth = authenticator();
        let rs = EncodingKey::from_rsa_pem(RS256_KEY).unwrap();
        let wrong = token(Algorithm::RS256, Some("es-test"), &rs);
        assert_eq!(auth.verify(&wrong).await.unwrap_err().reason, "algorithm does not match the issuer's key");
        let no_kid = token(Algorithm::RS256, None, &rs);
        assert_eq!(auth.verify(&no_kid).await.unwrap_err().reason, "token names no key id");
        let ps = token(Algorithm::PS256, Some("rs-test"), &rs);
        assert!(auth.verify(&ps).await.is_err());
    }

    #[test]
    fn symmetric_and_unsupported_keys_are_refused_when_loading() {
        let oct = r#"{"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}"#;
        assert!(matches!(
            TrustedIssuer::from_jwks("globex".parse().unwrap(), ISSUER.into(), oct),
            Err(KeySetError::Unsupported(_))
        ));
        let empty = r#"{"keys": []}"#;
        assert!(matches!(
            TrustedIssuer::from_jwks("globex".parse().unwrap(), ISSUER.into(), empty),
            Err(KeySetError::Empty)
        ));
        assert!(matches!(
            TrustedIssuer::from_jwks("globex".parse().unwrap(), ISSUER.into(), "{"),
            Err(KeySetError::Parse(_))
        ));
    }

    /// The fixture's keys, one of them, or none, as a JWKS document.
    fn jwks_with(kids: &[&str]) -> String {
        let mut set: serde_json::Value = serde_json::from_str(JWKS).unwrap();
        set["keys"].as_array_mut().unwrap().retain(|k| kids.contains(&k["kid"].as_str().unwrap()));
        set.to_string()
    }

    /// An authenticator whose one issuer reads its keys from a file.
    async fn file_authenticator(path: &std::path::Path) -> Authenticator {
        let source = KeySource::File(path.to_path_buf());
        let issuer = IssuerKeys::load("globex".parse().unwrap(), ISSUER.into(), source).await.unwrap();
        Authenticator::new("rootvault".into(), [issuer])
    }

    #[tokio::test]
    async fn a_key_added_to_the_file_is_found_by_the_first_token_naming_it_at_most_once_a_minute() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, jwks_with(&["es-test"])).unwrap();
        let auth = file_authenticator(&path).await;
        let rs = token(Algorithm::RS256, Some("rs-test"), &EncodingKey::from_rsa_pem(RS256_KEY).unwrap());
        std::fs::write(&path, jwks_with(&["es-test", "rs-test"])).unwrap();
        assert_eq!(auth.verify(&rs).await.unwrap().principal.to_string(), "globex/gina");

        // The provider drops the key again: the file is not re-read for the
        // next unknown kid within the minute, only a minute later.
        std::fs::write(&path, jwks_with(&["es-test"])).unwrap();
        let issuer = &auth.issuers[ISSUER];
        assert!(!issuer.refetch_for_unknown_kid(Instant::now()).await);
        assert!(auth.verify(&rs).await.is_ok(), "the keys are as the last read left them");
        assert!(issuer.refetch_for_unknown_kid(Instant::now() + UNKNOWN_KID_MIN_INTERVAL).await);
        assert_eq!(auth.verify(&rs).await.unwrap_err().reason, "unknown key id");
    }

    #[tokio::test]
    async fn the_hourly_refresh_rereads_the_file_and_an_unusable_one_keeps_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, jwks_with(&["es-test", "rs-test"])).unwrap();
        let auth = file_authenticator(&path).await;
        let es = token(Algorithm::ES256, Some("es-test"), &EncodingKey::from_ec_pem(ES256_KEY).unwrap());
        let rs = token(Algorithm::RS256, Some("rs-test"), &EncodingKey::from_rsa_pem(RS256_KEY).unwrap());
        let due = auth.next_refresh().unwrap();
        assert!(due > Instant::now() + REFRESH_INTERVAL - Duration::from_secs(60));

        std::fs::write(&path, jwks_with(&["es-test"])).unwrap();
        auth.refresh_due(due - Duration::from_secs(1)).await;
        assert!(auth.verify(&rs).await.is_ok(), "not due yet: the file was not re-read");
        auth.refresh_due(due).await;
        assert!(auth.verify(&es).await.is_ok());
        assert_eq!(auth.verify(&rs).await.unwrap_err().reason, "unknown key id");

        for unusable in [jwks_with(&[]), "{".to_owned()] {
            std::fs::write(&path, unusable).unwrap();
            auth.refresh_due(auth.next_refresh().unwrap()).await;
            assert!(auth.verify(&es).await.is_ok());
        }
        std::fs::remove_file(&path).unwrap();
        auth.refresh_due(auth.next_refresh().unwrap()).await;
        assert!(auth.verify(&es).await.is_ok());
    }

    #[tokio::test]
    async fn fixed_keys_are_never_refreshed() {
        let auth = authenticator();
        assert_eq!(auth.next_refresh(), None);
        let rs = EncodingKey::from_rsa_pem(RS256_KEY).unwrap();
        assert_eq!(
            auth.verify(&token(Algorithm::RS256, Some("other"), &rs)).await.unwrap_err().reason,
            "unknown key id"
        );
    }
}
