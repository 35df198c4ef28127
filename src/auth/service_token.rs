//! Tokens the service issues itself: what `rootvault login` receives.
//!
//! A service token is an EdDSA JWT signed by the service's own Ed25519 key
//! (generated once, stored wrapped by the key provider), with `iss` = the
//! service's public URL, `aud` = the configured audience and a `sid` that
//! names a server-side session. The signature only says the service made
//! the token: who it speaks for, and whether it still does, is read from
//! the session, so signing out revokes it at once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use zeroize::Zeroizing;

use super::secret::Secret;

/// The name of the key in the store and in its encryption context.
pub const KEY_NAME: &str = "token-signing";

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    /// `org/sub`, for people reading the token; the session decides.
    sub: String,
    sid: String,
    iat: i64,
    exp: i64,
    auth_time: i64,
}

/// The service's token key.
pub struct ServiceTokenKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
}

impl std::fmt::Debug for ServiceTokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTokenKey").field("kid", &self.kid).finish()
    }
}

/// What a verified service token says.
#[derive(Debug)]
pub struct Verified {
    /// The session it speaks for.
    pub sid: Secret,
}

/// What to put in a new token.
#[derive(Debug)]
pub struct Grant<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub principal: &'a str,
    pub sid: &'a Secret,
    pub auth_time: i64,
    pub now: i64,
    pub expires_at: i64,
}

impl ServiceTokenKey {
    /// The key whose seed is `seed` (a data key from the key provider).
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, String> {
        let signing = SigningKey::from_bytes(seed);
        let der = Zeroizing::new(
            signing.to_pkcs8_der().map_err(|_| "the token key does not encode".to_owned())?.as_bytes().to_vec(),
        );
        let public = signing.verifying_key();
        let x = URL_SAFE_NO_PAD.encode(public.as_bytes());
        let decoding = DecodingKey::from_ed_components(&x).map_err(|_| "the token key's public half is unusable")?;
        let kid = hex::encode(&sha2::Sha256::digest(public.as_bytes())[..8]);
        Ok(Self { encoding: EncodingKey::from_ed_der(&der), decoding, kid })
    }

    pub fn mint(&self, grant: &Grant) -> Result<String, String> {
        let claims = Claims {
            iss: grant.issuer.to_owned(),
            aud: grant.audience.to_owned(),
            sub: grant.principal.to_owned(),
            sid: grant.sid.expose().to_owned(),
            iat: grant.now,
            exp: grant.expires_at,
            auth_time: grant.auth_time,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        encode(&header, &claims, &self.encoding).map_err(|_| "the token could not be signed".to_owned())
    }

    /// Verify signature, `iss`, `aud` and `exp`; the reason of a refusal is
    /// for the audit log.
    pub fn verify(&self, token: &str, issuer: &str, audience: &str) -> Result<Verified, &'static str> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 0;
        let data = decode::<Claims>(token, &self.decoding, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => "token expired",
                ErrorKind::InvalidSignature => "bad signature",
                ErrorKind::InvalidAudience => "wrong audience",
                _ => "invalid token",
            }
        })?;
        let sid = Secret::parse(&data.claims.sid).ok_or("invalid token")?;
        Ok(Verified { sid })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_under_their_key_issuer_and_audience() {
        let key = ServiceTokenKey::from_seed(&[7; 32]).unwrap();
        let other = ServiceTokenKey::from_seed(&[8; 32]).unwrap();
        let sid = Secret::random();
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let grant = Grant {
            issuer: "https://vault.example",
            audience: "rootvault",
            principal: "acme/sam",
            sid: &sid,
            auth_time: now,
            now,
            expires_at: now + 60,
        };
        let token = key.mint(&grant).unwrap();
        assert_eq!(key.verify(&token, "https://vault.example", "rootvault").unwrap().sid.hash(), sid.hash());
        assert_eq!(other.verify(&token, "https://vault.example", "rootvault").unwrap_err(), "bad signature");
        assert!(key.verify(&token, "https://elsewhere.example", "rootvault").is_err());
        assert_eq!(key.verify(&token, "https://vault.example", "other").unwrap_err(), "wrong audience");
        let old = key.mint(&Grant { now: now - 120, expires_at: now - 60, ..grant }).unwrap();
        assert_eq!(key.verify(&old, "https://vault.example", "rootvault").unwrap_err(), "token expired");
    }
}
