//! The random secrets of people's sign-ins (session ids, the browser
//! binding of a pending sign-in, CLI codes) and what is derived from them.
//!
//! Each secret is 256 random bits in base64url. The database keeps only
//! its SHA-256; the audit log a truncated hash of that. A session's CSRF
//! token and a pending sign-in's PKCE verifier are HMACs keyed by the
//! secret, so neither needs storing and neither can be computed without
//! the cookie that holds it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A 256-bit random secret in base64url (43 characters).
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    pub fn random() -> Self {
        let mut raw = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(raw.as_mut());
        Self(Zeroizing::new(URL_SAFE_NO_PAD.encode(raw.as_ref())))
    }

    /// Accept only what [`Secret::random`] makes; anything else is unknown.
    pub fn parse(text: &str) -> Option<Self> {
        let well_formed = text.len() == 43 && URL_SAFE_NO_PAD.decode(text).is_ok_and(|raw| raw.len() == 32);
        well_formed.then(|| Self(Zeroizing::new(text.to_owned())))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database keeps: hex SHA-256.
    pub fn hash(&self) -> String {
        hash_text(&self.0)
    }

    /// What audit events and logs show: the first 16 hex digits of the hash.
    pub fn log_hash(&self) -> String {
        self.hash()[..16].to_owned()
    }

    fn derive(&self, purpose: &str) -> String {
        // HMAC takes keys of any length: `new_from_slice` cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(purpose.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The CSRF token of the session this secret identifies.
    pub fn csrf_token(&self) -> String {
        self.derive("rootvault/v1 csrf")
    }

    /// Whether `given` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, given: &str) -> bool {
        self.csrf_token().as_bytes().ct_eq(given.as_bytes()).into()
    }

    /// The PKCE verifier of the pending sign-in `state` this browser
    /// secret belongs to: 43 base64url characters, as RFC 7636 allows.
    pub fn pkce_verifier(&self, state: &str) -> Zeroizing<String> {
        Zeroizing::new(self.derive(&format!("rootvault/v1 pkce {state}")))
    }
}

/// Hex SHA-256 of a text secret (codes and ids received from outside).
pub fn hash_text(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The S256 PKCE challenge of `verifier` (RFC 7636 §4.2).
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` answers `challenge` (constant time).
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    s256_challenge(verifier).as_bytes().ct_eq(challenge.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_nothing_else_parses() {
        let s = Secret::random();
        assert_eq!(Secret::parse(s.expose()).unwrap().hash(), s.hash());
        for bad in ["", "short", &"A".repeat(44), &format!("{}=", &s.expose()[..42])] {
            assert!(Secret::parse(bad).is_none(), "{bad}");
        }
        assert!(!format!("{s:?}").contains(s.expose()));
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let (a, b) = (Secret::random(), Secret::random());
        assert!(a.csrf_matches(&a.csrf_token()));
        assert!(!a.csrf_matches(&b.csrf_token()));
        assert!(!a.csrf_matches(""));
        assert_ne!(a.csrf_token(), a.hash(), "the stored hash does not give the token away");
    }

    #[test]
    fn pkce_verifiers_are_valid_and_bound_to_their_state() {
        let browser = Secret::random();
        let v = browser.pkce_verifier("state-1");
        assert_eq!(v.len(), 43);
        assert_ne!(*v, *browser.pkce_verifier("state-2"));
        // RFC 7636 appendix B.
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(pkce_matches(&v, &s256_challenge(&v)));
        assert!(!pkce_matches("other", &s256_challenge(&v)));
    }
}
