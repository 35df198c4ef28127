//! The `local` key provider: two master keys sealed by a Shamir-shared key.
//!
//! `rootvault init` draws a random sealing key and two independent 256-bit
//! master keys (one per half), encrypts the master keys under the sealing key
//! and splits the sealing key into N shares with threshold T. Only the sealed
//! key ring is stored. After a restart the provider is sealed until T shares
//! are submitted; the master keys then live only in zeroizing memory.

use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sharks::{Share, Sharks};
use zeroize::Zeroizing;

use super::envelope::{open_with, seal_with};
use super::{CryptoError, DataKey, EncryptionContext, KeyProvider, SealStatus, WrappedKey};
use crate::domain::ids::Half;

const KEYRING_AAD: &[u8] = b"rootvault/v1;keyring";
const WRAP_PURPOSE: &str = "data-key-wrap";

/// The stored form of the key ring: master keys encrypted under the sealing
/// key, plus the share parameters. Safe to store: useless without T shares.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedKeyring {
    pub format: u32,
    pub shares: u8,
    pub threshold: u8,
    /// base64 of nonce ‖ AES-256-GCM(password master key ‖ MFA master key).
    pub sealed_master_keys: String,
}

/// One unseal share as printed to its holder: base64 of the sharks share.
pub struct UnsealShare(Zeroizing<String>);

impl UnsealShare {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UnsealShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnsealShare(<redacted>)")
    }
}

impl SealedKeyring {
    /// Draw fresh keys and split the sealing key into `shares` shares, any
    /// `threshold` of which unseal. The shares are returned once, never stored.
    pub fn create(shares: u8, threshold: u8) -> Result<(Self, Vec<UnsealShare>), CryptoError> {
        if threshold == 0 || shares == 0 || threshold > shares {
            return Err(CryptoError::Keyring("need 1 <= threshold <= shares"));
        }
        let mut sealing_key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut *sealing_key);
        let mut master = Zeroizing::new([0u8; 64]);
        OsRng.fill_bytes(&mut *master);
        let sealed = seal_with(&sealing_key, KEYRING_AAD, &*master)?;
        let out = Sharks(threshold)
            .dealer_rng(&*sealing_key, &mut OsRng)
            .take(usize::from(shares))
            .map(|share| {
                let bytes = Zeroizing::new(Vec::from(&share));
                UnsealShare(Zeroizing::new(B64.encode(&*bytes)))
            })
            .collect();
        let ring = Self { format: 1, shares, threshold, sealed_master_keys: B64.encode(sealed) };
        Ok((ring, out))
    }

    fn open(&self, sealing_key: &[u8]) -> Result<MasterKeys, CryptoError> {
        let key: &[u8; 32] = sealing_key.try_into().map_err(|_| CryptoError::WrongShares)?;
        let sealed = B64.decode(&self.sealed_master_keys).map_err(|_| CryptoError::Keyring("not base64"))?;
        let plain = open_with(key, KEYRING_AAD, &sealed).map_err(|_| CryptoError::WrongShares)?;
        if plain.len() != 64 {
            return Err(CryptoError::Keyring("master keys have the wrong length"));
        }
        let mut password = Zeroizing::new([0u8; 32]);
        let mut mfa = Zeroizing::new([0u8; 32]);
        password.copy_from_slice(&plain[..32]);
        mfa.copy_from_slice(&plain[32..]);
        Ok(MasterKeys { password, mfa })
    }
}

struct MasterKeys {
    password: Zeroizing<[u8; 32]>,
    mfa: Zeroizing<[u8; 32]>,
}

impl MasterKeys {
    fn for_half(&self, half: Half) -> &[u8; 32] {
        match half {
            Half::Password => &self.password,
            Half::Mfa => &self.mfa,
        }
    }
}

enum State {
    Sealed { shares: Vec<Share> },
    Unsealed(MasterKeys),
}

impl Drop for State {
    fn drop(&mut self) {
        if let State::Sealed { shares } = self {
            use zeroize::Zeroize;
            for share in shares.iter_mut() {
                share.zeroize();
            }
        }
    }
}

/// The local provider. A std `Mutex` guards the seal state because every
/// critical section is short and synchronous (no `.await` inside), which is
/// cheaper than an async mutex and cannot be held across a suspension point.
pub struct LocalKeyProvider {
    ring: SealedKeyring,
    state: Mutex<State>,
}

impl fmt::Debug for LocalKeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKeyProvider").field("status", &self.seal_status()).finish()
    }
}

impl LocalKeyProvider {
    /// A sealed provider for a stored key ring.
    pub fn sealed(ring: SealedKeyring) -> Self {
        Self { ring, state: Mutex::new(State::Sealed { shares: Vec::new() }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-written
        // (each arm replaces it whole), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn key_id(half: Half) -> String {
        format!("local:{half}")
    }
}

#[async_trait]
impl KeyProvider for LocalKeyProvider {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn seal_status(&self) -> SealStatus {
        let threshold = self.ring.threshold;
        match &*self.lock() {
            State::Sealed { shares } => {
                SealStatus { sealed: true, threshold, progress: u8::try_from(shares.len()).unwrap_or(u8::MAX) }
            }
            State::Unsealed(_) => SealStatus { sealed: false, threshold, progress: 0 },
        }
    }

    fn submit_unseal_share(&self, share: &str) -> Result<SealStatus, CryptoError> {
        let bytes = Zeroizing::new(B64.decode(share.trim()).map_err(|_| CryptoError::InvalidShare)?);
        let share = Share::try_from(bytes.as_slice()).map_err(|_| CryptoError::InvalidShare)?;
        if share.y.len() != 32 {
            return Err(CryptoError::InvalidShare);
        }
        let threshold = self.ring.threshold;
        let mut state = self.lock();
        let State::Sealed { shares } = &mut *state else {
            return Err(CryptoError::AlreadyUnsealed);
        };
        if shares.iter().any(|s| s.x == share.x) {
            return Err(CryptoError::DuplicateShare);
        }
        shares.push(share);
        if shares.len() < usize::from(threshold) {
            let progress = u8::try_from(shares.len()).unwrap_or(u8::MAX);
            return Ok(SealStatus { sealed: true, threshold, progress });
        }
        let dealer = Sharks(threshold);
        let opened = match dealer.recover(shares.iter()) {
            Ok(key) => self.ring.open(&Zeroizing::new(key)),
            Err(_) => Err(CryptoError::WrongShares),
        };
        match opened {
            Ok(keys) => {
                *state = State::Unsealed(keys);
                Ok(SealStatus { sealed: false, threshold, progress: 0 })
            }
            Err(e) => {
                *state = State::Sealed { shares: Vec::new() };
                Err(e)
            }
        }
    }

    fn seal(&self) {
        *self.lock() = State::Sealed { shares: Vec::new() };
    }

    fn supports_key_overrides(&self) -> bool {
        false
    }

    async fn generate_data_key(
        &self,
        key_override: Option<&str>,
        ctx: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), CryptoError> {
        if key_override.is_some() {
            return Err(CryptoError::OverridesUnsupported);
        }
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut *key);
        let blob = match &*self.lock() {
            State::Unsealed(master) => seal_with(master.for_half(ctx.key_half()), &ctx.aad(WRAP_PURPOSE), &*key)?,
            State::Sealed { .. } => return Err(CryptoError::Sealed),
        };
        Ok((DataKey::from_bytes(key), WrappedKey { key_id: Self::key_id(ctx.key_half()), blob }))
    }

    async fn unwrap_data_key(&self, wrapped: &WrappedKey, ctx: &EncryptionContext) -> Result<DataKey, CryptoError> {
        if wrapped.key_id != Self::key_id(ctx.key_half()) {
            return Err(CryptoError::Decrypt);
        }
        let plain = match &*self.lock() {
            State::Unsealed(master) => {
                open_with(master.for_half(ctx.key_half()), &ctx.aad(WRAP_PURPOSE), &wrapped.blob)?
            }
            State::Sealed { .. } => return Err(CryptoError::Sealed),
        };
        DataKey::from_slice(&plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(half: Half, version: u32) -> EncryptionContext {
        EncryptionContext::new("123456789012".parse().unwrap(), half, version)
    }

    #[tokio::test]
    async fn any_threshold_shares_unseal_and_keys_stay_per_half() {
        let (ring, shares) = SealedKeyring::create(5, 3).unwrap();
        let provider = LocalKeyProvider::sealed(ring);
        assert!(matches!(provider.generate_data_key(None, &ctx(Half::Mfa, 1)).await, Err(CryptoError::Sealed)));
        assert_eq!(provider.submit_unseal_share(shares[4].expose()).unwrap().progress, 1);
        assert!(matches!(provider.submit_unseal_share(shares[4].expose()), Err(CryptoError::DuplicateShare)));
        provider.submit_unseal_share(shares[0].expose()).unwrap();
        assert!(!provider.submit_unseal_share(shares[2].expose()).unwrap().sealed);

        let (key, wrapped) = provider.generate_data_key(None, &ctx(Half::Mfa, 1)).await.unwrap();
        let again = provider.unwrap_data_key(&wrapped, &ctx(Half::Mfa, 1)).await.unwrap();
        assert_eq!(key.expose(), again.expose());
        assert!(provider.unwrap_data_key(&wrapped, &ctx(Half::Mfa, 2)).await.is_err());
        let as_password = WrappedKey { key_id: "local:password".into(), ..wrapped };
        assert!(provider.unwrap_data_key(&as_password, &ctx(Half::Password, 1)).await.is_err());
    }

    #[test]
    fn shares_of_another_ring_do_not_unseal_and_reset_progress() {
        let (ring, _) = SealedKeyring::create(3, 2).unwrap();
        let (_, foreign) = SealedKeyring::create(3, 2).unwrap();
        let provider = LocalKeyProvider::sealed(ring);
        provider.submit_unseal_share(foreign[0].expose()).unwrap();
        assert!(matches!(provider.submit_unseal_share(foreign[1].expose()), Err(CryptoError::WrongShares)));
        assert_eq!(provider.seal_status(), SealStatus { sealed: true, threshold: 2, progress: 0 });
        assert!(matches!(provider.submit_unseal_share("not base64!"), Err(CryptoError::InvalidShare)));
        assert!(matches!(provider.submit_unseal_share("AQID"), Err(CryptoError::InvalidShare)));
    }
}
