//! Bearer tokens already verified, so a caller's next request with the same
//! token skips the signature check (as API gateways' JWT caches do: the
//! signature is most of what checking a token costs).
//!
//! An entry is keyed by the SHA-256 of the token; the token itself is not
//! kept. It holds the caller the token verified as, the second it stops
//! counting, and the issuer key set that verified it. It counts only
//! - before the token's `exp` itself, without the clock-skew leeway the
//!   full check allows, so within the leeway the full check decides again;
//! - while the issuer's keys are the very set that verified it: once they
//!   change (a refresh dropped or rotated a key), the token is checked
//!   again against the keys there are now.
//!
//! Refusals are never kept. The map is bounded: when it is full, expired
//! entries are dropped, and if none had expired, nothing new is kept.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, Weak};

use sha2::{Digest, Sha256};

use super::Caller;
use super::jwt::TrustedIssuer;

/// Most tokens kept at once.
const CAPACITY: usize = 10_000;

/// The key of a token in the map: its SHA-256.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest([u8; 32]);

impl std::fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenDigest(..)")
    }
}

impl TokenDigest {
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }
}

struct Entry {
    caller: Caller,
    /// The `iss` the token claimed: whose keys must still be `keys`.
    issuer: String,
    /// The token's `exp` (Unix seconds): the entry counts before it.
    until: u64,
    /// The key set that verified the token. Held weakly, which also keeps
    /// its address from being reused by a later set while the entry lives.
    keys: Weak<TrustedIssuer>,
}

/// The tokens verified lately (see the module's notes).
#[derive(Default)]
pub struct VerifiedTokens {
    entries: RwLock<HashMap<TokenDigest, Entry>>,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens").field("len", &self.len()).finish()
    }
}

impl VerifiedTokens {
    /// The caller of a token verified before, if its entry still counts at
    /// `now`; `keys` gives the current key set of the issuer it names.
    pub fn get(
        &self,
        digest: &TokenDigest,
        now: u64,
        keys: impl FnOnce(&str) -> Option<Arc<TrustedIssuer>>,
    ) -> Option<Caller> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(digest)?;
        let current = keys(&entry.issuer)?;
        (now < entry.until && std::ptr::eq(entry.keys.as_ptr(), Arc::as_ptr(&current))).then(|| entry.caller.clone())
    }

    /// Keep a token `keys` verified as `caller` until its `exp`.
    pub fn insert(&self, digest: TokenDigest, caller: &Caller, until: u64, keys: &Arc<TrustedIssuer>, now: u64) {
        let issuer = keys.issuer().to_owned();
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.retain(|_, e| now < e.until && e.keys.strong_count() > 0);
            if entries.len() >= CAPACITY {
                return;
            }
        }
        entries.insert(digest, Entry { caller: caller.clone(), issuer, until, keys: Arc::downgrade(keys) });
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWKS: &str = include_str!("../../tests/fixtures/test-issuer.jwks.json");
    const ISSUER: &str = "https://idp.globex.example";

    fn keys() -> Arc<TrustedIssuer> {
        Arc::new(TrustedIssuer::from_jwks("globex".parse().unwrap(), ISSUER.into(), JWKS).unwrap())
    }

    fn caller() -> Caller {
        Caller { principal: "globex/gina".parse().unwrap(), roles: Default::default(), auth_time: Some(1) }
    }

    #[test]
    fn a_verified_token_counts_until_its_expiry_and_not_a_second_longer() {
        let (cache, keys) = (VerifiedTokens::default(), keys());
        let digest = TokenDigest::of("a.b.c");
        cache.insert(digest, &caller(), 1_000, &keys, 900);
        let current = |_: &str| Some(Arc::clone(&keys));
        assert_eq!(cache.get(&digest, 999, current).unwrap().principal, caller().principal);
        assert!(cache.get(&digest, 1_000, current).is_none());
        assert!(cache.get(&TokenDigest::of("a.b.d"), 999, current).is_none(), "another token is not known");
    }

    #[test]
    fn a_token_verified_with_keys_since_replaced_must_be_verified_again() {
        let (cache, old) = (VerifiedTokens::default(), keys());
        let digest = TokenDigest::of("a.b.c");
        cache.insert(digest, &caller(), 1_000, &old, 900);
        // The same keys, fetched again: another set all the same.
        let refreshed = keys();
        assert!(cache.get(&digest, 950, |_| Some(Arc::clone(&refreshed))).is_none());
        assert!(cache.get(&digest, 950, |_| None).is_none(), "an issuer no longer trusted");
        let mut asked = String::new();
        assert!(
            cache
                .get(&digest, 950, |iss| {
                    asked = iss.to_owned();
                    Some(Arc::clone(&old))
                })
                .is_some()
        );
        assert_eq!(asked, ISSUER, "the keys asked for are those of the token's issuer");
    }

    #[test]
    fn a_full_cache_drops_expired_tokens_and_otherwise_keeps_no_new_one() {
        let (cache, keys) = (VerifiedTokens::default(), keys());
        for i in 0..CAPACITY {
            let until = if i % 2 == 0 { 100 } else { 1_000 };
            cache.insert(TokenDigest::of(&i.to_string()), &caller(), until, &keys, 50);
        }
        assert_eq!(cache.len(), CAPACITY);
        cache.insert(TokenDigest::of("new"), &caller(), 1_000, &keys, 500);
        assert_eq!(cache.len(), CAPACITY / 2 + 1, "the expired half made room");
        let current = |_: &str| Some(Arc::clone(&keys));
        assert!(cache.get(&TokenDigest::of("new"), 600, current).is_some());

        let full = VerifiedTokens::default();
        for i in 0..CAPACITY {
            full.insert(TokenDigest::of(&i.to_string()), &caller(), 1_000, &keys, 50);
        }
        full.insert(TokenDigest::of("new"), &caller(), 1_000, &keys, 500);
        assert_eq!(full.len(), CAPACITY);
        assert!(full.get(&TokenDigest::of("new"), 600, current).is_none());
    }
}
