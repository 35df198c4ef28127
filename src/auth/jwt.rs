//! Bearer token verification.
//!
//! Each trusted issuer is bound to exactly one org and a set of public keys
//! (from a JWKS document). A token is accepted only when its `iss` names a
//! trusted issuer, its header names one of that issuer's keys (or the issuer
//! has exactly one), its `alg` is the algorithm of that key (EdDSA, ES256 or
//! RS256: never `none`, never HMAC), and its signature, `exp`, `iss` and
//! `aud` all verify.

use std::collections::HashMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

use super::Caller;
use crate::domain::ids::{OrgName, Principal, Role};

/// Tokens within this many seconds past `exp` are still accepted, to absorb
/// clock skew between the identity provider and this service.
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
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Deserialize)]
struct IssuerOnly {
    iss: Option<String>,
}

/// Verifies bearer tokens against the trusted issuers.
#[derive(Debug)]
pub struct Authenticator {
    audience: String,
    issuers: HashMap<String, TrustedIssuer>,
}

impl Authenticator {
    pub fn new(audience: String, issuers: impl IntoIterator<Item = TrustedIssuer>) -> Self {
        let issuers = issuers.into_iter().map(|i| (i.issuer.clone(), i)).collect();
        Self { audience, issuers }
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The issuer a token claims, read without verification only to choose
    /// which keys to verify it with.
    fn claimed_issuer(token: &str) -> Option<String> {
        let payload = token.split('.').nth(1)?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
        serde_json::from_slice::<IssuerOnly>(&bytes).ok()?.iss
    }

    /// Verify `token` and return who it speaks for.
    pub fn verify(&self, token: &str) -> Result<Caller, AuthFailure> {
        let header = decode_header(token).map_err(|_| AuthFailure::new("malformed token or unsupported algorithm"))?;
        let iss = Self::claimed_issuer(token).ok_or_else(|| AuthFailure::new("token has no issuer"))?;
        let trusted = self.issuers.get(&iss).ok_or_else(|| AuthFailure::new("untrusted issuer"))?;
        let fail = |reason| AuthFailure { reason, org: Some(trusted.org.clone()) };
        let key = match &header.kid {
            Some(kid) => {
                trusted.keys.iter().find(|k| k.kid.as_deref() == Some(kid)).ok_or_else(|| fail("unknown key id"))?
            }
            None if trusted.keys.len() == 1 => &trusted.keys[0],
            None => return Err(fail("token names no key id")),
        };
        if header.alg != key.alg {
            return Err(fail("algorithm does not match the issuer's key"));
        }
        let mut validation = Validation::new(key.alg);
        validation.set_issuer(&[&trusted.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        let data = decode::<Claims>(token, &key.key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            fail(match e.kind() {
                ErrorKind::ExpiredSignature => "token expired",
                ErrorKind::InvalidAudience => "wrong audience",
                ErrorKind::InvalidIssuer => "wrong issuer",
                ErrorKind::InvalidSignature => "bad signature",
                ErrorKind::MissingRequiredClaim(_) => "missing required claim",
                ErrorKind::ImmatureSignature => "token not yet valid",
                _ => "invalid token",
            })
        })?;
        let sub = data.claims.sub.parse().map_err(|_| fail("invalid subject"))?;
        let roles = data.claims.roles.iter().filter_map(|r| r.parse::<Role>().ok()).collect();
        Ok(Caller { principal: Principal::new(trusted.org.clone(), sub), roles })
    }
}
