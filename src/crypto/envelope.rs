//! AES-256-GCM sealing of half payloads under a data key.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use zeroize::Zeroizing;

use super::{CryptoError, DataKey, EncryptionContext};

const NONCE_LEN: usize = 12;
const PURPOSE: &str = "half-payload";

/// Encrypt `plaintext` for the row named by `ctx`. Output: nonce ‖ ciphertext.
pub fn seal(key: &DataKey, ctx: &EncryptionContext, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    seal_with(key.expose(), &ctx.aad(PURPOSE), plaintext)
}

/// Decrypt what [`seal`] produced; fails when the key or the context differ.
pub fn open(key: &DataKey, ctx: &EncryptionContext, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    open_with(key.expose(), &ctx.aad(PURPOSE), sealed)
}

/// AES-256-GCM with a random nonce and the given associated data.
pub(crate) fn seal_with(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let ciphertext = cipher
        .encrypt(&nonce, Payload { msg: plaintext, aad })
        .map_err(|_| CryptoError::Provider("encryption failed".into()))?;
    let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

pub(crate) fn open_with(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < NONCE_LEN {
        return Err(CryptoError::Decrypt);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::Half;

    fn ctx(account: &str, half: Half, version: u32) -> EncryptionContext {
        EncryptionContext::new(account.parse().unwrap(), half, version)
    }

    fn key() -> DataKey {
        DataKey::from_bytes(Zeroizing::new([7u8; 32]))
    }

    #[test]
    fn a_payload_opens_only_in_its_own_context() {
        let sealed = seal(&key(), &ctx("111111111111", Half::Password, 1), b"hunter2").unwrap();
        assert_eq!(&**open(&key(), &ctx("111111111111", Half::Password, 1), &sealed).unwrap(), b"hunter2");
        for other in [
            ctx("222222222222", Half::Password, 1),
            ctx("111111111111", Half::Mfa, 1),
            ctx("111111111111", Half::Password, 2),
        ] {
            assert!(matches!(open(&key(), &other, &sealed), Err(CryptoError::Decrypt)));
        }
    }

    #[test]
    fn truncated_or_flipped_ciphertexts_fail() {
        let c = ctx("111111111111", Half::Mfa, 3);
        let mut sealed = seal(&key(), &c, b"seed").unwrap();
        assert!(open(&key(), &c, &sealed[..5]).is_err());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(open(&key(), &c, &sealed).is_err());
    }
}
